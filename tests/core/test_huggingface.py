"""Our models in Hugging Face `transformers` and back keep their logits: in memory (GPT-2), and through
exported and imported folders (GPT-2 and LLaMA), tokenizer included.

Tests of the files themselves and of every refusal, which need no `transformers`, are in test_exchange.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from playground.core import huggingface as hf
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.huggingface import (
    LAYER_NORM_EPSILON,
    gpt2_config,
    gpt2_differences,
    gpt2_state_dict,
    to_transformers_gpt2,
)
from playground.core.model import GPT
from playground.core.progress import UserError, run_quietly
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.tokenization import open_tokenizer
from playground.core.training import TrainConfig

transformers = pytest.importorskip("transformers")

VOCAB = 97
SIZES = dict(vocab_size=VOCAB, context_length=32, n_layer=2, n_head=4, n_embd=32)


def export_checkpoint(*args, **kwargs) -> Path:
    """The export job run to its end, as the command line does without its bar."""
    return run_quietly(hf.export_checkpoint(*args, **kwargs))


def import_noting(folder: Path, out: Path, notes: list[str]) -> Path:
    """The import job run to its end, its notes (near misses) collected."""
    return run_quietly(hf.import_hf(folder, out), on_partial=lambda note: notes.append(note.text))


def random_model(**overrides) -> GPT:
    """A tiny GPT-2 style model with every weight random, biases and norms included,
    so that a bias or norm put in the wrong place changes the logits."""
    torch.manual_seed(0)
    model = GPT.from_config(ModelConfig.gpt2_style(**SIZES, **overrides)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    return model


def random_ids(batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


CASES = {
    "tied": {},
    "untied, other MLP width": dict(tie_weights=False, mlp_hidden=48),
}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_converted_model_gives_the_same_logits(overrides, one_thread):
    model = random_model(**overrides)
    hf_model = to_transformers_gpt2(model)
    assert isinstance(hf_model, transformers.GPT2LMHeadModel) and not hf_model.training
    assert (hf_model.lm_head.weight is hf_model.transformer.wte.weight) == model.config.tie_weights
    ids = random_ids(3, SIZES["context_length"])
    with torch.no_grad():
        ours = model(ids).logits
        theirs = hf_model(ids).logits
    assert theirs.shape == ours.shape == (3, SIZES["context_length"], VOCAB)
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=0)


def test_greedy_generation_matches_transformers(one_thread):
    model = random_model()
    hf_model = to_transformers_gpt2(model)
    prompt = [5, 17, 42]
    settings = SamplingSettings(strategy="greedy", max_new_tokens=20, stop_at_end=False)
    ours = [t.id for t in generate_tokens(model, prompt, settings)]
    with torch.no_grad():
        out = hf_model.generate(
            torch.tensor([prompt]),
            max_new_tokens=20,
            min_new_tokens=20,
            do_sample=False,
            use_cache=True,
            pad_token_id=0,
        )
    assert out[0, len(prompt) :].tolist() == ours


def test_config_and_weights_layout():
    model = random_model(tie_weights=False, mlp_hidden=48)
    config = gpt2_config(model.config, eos_token_id=3)
    assert (config.n_positions, config.n_embd, config.n_layer, config.n_head, config.n_inner) == (32, 32, 2, 4, 48)
    assert config.activation_function == "gelu_new" and config.tie_word_embeddings is False
    assert config.eos_token_id == 3 and config.bos_token_id is None
    assert config.resid_pdrop == config.embd_pdrop == config.attn_pdrop == 0.0
    assert model.final_norm.eps == LAYER_NORM_EPSILON

    tensors = gpt2_state_dict(model)
    expected = transformers.GPT2LMHeadModel(config).state_dict()
    assert {k: tuple(v.shape) for k, v in tensors.items()} == {k: tuple(v.shape) for k, v in expected.items()}
    # Conv1D stores [in, out]: our [out, in] matrices arrive transposed.
    assert torch.equal(tensors["transformer.h.0.mlp.c_fc.weight"], model.blocks[0].mlp.up.weight.t())

    tied = gpt2_state_dict(random_model())
    assert tied["lm_head.weight"] is tied["transformer.wte.weight"]


def test_a_llama_style_model_is_refused_with_its_features_named():
    model = GPT.from_config(ModelConfig.llama_style(**SIZES))
    with pytest.raises(UserError) as raised:
        to_transformers_gpt2(model)
    message = str(raised.value)
    for feature in ("RoPE", "RMSNorm", "SwiGLU", "no biases", "LLaMA"):
        assert feature in message


@pytest.mark.parametrize(
    "change, feature",
    [
        (dict(positions="rope"), "RoPE"),
        (dict(norm="rmsnorm"), "RMSNorm"),
        (dict(mlp="swiglu"), "SwiGLU"),
        (dict(bias=False), "no biases"),
    ],
)
def test_each_feature_gpt2_lacks_is_named_alone(change, feature):
    config = ModelConfig.gpt2_style(**SIZES, **change)
    differences = gpt2_differences(config)
    assert len(differences) == 1 and feature in differences[0]
    with pytest.raises(UserError, match=feature):
        gpt2_config(config)
    assert gpt2_differences(ModelConfig.gpt2_style(**SIZES, tie_weights=False)) == []


def test_without_transformers_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(UserError, match="pip install transformers"):
        to_transformers_gpt2(random_model())


# -- exported folders and imported ones --------------------------------------------------

DEMO_TOKENIZER = Path(__file__).resolve().parents[2] / "models" / "demo" / "tokenizer.json"  # 2,000 tokens
FOLDER_SIZES = dict(vocab_size=2000, context_length=24, n_layer=2, n_head=4, n_embd=32)


def randomise(model: torch.nn.Module) -> torch.nn.Module:
    """Every weight random, norms and biases too, so that one put in the wrong place changes the logits."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    return model.eval()


