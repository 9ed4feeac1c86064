"""Export: one of our checkpoints as a folder that `transformers` reads (GPT-2, LLaMA, BERT or T5, by architecture).

Reads and writes JSON and safetensors directly: no `transformers`, no network.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from playground.core.config import ModelConfig
from playground.core.progress import JobGenerator, Progress
from playground.core.run_layout import TOKENIZER_FILE, is_checkpoint

from .families import format_for
from .folders import check_out, write_json, written_folder
from .formats import HF_CONFIG, HF_TOKENIZER, HF_WEIGHTS, PHRASES, ConversionError, Format, to_hf_tensors
from .importing import is_hf_folder

if TYPE_CHECKING:
    from torch import Tensor

    from playground.core.checkpoints import Checkpoint, Model

PathLike = Union[str, os.PathLike]


def hf_config_dict(
    config: ModelConfig, fmt: Format, *, bos_token_id: Optional[int] = None, eos_token_id: Optional[int] = None
) -> dict[str, Any]:
    """config.json for `transformers`, as plain values (no `transformers` needed)."""
    common = dict(
        architectures=[fmt.hf_class],
        model_type=fmt.model_type,
        vocab_size=config.vocab_size,
        tie_word_embeddings=config.tie_weights,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        initializer_range=0.02,
        use_cache=True,
        torch_dtype="float32",
    )
    return dict(common, **fmt.write_config(config))


def hf_tensors(model: Model, fmt: Format) -> dict[str, Tensor]:
    """`model`'s weights under the format's names, on the CPU, each its own contiguous copy.

    A tied output head is left out, as `transformers` saves it: the embedding stands in.
    """
    ours = {name: t.detach().to("cpu") for name, t in model.state_dict().items()}
    if model.config.tie_weights:
        del ours["lm_head.weight"]
    return {name: t.clone().contiguous() for name, t in to_hf_tensors(fmt, ours).items()}


def export_checkpoint(
    path: PathLike, out: PathLike, which: str = "best", overwrite: bool = False
) -> JobGenerator[Path]:
    """Write the checkpoint at `path` (a run folder or its best/ or last/) as a Hugging Face folder `out`.

    A job generator: yields `Progress` at each stage, returns `out`. `out` gets
    config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
    special_tokens_map.json, generation_config.json and README.md, written in
    a temporary folder and swapped into place (stopped midway, nothing
    changes at `out`). A non-empty `out` is refused unless `overwrite`.
    """
    from safetensors.torch import save_file

    from playground.core.checkpoints import load_checkpoint
    from playground.core.sampling import end_token_id, special_token_id

    path, out = Path(path), Path(out)
    if not is_checkpoint(path) and (path / HF_CONFIG).is_file() and is_hf_folder(path):
        raise ConversionError(
            f"{path} is already a Hugging Face folder, not one of this app's run folders. "
            f"To use it here, import it: playground import --hf {path} --out FOLDER"
        )
    yield Progress(0.0, f"Reading the checkpoint {path.name}")
    checkpoint, model = load_checkpoint(path, which=which)
    fmt = format_for(checkpoint.model_config)
    check_out(out, overwrite, sources=[checkpoint.run_dir])

    tokenizer = checkpoint.tokenizer
    eos = end_token_id(tokenizer)
    bos = special_token_id(tokenizer, BEGIN_TOKENS)
    bos = eos if bos is None else bos
    config = checkpoint.model_config
    hf_config = hf_config_dict(config, fmt, bos_token_id=bos, eos_token_id=eos)
    if config.is_encoder:
        hf_config["pad_token_id"] = special_token_id(tokenizer, ("[PAD]",))
    start = None
    if config.is_encoder_decoder:
        # T5 starts the decoder from its pad token.
        start = special_token_id(tokenizer, ("<pad>", "[PAD]"))
        if start is None:
            raise ConversionError(
                f"{checkpoint.name}'s tokenizer has no pad token (<pad>), which an encoder-decoder's decoder starts "
                f"from: T5 cannot be told where to begin. Add T5's tokens to the tokenizer and train again."
            )
        hf_config.update(pad_token_id=start, decoder_start_token_id=start)
    with written_folder(out, overwrite) as tmp:
        write_json(tmp / HF_CONFIG, hf_config)
        yield Progress(0.3, f"Writing the weights as {fmt.hf_class}")
        save_file(hf_tensors(model, fmt), str(tmp / HF_WEIGHTS), metadata={"format": "pt"})
        yield Progress(0.9, "Writing the tokenizer and the model card")
        if config.is_encoder:
            (tmp / HF_TOKENIZER).write_text(encoder_tokenizer_json(tokenizer), encoding="utf-8")
        else:
            shutil.copyfile(checkpoint.run_dir / TOKENIZER_FILE, tmp / HF_TOKENIZER)
        special = special_tokens_map(tokenizer, bos, eos)
        write_json(tmp / "tokenizer_config.json", tokenizer_config(tokenizer, special, config.context_length))
        write_json(tmp / "special_tokens_map.json", special)
        if config.is_encoder_decoder:
            generation = {"decoder_start_token_id": start, "pad_token_id": start, "eos_token_id": eos}
            write_json(tmp / "generation_config.json", generation)
        elif not config.is_encoder:  # an encoder generates nothing
            # No max_length: transformers warns when a caller's max_new_tokens meets one.
            generation = {"bos_token_id": bos, "eos_token_id": eos}
            if eos is not None and "pad_token" not in special:
                generation["pad_token_id"] = eos  # so that generate() need not warn about padding
            write_json(tmp / "generation_config.json", generation)
        (tmp / "README.md").write_text(model_card(checkpoint, model, fmt), encoding="utf-8")
    yield Progress(1.0, f"Exported {checkpoint.name} to {out.name}")
    return out


def encoder_tokenizer_json(tokenizer) -> str:
    """The encoder's tokenizer.json, wrapping each text in [CLS] ... [SEP] as the model was trained to read it
    (a tokenizer that already has a post-processor, or lacks either token, is written as it is)."""
    import json

    description = json.loads(tokenizer.tokenizer.to_str())
    cls, sep = (tokenizer.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]"))
    wrap = description.get("post_processor") is None and cls is not None and sep is not None
    if wrap:
        description["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]},
            },
        }  # fmt: skip
    return json.dumps(description, indent=2, ensure_ascii=False)


# Special tokens by role, in the order a tokenizer's tokens are tried.
BEGIN_TOKENS = ("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", "[CLS]")
_ROLES = {
    "unk_token": ("[UNK]", "<unk>", "<|unk|>"),
    "pad_token": ("[PAD]", "<pad>", "<|pad|>"),
    "sep_token": ("[SEP]",),
    "cls_token": ("[CLS]",),
    "mask_token": ("[MASK]", "<mask>"),
}


def special_tokens_map(tokenizer, bos: Optional[int], eos: Optional[int]) -> dict[str, Any]:
    """special_tokens_map.json: each special token by its role; the rest as additional ones."""
    special: dict[str, Any] = {}
    if bos is not None:
        special["bos_token"] = tokenizer.tokenizer.id_to_token(bos)
    if eos is not None:
        special["eos_token"] = tokenizer.tokenizer.id_to_token(eos)
    for role, candidates in _ROLES.items():
        token = next((t for t in candidates if t in tokenizer.special_tokens), None)
        if token is not None:
            special[role] = token
    others = sorted(set(tokenizer.special_tokens) - set(special.values()))
    if others:
        special["additional_special_tokens"] = others
    return special


def tokenizer_config(tokenizer, special: dict[str, Any], context_length: int) -> dict[str, Any]:
    """tokenizer_config.json: a `PreTrainedTokenizerFast` over tokenizer.json, adding no tokens of its own."""
    added = {
        str(entry["id"]): {
            key: entry.get(key, False)
            for key in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
        }
        for entry in tokenizer.description.get("added_tokens", [])
    }
    return dict(
        tokenizer_class="PreTrainedTokenizerFast",
        model_max_length=context_length,
        clean_up_tokenization_spaces=False,
        add_bos_token=False,
        add_eos_token=False,
        added_tokens_decoder=added,
        **special,
    )


def model_card(checkpoint: Checkpoint, model: Model, fmt: Format) -> str:
    """README.md: what the model is and where it came from, in a few lines."""
    config = checkpoint.model_config
    meta = checkpoint.meta
    corpus = meta.get("corpus") or (checkpoint.train_config and getattr(checkpoint.train_config, "corpus", None))
    val = checkpoint.val_loss
    val_text = "not measured" if val is None else f"{val:.4f} (perplexity {_perplexity(val)})"
    rows = [
        ("Architecture", f"{fmt.name} style ({fmt.hf_class}): {_describe_config(config)}"),
        ("Parameters", f"{model.num_parameters():,}"),
        ("Layers, heads, width", f"{_layers(config)}, {config.n_head}, {config.n_embd}"),
        ("Context", f"{config.context_length} tokens"),
        ("Vocabulary", f"{config.vocab_size:,} tokens ({checkpoint.tokenizer.kind_label} tokenizer)"),
        ("Corpus", str(corpus) if corpus else "not recorded with the run"),
        ("Training steps", f"{checkpoint.step:,}"),
        ("Validation loss", val_text),
    ]
    if checkpoint.parent:
        rows.append(("Fine-tuned from", str(checkpoint.parent)))
    table = "\n".join(f"| {label} | {value} |" for label, value in rows)
    return f"""---
