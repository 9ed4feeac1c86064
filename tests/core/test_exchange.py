"""Export to and import from Hugging Face folders, without `transformers`: files, round trips, refusals.

The tests that load the files with `transformers` itself are in test_huggingface.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from playground.cli import main
from playground.core import huggingface as hf
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.huggingface import GPT2, LLAMA, format_for
from playground.core.model import GPT
from playground.core.progress import UserError, run_quietly
from playground.core.tokenization import open_tokenizer
from playground.core.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "models" / "demo" / "tokenizer.json"  # byte-level BPE, 2,000 tokens, <|endoftext|> = 0
SIZES = dict(vocab_size=2000, context_length=16, n_layer=2, n_head=4, n_embd=32)


def export_checkpoint(*args, **kwargs) -> Path:
    """The export job run to its end, as the command line does without its bar."""
    return run_quietly(hf.export_checkpoint(*args, **kwargs))


def import_hf(*args, **kwargs) -> Path:
    return run_quietly(hf.import_hf(*args, **kwargs))


def import_noting(folder: Path, out: Path, notes: list[str]) -> Path:
    """The import job run to its end, its notes (near misses) collected."""
    return run_quietly(hf.import_hf(folder, out), on_partial=lambda note: notes.append(note.text))


def make_run(folder: Path, config: ModelConfig, step: int = 7, val_loss: float = 3.25) -> GPT:
    """A run folder holding a model whose every weight (norms and biases too) is random."""
    torch.manual_seed(0)
    model = GPT.from_config(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    write_run_files(folder, config, TrainConfig(), open_tokenizer(TOKENIZER))
    save_checkpoint(folder, "best", model, {}, {"step": step, "val_loss": val_loss})
    return model


def style(flavour: str, **overrides) -> ModelConfig:
    make = ModelConfig.gpt2_style if flavour == "gpt2" else ModelConfig.llama_style
    return make(**SIZES, **overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, GPT]]:
    base = tmp_path_factory.mktemp("runs")
    cases = {"gpt2": style("gpt2"), "llama": style("llama")}
    return {name: (base / name, make_run(base / name, config)) for name, config in cases.items()}


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("hf")
    return {name: export_checkpoint(run, base / name) for name, (run, _) in runs.items()}


def hf_copy(exported: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported[name], tmp_path / f"{name}-copy"))


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# -- export ---------------------------------------------------------------------------


def test_export_writes_every_file(exported, runs):
    for name, folder in exported.items():
        assert sorted(p.name for p in folder.iterdir()) == [
            "README.md",
            "config.json",
            "generation_config.json",
            "model.safetensors",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
        assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
        assert (folder / "tokenizer.json").read_bytes() == (runs[name][0] / "tokenizer.json").read_bytes()
        tok_config = json.loads((folder / "tokenizer_config.json").read_text())
        assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
        assert tok_config["eos_token"] == tok_config["bos_token"] == "<|endoftext|>"
        assert tok_config["added_tokens_decoder"]["0"]["content"] == "<|endoftext|>"
        assert json.loads((folder / "special_tokens_map.json").read_text())["eos_token"] == "<|endoftext|>"
        generation = json.loads((folder / "generation_config.json").read_text())
        assert generation["eos_token_id"] == generation["pad_token_id"] == 0
        card = (folder / "README.md").read_text()
        for words in ("LLM Playground", "Corpus", "| Training steps | 7 |", "3.2500", name):
            assert words in card


def test_exported_gpt2_config_and_tensors(exported, runs):
    folder, model = exported["gpt2"], runs["gpt2"][1]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"] and config["model_type"] == "gpt2"
    assert (config["n_positions"], config["n_embd"], config["n_layer"], config["n_head"], config["n_inner"]) == (
        16,
        32,
        2,
        4,
        128,
    )
    assert config["vocab_size"] == 2000 and config["tie_word_embeddings"] is True
    assert config["activation_function"] == "gelu_new" and config["layer_norm_epsilon"] == 1e-5
    assert config["bos_token_id"] == config["eos_token_id"] == 0 and config["torch_dtype"] == "float32"
    tensors = load_file(folder / "model.safetensors")
    assert "lm_head.weight" not in tensors  # tied: transformers takes the embedding
    assert len(tensors) == 4 + 12 * 2
    # Conv1D stores [in, out]: our nn.Linear's [out, in] arrives transposed.
    assert torch.equal(tensors["transformer.h.1.attn.c_attn.weight"], model.blocks[1].attn.qkv.weight.t())
    assert torch.equal(tensors["transformer.wpe.weight"], model.position_embedding.weight)


def test_exported_llama_config_and_tensors(exported, runs):
    folder, model = exported["llama"], runs["llama"][1]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    assert (
        config["hidden_size"],
        config["num_hidden_layers"],
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["intermediate_size"],
        config["max_position_embeddings"],
    ) == (32, 2, 4, 4, model.config.mlp_hidden_size, 16)
    assert config["rms_norm_eps"] == 1e-5 and config["rope_theta"] == 10000
    assert config["hidden_act"] == "silu" and config["tie_word_embeddings"] is False
    tensors = load_file(folder / "model.safetensors")
    assert torch.equal(tensors["lm_head.weight"], model.lm_head.weight)
    q, k, v = (tensors[f"model.layers.0.self_attn.{x}_proj.weight"] for x in "qkv")
    assert torch.equal(torch.cat([q, k, v]), model.blocks[0].attn.qkv.weight)
    assert torch.equal(tensors["model.layers.1.mlp.gate_proj.weight"], model.blocks[1].mlp.gate.weight)
    assert torch.equal(tensors["model.norm.weight"], model.final_norm.weight)
    assert len(tensors) == 3 + 9 * 2


CASES = {
    "gpt2 tied": style("gpt2"),
    "gpt2 untied": style("gpt2", tie_weights=False, mlp_hidden=48),
    "llama untied": style("llama"),
    "llama tied": style("llama", tie_weights=True, mlp_hidden=80),
}


@pytest.mark.parametrize("config", CASES.values(), ids=CASES.keys())
def test_export_then_import_gives_identical_weights(config, tmp_path, one_thread, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # neither direction needs it
    model = make_run(tmp_path / "run", config)
    back = import_hf(export_checkpoint(tmp_path / "run" / "best", tmp_path / "hf"), tmp_path / "back")
    checkpoint, loaded = load_checkpoint(back)
    assert checkpoint.model_config == config.replace(dropout=0.0)
    assert checkpoint.step == 0 and checkpoint.val_loss is None
    assert (
        checkpoint.meta["note"].startswith("imported from ")
        and str((tmp_path / "hf").resolve()) in checkpoint.meta["note"]
    )
    assert (loaded.lm_head.weight is loaded.token_embedding.weight) == config.tie_weights
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    assert open_tokenizer(back / "tokenizer.json").tokenizer.to_str() == open_tokenizer(TOKENIZER).tokenizer.to_str()


def test_a_model_is_exported_in_the_format_its_architecture_fits():
    assert format_for(style("gpt2")) is GPT2 and format_for(style("llama", tie_weights=True)) is LLAMA
    # The flavour is a label: a model built with every LLaMA choice goes to LLaMA whatever it is called.
    assert format_for(style("gpt2", positions="rope", norm="rmsnorm", mlp="swiglu", bias=False)) is LLAMA


@pytest.mark.parametrize(
    "flavour, change, named, nearest",
    [
        ("gpt2", dict(norm="rmsnorm"), ["RMSNorm", "learned positions", "a GELU MLP", "biases"], "GPT-2"),
        ("llama", dict(positions="learned"), ["learned positions", "RoPE", "RMSNorm", "SwiGLU"], "LLaMA"),
        ("llama", dict(bias=True), ["biases"], "LLaMA"),
        ("llama", dict(norm="layernorm", mlp="gelu"), ["LayerNorm", "a GELU MLP", "RoPE"], None),
    ],
)
def test_features_no_format_holds_are_named(flavour, change, named, nearest, tmp_path):
    config = style(flavour, **change)
    make_run(tmp_path / "run", config)
    with pytest.raises(UserError) as raised:
        export_checkpoint(tmp_path / "run", tmp_path / "hf")
    message = str(raised.value)
    for phrase in named + ["GPT2LMHeadModel", "LlamaForCausalLM"]:
        assert phrase in message
    if nearest:
        assert f"The nearest here is {nearest}" in message
    assert not (tmp_path / "hf").exists()


def test_export_refuses_a_non_empty_folder_unless_asked(runs, tmp_path):
    run = runs["gpt2"][0]
    out = tmp_path / "hf"
    out.mkdir()
    export_checkpoint(run, out)  # an empty folder is fine
    with pytest.raises(UserError, match="is not empty.*--overwrite"):
        export_checkpoint(run, out)
    (out / "model.safetensors").write_bytes(b"old")
    export_checkpoint(run, out, overwrite=True)
    assert load_file(out / "model.safetensors")  # the new file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]  # nothing left beside it
    with pytest.raises(UserError, match="holds the model being converted"):
        export_checkpoint(run, run, overwrite=True)
    assert (run / "best" / "model.safetensors").is_file()


def test_export_of_something_that_is_not_a_run(exported, tmp_path):
    with pytest.raises(UserError, match="already a Hugging Face folder.*playground import"):
        export_checkpoint(exported["gpt2"], tmp_path / "out")
    with pytest.raises(UserError, match="is not a checkpoint folder"):
        export_checkpoint(tmp_path, tmp_path / "out")


# -- import: what it reads ------------------------------------------------------------


def test_import_reads_sharded_weights(exported, runs, tmp_path):
    folder = hf_copy(exported, "llama", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for file, part in shards.items():
        save_file({n: tensors[n] for n in part}, folder / file, metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    _, loaded = load_checkpoint(import_hf(folder, tmp_path / "out"))
    for name, tensor in runs["llama"][1].state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name

    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="names 1 shard that .* lacks: model-00002-of-00002.safetensors"):
        import_hf(folder, tmp_path / "out2")


def test_import_reads_half_precision_and_base_model_names(exported, runs, tmp_path):
    """A GPT-2 saved from the base model (as on the Hub) has no 'transformer.' prefix and no head."""
    folder = hf_copy(exported, "gpt2", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    renamed = {n.removeprefix("transformer."): t.to(torch.bfloat16) for n, t in tensors.items()}
    renamed["h.0.attn.bias"] = torch.ones(1, 1, 16, 16)  # the causal mask older versions saved: skipped
    save_file(renamed, folder / "model.safetensors", metadata={"format": "pt"})
    _, loaded = load_checkpoint(import_hf(folder, tmp_path / "out"))
    expected = runs["gpt2"][1].token_embedding.weight.to(torch.bfloat16).float()
    assert loaded.token_embedding.weight.dtype == torch.float32
    assert torch.equal(loaded.token_embedding.weight, expected)


def test_a_near_miss_is_a_warning_not_an_error(exported, tmp_path):
    folder = hf_copy(exported, "llama", tmp_path)
    edit_json(folder / "config.json", rms_norm_eps=1e-6)
    warnings: list[str] = []
    out = import_noting(folder, tmp_path / "out", warnings)
    assert len(warnings) == 1 and "rms_norm_eps is 1e-06" in warnings[0]
    assert load_checkpoint(out)[0].meta["warnings"] == warnings


# -- import: refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "remove, named",
    [
        (["config.json"], "lacks config.json:"),
        (["tokenizer.json"], "lacks tokenizer.json:"),
        (["model.safetensors"], "lacks model.safetensors:"),
        (
            ["config.json", "tokenizer.json", "model.safetensors"],
            "lacks config.json, tokenizer.json and model.safetensors:",
        ),
    ],
)
def test_missing_files_are_named(exported, tmp_path, remove, named):
    folder = hf_copy(exported, "gpt2", tmp_path)
    for name in remove:
        (folder / name).unlink()
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    message = str(raised.value)
    assert named in message
    assert (
        "expected config.json, tokenizer.json and model.safetensors (or model.safetensors.index.json with its shards)"
        in message
    )
    assert not (tmp_path / "out").exists()


def test_a_missing_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist: expected a folder with config.json"):
        import_hf(tmp_path / "nowhere", tmp_path / "out")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "weights.pth"])
def test_a_pickle_is_refused_and_never_opened(exported, tmp_path, name):
    folder = hf_copy(exported, "gpt2", tmp_path)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pickle-ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")  # unpickling this creates `marker`

    import pickle

    (folder / name).write_bytes(pickle.dumps(Payload()))
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    message = str(raised.value)
    for words in (name, "REFUSED", "safetensors", "run any code", "save_pretrained", "safe_serialization=True"):
        assert words in message
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_run_folder_needs_no_import(runs, tmp_path):
    with pytest.raises(UserError, match="already one of this app's run folders"):
        import_hf(runs["gpt2"][0], tmp_path / "out")


def test_an_unsupported_architecture_names_the_supported_ones(exported, tmp_path):
    folder = hf_copy(exported, "gpt2", tmp_path)
    # (BERT was the example here until BertForMaskedLM became supported: RoBERTa is not.)
    edit_json(folder / "config.json", model_type="roberta", architectures=["RobertaForMaskedLM"])
    with pytest.raises(
        UserError,
        match=r"cannot import: model_type 'roberta' \(RobertaForMaskedLM\). Supported are "
        r"GPT-2 .*GPT2LMHeadModel.*, LLaMA .*LlamaForCausalLM.* and BERT .*BertForMaskedLM",
    ):
        import_hf(folder, tmp_path / "out")


def test_mismatched_shapes_name_the_tensor(exported, tmp_path):
    folder = hf_copy(exported, "gpt2", tmp_path)
    edit_json(folder / "config.json", n_inner=64)
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    message = str(raised.value)
    assert "6 tensors of the wrong shape" in message
    assert "transformer.h.0.mlp.c_fc.weight is [32, 128] where config.json needs [32, 64]" in message


def test_missing_and_unexpected_tensors_are_named(exported, tmp_path):
    folder = hf_copy(exported, "llama", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["model.layers.1.self_attn.k_proj.weight"]
    tensors["model.layers.0.self_attn.q_norm.weight"] = torch.ones(8)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    message = str(raised.value)
    assert "1 tensor missing: model.layers.1.self_attn.k_proj.weight" in message
    assert "1 tensor this LLaMA model has no place for: model.layers.0.self_attn.q_norm.weight" in message


def test_a_damaged_weights_file(exported, tmp_path):
    folder = hf_copy(exported, "gpt2", tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(UserError, match="model.safetensors is damaged"):
        import_hf(folder, tmp_path / "out")


@pytest.mark.parametrize(
    "model, changes, named",
    [
        ("llama", dict(num_key_value_heads=2), ["num_key_value_heads is 2", "grouped-query attention", "GQA"]),
        ("llama", dict(rope_theta=500000.0, rope_parameters=None), ["rope_theta is 500000", "base 10000"]),
        ("llama", dict(rope_parameters={"rope_type": "default", "rope_theta": 1e6}), ["rope_theta is 1e+06"]),
        ("llama", dict(rope_scaling={"rope_type": "linear", "factor": 2.0}), ["rope_scaling is set (linear)"]),
        (
            "llama",
            dict(rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}),
            ["rope_scaling is set (yarn)"],
        ),
        ("llama", dict(hidden_act="gelu", attention_bias=True), ["hidden_act is 'gelu'", "attention_bias is on"]),
        ("gpt2", dict(activation_function="relu"), ["activation_function is 'relu'", "gelu_new", "gelu_pytorch_tanh"]),
        ("gpt2", dict(n_head=None), ["n_head is missing"]),
    ],
)
def test_configs_the_model_cannot_reproduce_are_refused(exported, tmp_path, model, changes, named):
    folder = hf_copy(exported, model, tmp_path)
    edit_json(folder / "config.json", **changes)
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    for words in named:
        assert words in str(raised.value)


@pytest.mark.timeout(120)  # a regression would allocate instead: fail rather than swap
@pytest.mark.parametrize(
    "model, changes, named",
    [
        ("gpt2", dict(n_embd=10**9), "n_embd is 1,000,000,000 but transformer.wte.weight holds vectors of 32 numbers"),
        (
            "gpt2",
            dict(vocab_size=10**9),
            "vocab_size is 1,000,000,000 but transformer.wte.weight holds 2,000 token vectors",
        ),
        ("gpt2", dict(n_positions=10**9), "n_positions is 1,000,000,000 but transformer.wpe.weight holds [16, 32]"),
        ("gpt2", dict(n_layer=10**7), "n_layer is 10,000,000 but the weights hold 2 layers"),
        ("gpt2", dict(n_inner=10**18), "n_inner is 1,000,000,000,000,000,000, more than any side of any tensor"),
        ("llama", dict(hidden_size=10**9, head_dim=None), "hidden_size is 1,000,000,000 but model.embed_tokens.weight"),
        ("llama", dict(num_hidden_layers=10**7), "num_hidden_layers is 10,000,000 but the weights hold 2 layers"),
        ("llama", dict(intermediate_size=10**12), "intermediate_size is 1,000,000,000,000, more than any side"),
        (
            "llama",
            dict(max_position_embeddings=10**12),
            "max_position_embeddings 1,000,000,000,000: reading that many tokens at once takes at least 116.4 TiB",
        ),
    ],
)
def test_sizes_are_checked_against_the_weights_before_anything_is_built(exported, tmp_path, model, changes, named):
    folder = hf_copy(exported, model, tmp_path)
    edit_json(folder / "config.json", **changes)
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    assert named in str(raised.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "model, changes, named",
    [
        ("gpt2", dict(model_type={"a": 1}), "gives model_type {'a': 1}: expected a name"),
        ("gpt2", dict(model_type=None, architectures=5), "no model_type (5)"),
        ("gpt2", dict(model_type=None, architectures=[{"a": 1}]), "cannot import: no model_type"),
        ("llama", dict(head_dim={"a": 1}), "head_dim is {'a': 1}"),
        ("llama", dict(rope_theta="big", rope_parameters=None), "rope_theta is 'big'"),
        ("gpt2", dict(n_layer=[1] * 1000), "n_layer must be a whole number of at least 1, not [1, 1, 1"),
    ],
)
def test_values_of_the_wrong_kind_are_sentences(exported, tmp_path, model, changes, named):
    folder = hf_copy(exported, model, tmp_path)
    edit_json(folder / "config.json", **changes)
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    assert named in str(raised.value) and len(str(raised.value)) < 1000


def test_a_model_bigger_than_the_memory_is_refused(exported, tmp_path, monkeypatch):
    from playground.core import estimates

    monkeypatch.setattr(estimates, "available_system_memory", lambda: estimates.AvailableMemory(10**5, "a test"))
    with pytest.raises(
        UserError,
        match=r"needs about \d+\.\d (KiB|MiB) of memory \(its [\d,]+ weights, read and then made "
        r"float32\), but only 97.7 KiB is available \(a test\)",
    ):
        import_hf(exported["gpt2"], tmp_path / "out")


def shard_index(folder: Path, index: Path, shard: str) -> None:
    """Write `index` naming `shard` for every tensor of `folder`'s model.safetensors."""
    names = list(load_file(folder / "model.safetensors"))
    index.write_text(json.dumps({"weight_map": {n: shard for n in names}}))


