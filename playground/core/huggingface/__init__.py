"""Exchange models with Hugging Face `transformers`: the same weights, under its names, give the same logits.

Four formats: GPT-2 (`GPT2LMHeadModel`: learned positions, LayerNorm, GELU,
biases), LLaMA (`LlamaForCausalLM`: RoPE, RMSNorm, SwiGLU, no biases), for
encoders BERT (`BertForMaskedLM`: bidirectional, post-norm, masked-LM head)
and for encoder-decoders T5 v1.0 (`T5ForConditionalGeneration`: two stacks,
cross-attention, relative position bias, RMSNorm, ReLU MLP).

- `formats.py`: what every format shares (the `Format` record, our tensors
  under its names); `gpt2.py`, `llama.py`, `bert.py`, `t5.py`: one family each; `families.py`:
  the list, and which format holds a model.
- `export.py`: `export_checkpoint` writes one of our checkpoints as a folder
  that `transformers.AutoModelForCausalLM.from_pretrained` and
  `AutoTokenizer` read.
- `importing.py`: `import_hf` turns such a folder (GPT-2, LLaMA, BERT or T5) into one
  of our run folders; `import_as_new_run` does it among the person's runs
  and loads the model (the window's File ▸ Import).
- `gpt2.to_transformers_gpt2` builds the `transformers` model in memory
  (tests, benchmarks).

Export and import are job generators (`core/progress.py`) that read and write
JSON and safetensors directly: neither needs `transformers`, nor the network.
Import never unpickles: a folder that holds only `pytorch_model.bin` (a
pickle, which can run code when loaded) is refused.

This module names the exchange's public API, so that the command line, the
window, the benchmarks and the tests import it from one place.
"""

from .bert import BERT, BERT_LAYER_NORM_EPSILON, bert_differences
from .export import export_checkpoint, hf_config_dict, model_card, special_tokens_map, tokenizer_config
from .families import FORMATS, SUPPORTED, format_for
from .formats import ConversionError, ConversionNote, Format, differences, from_hf_tensors, to_hf_tensors
from .gpt2 import (
    GPT2,
    LAYER_NORM_EPSILON,
    gpt2_config,
    gpt2_differences,
    gpt2_state_dict,
    raise_unless_gpt2,
    to_transformers_gpt2,
)
from .importing import ImportedRun, import_as_new_run, import_hf, read_hf_config
from .llama import LLAMA, RMS_NORM_EPSILON, ROPE_THETA, llama_differences
from .t5 import T5, T5_LAYER_NORM_EPSILON, t5_differences

__all__ = [
    "BERT",
    "BERT_LAYER_NORM_EPSILON",
    "FORMATS",
    "GPT2",
    "LAYER_NORM_EPSILON",
    "LLAMA",
    "RMS_NORM_EPSILON",
    "ROPE_THETA",
    "SUPPORTED",
    "T5",
    "T5_LAYER_NORM_EPSILON",
    "ConversionError",
    "ConversionNote",
    "bert_differences",
    "Format",
    "ImportedRun",
    "differences",
    "export_checkpoint",
    "format_for",
    "from_hf_tensors",
    "gpt2_config",
    "gpt2_differences",
    "gpt2_state_dict",
    "hf_config_dict",
    "import_as_new_run",
    "import_hf",
    "llama_differences",
    "model_card",
    "raise_unless_gpt2",
    "read_hf_config",
    "special_tokens_map",
    "to_hf_tensors",
    "t5_differences",
    "to_transformers_gpt2",
    "tokenizer_config",
]
