"""An encoder exported as `BertForMaskedLM` gives transformers' logits; a local BERT folder imports as an encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from sample_text import sentences  # tests/ is on sys.path

from playground.core import huggingface as hf
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.huggingface import BERT, format_for
from playground.core.masking import encoder_tokens
from playground.core.model import GPT
from playground.core.progress import UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.training import TrainConfig

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ("the cat sat on the [MASK] .", "a small dog slept all day", "then it ran to the red house where the dog sat")


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> LoadedTokenizer:
    spec = spec_for_kind("wordpiece", vocab_size=120)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(200)), spec)), spec=spec)


def make_run(folder: Path, config: ModelConfig, tokenizer: LoadedTokenizer) -> GPT:
    """A run folder holding an encoder whose every weight (norms and biases too) is random."""
    torch.manual_seed(0)
    model = GPT.from_config(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 5, "val_loss": 3.0})
    return model


@pytest.fixture(scope="module")
def run(tokenizer, tmp_path_factory) -> tuple[Path, GPT]:
    folder = tmp_path_factory.mktemp("runs") / "encoder"
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=2, n_head=4, n_embd=32)
    return folder, make_run(folder, config, tokenizer)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory) -> Path:
    return run_quietly(hf.export_checkpoint(run[0], tmp_path_factory.mktemp("hf") / "bert"))


def test_an_encoder_exports_as_bert_for_masked_lm(exported, run):
    config = json.loads((exported / "config.json").read_text())
    assert config["architectures"] == ["BertForMaskedLM"] and config["model_type"] == "bert"
    assert (config["hidden_act"], config["type_vocab_size"], config["layer_norm_eps"]) == ("gelu", 2, 1e-12)
    assert not (exported / "generation_config.json").exists()
    special = json.loads((exported / "special_tokens_map.json").read_text())
    assert {special[k] for k in ("mask_token", "cls_token", "sep_token", "pad_token", "unk_token")} == {
        "[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]",
    }  # fmt: skip
    assert "fill-mask" in (exported / "README.md").read_text()
    tensors = load_file(exported / "model.safetensors")
    assert "cls.predictions.bias" in tensors and "cls.predictions.decoder.weight" not in tensors  # tied
    assert "bert.encoder.layer.1.attention.self.key.weight" in tensors


def test_transformers_gives_the_same_logits(exported, run, tokenizer):
    _, model = run
    hf_model = transformers.AutoModelForMaskedLM.from_pretrained(exported, local_files_only=True).eval()
    assert type(hf_model).__name__ == "BertForMaskedLM"
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(exported, local_files_only=True)
    tokens = encoder_tokens(tokenizer)
    for text in TEXTS:
        ids = tokens.wrap(tokenizer.encode_ids([text])[0])
        # The exported tokenizer wraps a text in [CLS] ... [SEP] as training did.
        assert hf_tokenizer(text)["input_ids"] == ids
        x = torch.tensor([ids])
        with torch.no_grad():
            theirs = hf_model(input_ids=x).logits
        assert (model(x).logits - theirs).abs().max() < 1e-4
    # Padding: a batch of two texts of different lengths, with transformers' attention mask.
    batch = hf_tokenizer(list(TEXTS[:2]), padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = hf_model(**batch).logits
    ours = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    real = batch["attention_mask"].bool()
    assert (ours[real] - theirs[real]).abs().max() < 1e-4


def test_the_exported_tokenizer_opens_here_as_a_foreign_bert_tokenizer(exported, tokenizer):
    from playground.core.tokenization import missing_encoder_tokens, open_tokenizer

    foreign = open_tokenizer(exported / "tokenizer.json")
    assert missing_encoder_tokens(foreign) == []
    text = "the cat sat on the mat"
    assert foreign.encode_ids([text]) == tokenizer.encode_ids([text])  # the app adds [CLS] and [SEP] itself
    assert encoder_tokens(foreign) == encoder_tokens(tokenizer)


def test_import_round_trips(exported, run, tmp_path):
    _, model = run
    out = run_quietly(hf.import_hf(exported, tmp_path / "imported"))
    checkpoint, imported = load_checkpoint(out)
    assert checkpoint.model_config.is_encoder and checkpoint.model_config == model.config.replace(dropout=0.0)
    for (name, a), (_, b) in zip(model.state_dict().items(), imported.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_bert_saved_by_transformers_imports_as_an_encoder(exported, run, tmp_path):
    """transformers' own save (older checkpoints: LayerNorm gamma/beta, a pooler, the position ids) imports."""
    _, model = run
    hf_model = transformers.AutoModelForMaskedLM.from_pretrained(exported, local_files_only=True)
    folder = tmp_path / "saved"
    hf_model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_text((exported / "tokenizer.json").read_text())
    tensors = load_file(folder / "model.safetensors")
    renamed = {
        name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): t
        for name, t in tensors.items()
    }
    renamed["bert.pooler.dense.weight"] = torch.zeros(32, 32)
    renamed["bert.embeddings.position_ids"] = torch.arange(32)[None]
    save_file(renamed, folder / "model.safetensors")
    out = run_quietly(hf.import_hf(folder, tmp_path / "imported"))
    _, imported = load_checkpoint(out)
    x = torch.tensor([[2, 10, 20, 30, 3]])
    torch.testing.assert_close(imported(x).logits, model(x).logits)


def test_an_encoder_bert_cannot_hold_is_named(tokenizer, tmp_path):
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_embd=16)
    assert format_for(config) is BERT
    with pytest.raises(UserError, match="BertForMaskedLM.*has no place for RMSNorm"):
        format_for(config.replace(norm="rmsnorm"))
    # A decoder never goes to BERT, nor an encoder to GPT-2.
    assert format_for(config.replace(family="decoder")).model_type == "gpt2"
