"""The Hugging Face formats this app exchanges, and which one holds a model.

Adding a family: a module beside `gpt2.py` that fills in a `Format` (its
tensor names, config.json writer and reader), then one entry in `FORMATS`.
"""

from __future__ import annotations

from playground.core.config import ModelConfig

from .bert import BERT
from .formats import PHRASES, ConversionError, Format, describe, differences, join
from .gpt2 import GPT2
from .llama import LLAMA
from .t5 import T5

FORMATS = {f.model_type: f for f in (GPT2, LLAMA, BERT, T5)}
SUPPORTED = (
    'GPT-2 (model_type "gpt2", GPT2LMHeadModel), LLaMA (model_type "llama", LlamaForCausalLM), '
    'T5 v1.0 (model_type "t5", T5ForConditionalGeneration) and BERT (model_type "bert", BertForMaskedLM)'
)


def format_for(config: ModelConfig) -> Format:
    """The format that holds `config`'s architecture: its flavour's if that fits, else another of its family.

    Raises `ConversionError` naming, for each format, what it cannot hold.
    """
    if config.is_encoder or config.is_encoder_decoder:
        fmt, what = (BERT, "encoder") if config.is_encoder else (T5, "encoder-decoder")
        if not differences(config, fmt):
            return fmt
        found = [PHRASES[f, v] for f, v in fmt.features.items() if getattr(config, f) != v]
        raise ConversionError(
            f"This {what} cannot be exported: {fmt.label} has no place for {join(differences(config, fmt))}. "
            f"Build it with {join(found)} instead of {join(differences(config, fmt))} and train it again to export it."
        )
    ordered = sorted(
        (f for f in FORMATS.values() if f.family == config.family), key=lambda f: f.flavour != config.flavour
    )
    for fmt in ordered:
        if not differences(config, fmt):
            return fmt
    nearest = min(ordered, key=lambda f: len(differences(config, f)))
    lacks = "; ".join(f"{fmt.label} has no place for {join(differences(config, fmt))}" for fmt in ordered)
    raise ConversionError(
        f"This model cannot be exported: it mixes the two decoder architectures that Hugging Face's formats hold. "
        f"{lacks[0].upper()}{lacks[1:]}. "
        f"The {GPT2.name} format fits a model with {describe(GPT2)}; the {LLAMA.name} format one with "
        f"{describe(LLAMA)} (tied weights or not). The nearest here is {nearest.name}: build the model with "
        f"{join([PHRASES[f, v] for f, v in nearest.features.items() if getattr(config, f) != v])} instead "
        f"of {join(differences(config, nearest))} and train it again to export it."
    )