def from_pretrained(folder: Path):
    return transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()


def folder_ids() -> torch.Tensor:
    return torch.randint(
        0, FOLDER_SIZES["vocab_size"], (2, FOLDER_SIZES["context_length"]), generator=torch.Generator().manual_seed(2)
    )


EXPORTS = {
    "gpt2 tied": ModelConfig.gpt2_style(**FOLDER_SIZES),
    "gpt2 untied": ModelConfig.gpt2_style(**FOLDER_SIZES, tie_weights=False),
    "llama untied": ModelConfig.llama_style(**FOLDER_SIZES),
    "llama tied": ModelConfig.llama_style(**FOLDER_SIZES, tie_weights=True, mlp_hidden=48),
}


@pytest.mark.parametrize("config", EXPORTS.values(), ids=EXPORTS.keys())
def test_an_exported_folder_loads_in_transformers_with_the_same_logits(config, tmp_path, one_thread):
    model = randomise(GPT.from_config(config))
    tokenizer = open_tokenizer(DEMO_TOKENIZER)
    write_run_files(tmp_path / "run", config, TrainConfig(), tokenizer)
    save_checkpoint(tmp_path / "run", "best", model, {}, {"step": 3, "val_loss": 5.0})
    folder = export_checkpoint(tmp_path / "run", tmp_path / "hf")

    hf_model = from_pretrained(folder)
    expected_class = transformers.GPT2LMHeadModel if config.flavour == "gpt2" else transformers.LlamaForCausalLM
    assert type(hf_model) is expected_class
    assert hf_model.config.tie_word_embeddings == config.tie_weights
    ids = folder_ids()
    with torch.no_grad():
        torch.testing.assert_close(hf_model(ids).logits, model(ids).logits, atol=1e-4, rtol=0)

    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    for text in ("Return the value of x.", "café 🙂 <|endoftext|> naïve\n  two  spaces"):
        assert hf_tokenizer(text).input_ids == tokenizer.tokenizer.encode(text).ids
    assert hf_tokenizer.eos_token == "<|endoftext|>" and hf_tokenizer.eos_token_id == 0


IMPORTS = {
    "gpt2": lambda: transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=2000, n_positions=24, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0
        )
    ),
    "gpt2 untied, gelu_pytorch_tanh": lambda: transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=2000,
            n_positions=24,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_inner=48,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=False,
            activation_function="gelu_pytorch_tanh",
        )
    ),
    "llama": lambda: transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=2000,
            max_position_embeddings=24,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            rms_norm_eps=1e-5,
            bos_token_id=0,
            eos_token_id=0,
        )
    ),
    "llama tied": lambda: transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=2000,
            max_position_embeddings=24,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            rms_norm_eps=1e-5,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=True,
        )
    ),
}


@pytest.mark.parametrize("sharded", [False, True], ids=["one file", "sharded"])
@pytest.mark.parametrize("make", IMPORTS.values(), ids=IMPORTS.keys())
def test_a_model_made_by_transformers_imports_with_the_same_logits(make, sharded, tmp_path, one_thread):
    hf_model = randomise(make())
    source = tmp_path / "hf"
    hf_model.save_pretrained(source, safe_serialization=True, **({"max_shard_size": "40KB"} if sharded else {}))
    shutil.copyfile(DEMO_TOKENIZER, source / "tokenizer.json")
    assert (source / "model.safetensors.index.json").is_file() == sharded

    warnings: list[str] = []
    checkpoint, model = load_checkpoint(import_noting(source, tmp_path / "run", warnings))
    assert warnings == []
    assert checkpoint.model_config.tie_weights == hf_model.config.tie_word_embeddings
    assert checkpoint.step == 0 and "imported from" in checkpoint.meta["note"]
    ids = folder_ids()
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, hf_model(ids).logits, atol=1e-4, rtol=0)


def test_a_llama_with_another_norm_epsilon_imports_with_a_warning(tmp_path, one_thread):
    hf_model = randomise(IMPORTS["llama"]())
    hf_model.config.rms_norm_eps = 1e-6  # transformers' default; ours is 1e-5
    hf_model.save_pretrained(tmp_path / "hf", safe_serialization=True)
    shutil.copyfile(DEMO_TOKENIZER, tmp_path / "hf" / "tokenizer.json")
    warnings: list[str] = []
    _, model = load_checkpoint(import_noting(tmp_path / "hf", tmp_path / "run", warnings))
    assert len(warnings) == 1 and "rms_norm_eps is 1e-06" in warnings[0]
    ids = folder_ids()
    with torch.no_grad():  # random weights of 0.1 make large vectors, where epsilon hardly matters
        torch.testing.assert_close(model(ids).logits, hf_model(ids).logits, atol=1e-3, rtol=0)