@pytest.mark.parametrize(
    "shard, named",
    [
        ("/abs/model.safetensors", "names the absolute path '/abs/model.safetensors'"),
        ("../outside.safetensors", "names the path that climbs out with '..' '../outside.safetensors'"),
        ("sub\\..\\..\\outside.safetensors", "climbs out with '..'"),
        ("C:/model.safetensors", "names the absolute path"),
        ("link.safetensors", "is a link to"),
    ],
)
def test_index_shards_stay_inside_the_folder(exported, tmp_path, shard, named):
    folder = hf_copy(exported, "gpt2", tmp_path)
    outside = tmp_path / "outside.safetensors"
    (folder / "model.safetensors").rename(outside)
    (folder / "link.safetensors").symlink_to(outside)
    if shard.startswith("/abs/"):
        shard = str(outside)
        named = f"names the absolute path {shard!r}"
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {n: shard for n in load_file(outside)}})
    )
    with pytest.raises(UserError) as raised:
        import_hf(folder, tmp_path / "out")
    assert named in str(raised.value) and "refused" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_hugging_face_cache_snapshot_with_links_into_its_blobs_imports(exported, runs, tmp_path):
    """hub/models--x/snapshots/<revision>/ holds links to ../../blobs/: the cache's own layout is inside."""
    repo = tmp_path / "hub" / "models--someone--tiny"
    snapshot, blobs = repo / "snapshots" / "0123abcd", repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for file in exported["gpt2"].iterdir():
        shutil.copyfile(file, blobs / f"blob-{file.name}")
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", f"blob-{file.name}"))
    (snapshot / "model.safetensors").rename(snapshot / "model-00001-of-00001.safetensors")
    shard_index(exported["gpt2"], blobs / "model.safetensors.index.json", "model-00001-of-00001.safetensors")
    (snapshot / "model.safetensors.index.json").symlink_to(Path("..", "..", "blobs", "model.safetensors.index.json"))
    _, loaded = load_checkpoint(import_hf(snapshot, tmp_path / "out"))
    assert torch.equal(loaded.token_embedding.weight, runs["gpt2"][1].token_embedding.weight)


