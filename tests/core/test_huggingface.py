"""Converting our GPT-2 style model to Hugging Face's GPT2LMHeadModel keeps its logits."""

from __future__ import annotations

import sys

import pytest
import torch

from playground.core.config import ModelConfig
from playground.core.huggingface import (
    LAYER_NORM_EPSILON,
    gpt2_config,
    gpt2_differences,
    gpt2_state_dict,
    to_transformers_gpt2,
)
from playground.core.model import GPT
from playground.core.progress import UserError
from playground.core.sampling import SamplingSettings, generate_tokens

transformers = pytest.importorskip("transformers")

VOCAB = 97
SIZES = dict(vocab_size=VOCAB, context_length=32, n_layer=2, n_head=4, n_embd=32)


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
        out = hf_model.generate(torch.tensor([prompt]), max_new_tokens=20, min_new_tokens=20, do_sample=False,
                                use_cache=True, pad_token_id=0)
    assert out[0, len(prompt):].tolist() == ours


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


@pytest.mark.parametrize("change, feature", [
    (dict(positions="rope"), "RoPE"),
    (dict(norm="rmsnorm"), "RMSNorm"),
    (dict(mlp="swiglu"), "SwiGLU"),
    (dict(bias=False), "no biases"),
])
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
