"""The command line's options for training an encoder-decoder (T5 style): `playground train --family
encoder-decoder --objective span-corruption|text-to-text [--task FILE|KEY] [--noise-share --mean-span]`.
`cli_model.train_command` reads them through `seq2seq_changes`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from playground.core.progress import UserError

SEQ2SEQ_OPTIONS = ("objective", "task", "task_prefix", "noise_share", "mean_span")


def seq2seq_changes(args: argparse.Namespace, base) -> dict:
    """The encoder-decoder's training settings the options change: --task alone means text to text."""
    changes = {name: getattr(args, name) for name in SEQ2SEQ_OPTIONS if getattr(args, name) is not None}
    if args.task is not None:
        changes["task"] = task_setting(args.task)
        changes.setdefault("objective", "text-to-text")
    objective = changes.get("objective", base.objective)
    task = changes.get("task", base.task)
    if objective == "text-to-text" and not task:
        raise UserError(
            "--objective text-to-text needs --task: a CSV or JSON Lines file of inputs with their references, "
            "or a shipped task set (reverse-words, numbers-to-words, infix-to-postfix)."
        )
    if objective == "span-corruption" and args.task is not None:
        raise UserError("--task is for --objective text-to-text; span corruption learns from the --corpus.")
    return changes


def task_setting(text: str) -> str:
    """--task as the training settings keep it: a shipped task set's key, or the file's full path."""
    from playground.core.text_to_text import TASK_SETS

    if any(text == t.key for t in TASK_SETS) and not Path(text).is_file():
        return text
    if not Path(text).is_file():
        raise UserError(
            f"--task {text}: there is no such file, nor a task set of that name "
            f"({', '.join(t.key for t in TASK_SETS)})."
        )
    return str(Path(text).resolve())


def task_corpus(task: str):
    """The task's inputs and references as one text, for training a tokenizer when none is given."""
    from playground.core.corpus import corpus_from_text
    from playground.core.task_eval import load_task
    from playground.core.text_to_text import TASK_SETS, task_set

    if any(task == t.key for t in TASK_SETS):
        chosen = task_set(task)
        train, held_out = chosen.load()
        examples, name, prefix = train + held_out, chosen.key, chosen.prefix
    else:
        examples, name, prefix = load_task(task).examples, Path(task).name, ""
    return corpus_from_text("".join(f"{prefix}{e.input}\n{e.reference}\n" for e in examples), name=name)


def with_t5_tokens_noted(tokenizer, train_config, preset: str, context: Optional[int]):
    """The tokenizer with T5's special tokens (pad, </s>, sentinels), added where missing, with a note:
    as many sentinels as span corruption drops spans in one example, 32 at least."""
    from playground.core.config import ENCODER_DECODER_PRESETS, ENCODER_PRESETS, PRESETS
    from playground.core.span_corruption import sentinels_needed
    from playground.core.t5_tokens import DEFAULT_SENTINELS, missing_t5_tokens, with_t5_tokens

    context = context or {**PRESETS, **ENCODER_PRESETS, **ENCODER_DECODER_PRESETS}[preset].context_length
    count = DEFAULT_SENTINELS
    if train_config.objective == "span-corruption":
        count = max(count, sentinels_needed(context, train_config.noise_share, train_config.mean_span))
    missing = missing_t5_tokens(tokenizer, count)
    if missing:
        tokenizer = with_t5_tokens(tokenizer, count)
        print(
            f"note: added {missing} to the tokenizer as special tokens (an encoder-decoder needs them); "
            f"the run folder keeps the tokenizer with them",
            file=sys.stderr,
        )
    return tokenizer
