"""Tiny run folders with random weights, for tests that look at shapes (attention squares and triangles,
table rows), not at what a model learned. tests/ is on sys.path (its conftest.py)."""

from playground.core.checkpoints import save_checkpoint, write_run_files
from playground.core.corpus import corpus_from_text
from playground.core.progress import run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.train_config import TrainConfig


def wordpiece_tokenizer(text: str, vocab_size: int = 120) -> LoadedTokenizer:
    """A WordPiece tokenizer trained on `text`: it has [MASK] [CLS] [SEP] [PAD] [UNK], as an encoder needs."""
    spec = spec_for_kind("wordpiece", vocab_size=vocab_size)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(text), spec)), spec=spec)


def save_random_run(folder, config, tokenizer: LoadedTokenizer):
    """A run folder holding a model of `config` with random (seeded) weights as its best checkpoint."""
    import torch

    from playground.core.model import GPT

    write_run_files(folder, config, TrainConfig(), tokenizer)
    torch.manual_seed(0)
    save_checkpoint(folder, "best", GPT(config), state={}, meta={"step": 3})
    return folder