library_name: transformers
tags:
- llm-playground
- {fmt.model_type}
---

# {checkpoint.name}

A small language model made with LLM Playground, a desktop app for learning how
language models work by building one. It was trained from scratch on a small
corpus, so it writes text in the manner of that corpus, not sense. Exported from
`{checkpoint.name}/{checkpoint.which}` (the {checkpoint.which} checkpoint).

| | |
|---|---|
{table}

## Use

{_usage(fmt)}

To read it back into LLM Playground: `playground import --hf path/to/this/folder --out RUN`.
"""


def _layers(config: ModelConfig) -> str:
    if config.is_encoder_decoder:
        return f"{config.n_layer} encoder + {config.decoder_layers} decoder"
    return str(config.n_layer)


def _usage(fmt: Format) -> str:
    if fmt.family == "encoder-decoder":
        return """```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
model = AutoModelForSeq2SeqLM.from_pretrained("path/to/this/folder")
ids = tokenizer("translate English to French: the cat", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=40)[0], skip_special_tokens=True))
```"""
    if fmt.family == "encoder":
        return """```python
from transformers import pipeline

fill = pipeline("fill-mask", model="path/to/this/folder")
print(fill("The cat sat on the [MASK]."))
```"""
    return """```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")
ids = tokenizer("Once upon a time", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=40, do_sample=True)[0]))
```"""


def _describe_config(config: ModelConfig) -> str:
    phrases = ["bidirectional attention and a masked-LM head"] if config.is_encoder else []
    if config.is_encoder_decoder:
        phrases = ["an encoder and a decoder joined by cross-attention"]
    phrases += [PHRASES[field, getattr(config, field)] for field in ("positions", "norm", "mlp", "bias")]
    phrases.append("tied input and output embeddings" if config.tie_weights else "separate output head")
    return ", ".join(phrases)


def _perplexity(loss: float) -> str:
    return f"{math.exp(loss):.1f}" if loss < 50 else "very large"
