"""An encoder-decoder exported as `T5ForConditionalGeneration` gives transformers' logits and greedy output;
a local T5 folder made by transformers imports with the same logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import wordpiece_tokenizer

from playground.core import huggingface as hf
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.progress import run_quietly
from playground.core.t5_model import T5, greedy_decode, relative_position_bucket, shift_right
from playground.core.train_config import TrainConfig

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

SIZES = dict(context_length=24, n_layer=2, n_head=4, n_embd=32, relative_buckets=8, relative_max_distance=20)


@pytest.fixture(scope="module")
def tokenizer():
    return wordpiece_tokenizer(sentences(100), vocab_size=80)


def make_run(folder: Path, config: ModelConfig, tokenizer) -> T5:
    torch.manual_seed(0)
    model = T5(config).eval()
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 5, "val_loss": 3.0})
    return model


def inputs(vocab: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three inputs of 10 ids (the last two padded), their mask, and decoder inputs of 6 ids from the pad id (0)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 10), generator=g)
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    labels = torch.randint(5, vocab, (3, 6), generator=g)
    return ids, mask, shift_right(labels, 0)


def hf_model(folder: Path):
    transformers.logging.set_verbosity_error()
    return transformers.T5ForConditionalGeneration.from_pretrained(folder, local_files_only=True).eval()


@pytest.fixture(scope="module", params=[dict(), dict(n_decoder_layer=3, tie_weights=False)], ids=["tied", "untied"])
def exported(request, tokenizer, tmp_path_factory):
    config = ModelConfig.t5_style(vocab_size=tokenizer.vocab_size, **SIZES, **request.param)
    run = tmp_path_factory.mktemp("runs") / "t5"
    model = make_run(run, config, tokenizer)
    return model, run_quietly(hf.export_checkpoint(run, tmp_path_factory.mktemp("hf") / "t5"))


def test_the_export_is_a_t5_folder(exported, tokenizer):
    model, folder = exported
    config = json.loads((folder / "config.json").read_text())
    pad = tokenizer.tokenizer.token_to_id("[PAD]")
    assert config["architectures"] == ["T5ForConditionalGeneration"] and config["model_type"] == "t5"
    assert (config["feed_forward_proj"], config["d_kv"], config["num_heads"]) == ("relu", 8, 4)
    assert config["num_layers"] == 2 and config["num_decoder_layers"] == model.config.decoder_layers
    assert (config["relative_attention_num_buckets"], config["relative_attention_max_distance"]) == (8, 20)
    assert config["decoder_start_token_id"] == config["pad_token_id"] == pad
    assert config["tie_word_embeddings"] is model.config.tie_weights
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["decoder_start_token_id"] == pad
    tensors = load_file(folder / "model.safetensors")
    assert "shared.weight" in tensors and ("lm_head.weight" in tensors) is not model.config.tie_weights
    assert "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in tensors
    assert "decoder.block.1.layer.1.EncDecAttention.k.weight" in tensors
    assert "AutoModelForSeq2SeqLM" in (folder / "README.md").read_text()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert hf_tokenizer.pad_token_id == pad
    assert (
        hf_tokenizer("the cat sat", add_special_tokens=False)["input_ids"] == tokenizer.encode_ids(["the cat sat"])[0]
    )


def test_transformers_gives_the_same_logits(exported):
    model, folder = exported
    theirs_model = hf_model(folder)
    ids, mask, decoder_ids = inputs(model.config.vocab_size)
    with torch.no_grad():
        theirs = theirs_model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        ours = model(ids, decoder_ids, attention_mask=mask).logits
    assert (ours - theirs).abs().max() < 1e-4


def trained_to_copy(model: T5, start_id: int, steps: int = 150) -> T5:
    """`model` after a few steps of learning to copy its input: a random T5 writes one token over and over."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        x = torch.randint(5, model.config.vocab_size, (16, 8), generator=g)
        loss = model(x, shift_right(x, start_id), labels=x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_transformers_writes_the_same_greedy_output(tokenizer, tmp_path):
    """Three inputs, each alone, the same tokens as `generate` (equal depths: transformers 5's cache
    cannot hold a decoder deeper than its encoder)."""
    config = ModelConfig.t5_style(vocab_size=tokenizer.vocab_size, **SIZES)
    pad = tokenizer.tokenizer.token_to_id("[PAD]")  # the decoder's start
    torch.manual_seed(0)
    model = trained_to_copy(T5(config), pad)
    write_run_files(tmp_path / "run", config, TrainConfig(), tokenizer)
    save_checkpoint(tmp_path / "run", "best", model, {}, {"step": 150})
    theirs_model = hf_model(run_quietly(hf.export_checkpoint(tmp_path / "run", tmp_path / "hf")))
    ids, _, _ = inputs(config.vocab_size, seed=3)
    outputs = set()
    for row in ids:
        ours = greedy_decode(model, row[None], start_id=pad, max_new_tokens=8)
        theirs = theirs_model.generate(row[None], max_new_tokens=8, min_new_tokens=8, do_sample=False, num_beams=1)
        assert theirs[0, 0] == pad and ours[0].tolist() == theirs[0, 1:].tolist()
        outputs.add(tuple(ours[0].tolist()))
    assert len(outputs) == 3 and all(len(set(o)) > 1 for o in outputs)  # not one token over and over


def transformers_t5_folder(folder: Path, tokenizer, **config) -> Path:
    """A random T5 made and saved by transformers itself, with our tokenizer beside it."""
    torch.manual_seed(1)
    sizes = dict(
        vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=20, feed_forward_proj="relu",
        dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0,
    )  # fmt: skip
    hf_config = transformers.T5Config(**{**sizes, **config})
    transformers.T5ForConditionalGeneration(hf_config).save_pretrained(folder)
    tokenizer.tokenizer.save(str(folder / "tokenizer.json"))
    return folder


@pytest.mark.parametrize("decoder_layers", [2, 1])
def test_a_t5_made_by_transformers_imports_with_the_same_logits(tokenizer, tmp_path, decoder_layers):
    folder = transformers_t5_folder(tmp_path / "hf", tokenizer, num_decoder_layers=decoder_layers)
    notes = []
    out = run_quietly(hf.import_hf(folder, tmp_path / "run"), on_partial=notes.append)
    assert any("512" in note.text for note in notes)  # transformers writes no input length
    checkpoint, model = load_checkpoint(out)
    assert isinstance(model, T5) and checkpoint.model_config.decoder_layers == decoder_layers
    assert checkpoint.model_config.flavour == "t5" and checkpoint.model_config.context_length == 512
    ids, mask, decoder_ids = inputs(tokenizer.vocab_size)
    with torch.no_grad():
        theirs = hf_model(folder)(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        ours = model(ids, decoder_ids, attention_mask=mask).logits
    assert (ours - theirs).abs().max() < 1e-4


def test_the_window_imports_and_opens_one(exported, tmp_path, monkeypatch):
    """Import and Open in the window take an encoder-decoder: every step shows one (Evaluate says where it is
    scored)."""
    import playground.core.checkpoints as checkpoints
    from playground.core.loading import load_model
    from playground.core.t5_model import T5

    model, folder = exported
    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    imported = run_quietly(hf.import_as_new_run(folder))
    assert isinstance(imported.model, T5) and imported.run_dir.parent == tmp_path / "runs"
    run = run_quietly(hf.import_hf(folder, tmp_path / "run"))
    _, opened = run_quietly(load_model(run, device="cpu"))
    assert isinstance(opened, T5) and opened.config == model.config.replace(dropout=0.0)


def test_our_export_imports_back_unchanged(exported, tmp_path):
    model, folder = exported
    _, imported = load_checkpoint(run_quietly(hf.import_hf(folder, tmp_path / "back")))
    assert imported.config == model.config.replace(dropout=0.0)
    for (name, a), (_, b) in zip(model.state_dict().items(), imported.state_dict().items()):
        assert torch.equal(a, b), name


def test_t5_v1_1_and_pickles_are_refused_with_a_sentence(tokenizer, tmp_path):
    folder = transformers_t5_folder(tmp_path / "v11", tokenizer, feed_forward_proj="gated-gelu")
    with pytest.raises(hf.ConversionError, match=r"T5 v1\.1, Flan-T5 .* gate the MLP"):
        run_quietly(hf.import_hf(folder, tmp_path / "run"))
    pickled = transformers_t5_folder(tmp_path / "pickled", tokenizer)
    tensors = load_file(pickled / "model.safetensors")
    (pickled / "model.safetensors").unlink()
    torch.save(tensors, pickled / "pytorch_model.bin")
    with pytest.raises(hf.ConversionError, match="pickle: REFUSED"):
        run_quietly(hf.import_hf(pickled, tmp_path / "run"))
    # Weights that do not fit config.json are named.
    broken = transformers_t5_folder(tmp_path / "broken", tokenizer)
    tensors = load_file(broken / "model.safetensors")
    del tensors["decoder.block.1.layer.1.EncDecAttention.v.weight"]
    save_file(tensors, broken / "model.safetensors")
    with pytest.raises(hf.ConversionError, match="EncDecAttention.v.weight"):
        run_quietly(hf.import_hf(broken, tmp_path / "run"))


def test_relative_buckets_are_t5s():
    from transformers.models.t5.modeling_t5 import T5Attention

    distance = torch.arange(-300, 301)[None, :] - torch.arange(0, 5)[:, None]
    for bidirectional in (True, False):
        for buckets, far in ((32, 128), (8, 20), (6, 7)):
            theirs = T5Attention._relative_position_bucket(distance, bidirectional, buckets, far)
            assert torch.equal(relative_position_bucket(distance, bidirectional, buckets, far), theirs)