def test_gelu_pytorch_tanh_is_gpt2s_gelu(exported, tmp_path):
    folder = hf_copy(exported, "gpt2", tmp_path)
    edit_json(folder / "config.json", activation_function="gelu_pytorch_tanh")
    assert load_checkpoint(import_hf(folder, tmp_path / "out"))[0].model_config.mlp == "gelu"


def test_a_tokenizer_larger_than_the_model(exported, tmp_path):
    folder = hf_copy(exported, "gpt2", tmp_path)
    edit_json(folder / "config.json", vocab_size=1000)
    with pytest.raises(UserError, match="has 2,000 tokens but .* reads only 1,000"):
        import_hf(folder, tmp_path / "out")


def test_import_refuses_a_non_empty_folder_unless_asked(exported, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not empty"):
        import_hf(exported["gpt2"], out)
    assert (out / "notes.txt").read_text() == "mine"
    import_hf(exported["gpt2"], out, overwrite=True)
    assert not (out / "notes.txt").exists() and (out / "best" / "model.safetensors").is_file()


# -- the command line -----------------------------------------------------------------


def test_cli_export_and_import(runs, tmp_path, capsys):
    run = runs["llama"][0]
    assert main(["export", "--model", str(run), "--out", str(tmp_path / "hf"), "--which", "best"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "hf")
    assert "model.safetensors" in err and "README.md" in err

    assert main(["import", "--hf", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "back")
    assert "best/model.safetensors" in err and "best/meta.json" in err
    with safe_open(str(tmp_path / "back" / "best" / "model.safetensors"), "pt") as f:
        assert torch.equal(f.get_tensor("blocks.0.attn.qkv.weight"), runs["llama"][1].blocks[0].attn.qkv.weight)

    assert main(["export", "--model", str(run), "--out", str(tmp_path / "hf")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["export", "--model", str(run), "--out", str(tmp_path / "hf"), "--overwrite"]) == 0


def test_cli_import_of_a_hostile_folder_is_an_error_line(exported, tmp_path):
    import os
    import subprocess

    folder = hf_copy(exported, "gpt2", tmp_path)
    edit_json(folder / "config.json", n_layer=10**7)
    (folder / "tokenizer.json").write_text("[" * 50_000 + "]" * 50_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "playground", "import", "--hf", str(folder), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: tokenizer.json is not a tokenizer.json: it nests lists or tables")
    (folder / "tokenizer.json").write_text((TOKENIZER).read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "playground", "import", "--hf", str(folder), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2 and "n_layer is 10,000,000 but the weights hold 2 layers" in result.stderr


def test_cli_bad_input_is_an_error_line(exported, tmp_path, capsys):
    folder = hf_copy(exported, "gpt2", tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not opened")
    assert main(["import", "--hf", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "REFUSED" in err and "Traceback" not in err
    assert main(["export", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


# -- the jobs: progress, notes, stopping ------------------------------------------------


def test_export_and_import_are_jobs_with_progress_and_notes(runs, tmp_path):
    from playground.core.progress import Progress

    items = []
    out = run_quietly(hf.export_checkpoint(runs["llama"][0], tmp_path / "hf"), on_partial=items.append)
    assert out == tmp_path / "hf" and items == []  # an export has nothing but progress to tell
    export = hf.export_checkpoint(runs["llama"][0], tmp_path / "hf2")
    stages = [p for p in export if isinstance(p, Progress)]
    assert [p.fraction for p in stages] == sorted(p.fraction for p in stages) and stages[-1].fraction == 1.0
    assert "Writing the weights as LlamaForCausalLM" in [p.message for p in stages]

    data = json.loads((out / "config.json").read_text())
    data["rms_norm_eps"] = 1e-6
    (out / "config.json").write_text(json.dumps(data))
    seen = []
    back = run_quietly(hf.import_hf(out, tmp_path / "back"), on_partial=seen.append)
    assert back == tmp_path / "back"
    assert len(seen) == 1 and isinstance(seen[0], hf.ConversionNote) and "rms_norm_eps" in seen[0].text


def test_an_export_or_import_stopped_midway_changes_nothing(runs, exported, tmp_path):
    export = hf.export_checkpoint(runs["gpt2"][0], tmp_path / "hf")
    for item in export:
        if item.message.startswith("Writing the weights"):
            break
    export.close()  # what the engine does when the person cancels
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("kept")
    importing = hf.import_hf(exported["gpt2"], tmp_path / "out", overwrite=True)
    for item in importing:
        if item.message.startswith("Writing the run"):
            break
    importing.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out" / "mine.txt").read_text() == "kept"


def test_import_as_a_new_run_loads_it_and_leaves_nothing_when_stopped(exported, tmp_path, monkeypatch):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    imported = run_quietly(hf.import_as_new_run(exported["gpt2"]))
    assert imported.run_dir.parent == tmp_path / "runs" and imported.run_dir.name.endswith("imported-gpt2")
    assert imported.checkpoint.run_dir == imported.run_dir and imported.notes == ()
    assert imported.model.config == imported.checkpoint.model_config

    job = hf.import_as_new_run(exported["llama"])
    next(job)
    job.close()
    assert list((tmp_path / "runs").iterdir()) == [imported.run_dir]  # the stopped one left no folder


def test_the_exchange_imports_without_pytorch():
    """The window starts export and import jobs from the GUI thread: PyTorch is imported in the jobs, not there."""
    import subprocess

    code = "import sys, playground.core.huggingface; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
