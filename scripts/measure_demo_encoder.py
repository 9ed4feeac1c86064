"""What the demo encoder reached: pseudo-perplexity and masked-token accuracy on the validation split,
and its guesses for a few masked sentences (models/README.md quotes the output).

    python scripts/measure_demo_encoder.py [models/demo-encoder] [--tokens 4000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = (
    "Return the [MASK] of the list.",
    "If the file does not [MASK], a FileNotFoundError is raised.",
    "The default [MASK] is None.",
    "This function [MASK] a new dictionary.",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", type=Path, default=ROOT / "models" / "demo-encoder")
    parser.add_argument("--tokens", type=int, default=4000, help="validation tokens scored (default 4000)")
    args = parser.parse_args()

    import torch

    from playground.core.checkpoints import load_checkpoint
    from playground.core.corpus import default_corpus
    from playground.core.evaluation import validation_ids
    from playground.core.fill_mask import fill_mask
    from playground.core.masked_eval import pseudo_perplexity_on_ids
    from playground.core.progress import run_quietly

    torch.set_num_threads(1)
    checkpoint, model = load_checkpoint(args.model)
    val_fraction = checkpoint.train_config.val_fraction if checkpoint.train_config else 0.1
    ids = run_quietly(validation_ids(default_corpus(), checkpoint.tokenizer, val_fraction))[: args.tokens]
    result = run_quietly(pseudo_perplexity_on_ids(model, ids, checkpoint.tokenizer))
    print(
        f"validation split, first {result.tokens:,} tokens scored: pseudo-perplexity "
        f"{result.pseudo_perplexity:.1f}, masked-token accuracy {result.masked_accuracy:.1%} "
        f"(each token hidden alone), bits per byte {result.bits_per_byte:.2f}"
    )
    for sentence in SENTENCES:
        slot = fill_mask(model, checkpoint.tokenizer, sentence, top_k=5).slots[0]
        guesses = ", ".join(f"{c.text.strip()} {c.probability:.0%}" for c in slot.candidates)
        print(f"{sentence}  ->  {guesses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
