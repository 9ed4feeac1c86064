"""Whether the Train step can start a run, and if not, the sentence that says why.

Read from the session (corpus, tokenizer, the Build step's model) and the run's
own settings (batch size, device, precision); the Train panel shows the sentence
and keeps Start off until there is none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from playground.engine.session import Session


def missing_tokens(session: Session) -> list[str]:
    """The special tokens an encoder or an encoder-decoder needs that the current tokenizer lacks
    (none for a decoder); a run of T5's sentinels is one entry ("<extra_id_0> … <extra_id_31>")."""
    from playground.core.t5_tokens import missing_t5_tokens
    from playground.core.tokenization import missing_encoder_tokens

    config, tok = session.model_config, session.tokenizer
    if config is None or tok is None:
        return []
    if config.is_encoder:
        return missing_encoder_tokens(tok)
    if config.is_encoder_decoder:
        return missing_t5_tokens(tok).names
    return []


def task_problem(objective: str, task: str) -> Optional[str]:
    """Why text to text cannot start with this task (none chosen, a file not there); None when it can."""
    from playground.core.text_to_text import TASK_SETS

    if objective != "text-to-text":
        return None
    if not task:
        return "Text to text learns from a task's pairs: choose a shipped task set or a task file on the left."
    if task not in {t.key for t in TASK_SETS} and not Path(task).is_file():
        return f"The task file {task} is not there any more: choose it again, or another task."
    return None


def readiness_problem(
    session: Session, batch_size: int, device_choice: str, precision: str, train_config=None
) -> Optional[str]:
    """What stops a run from starting, as a sentence; None when it can start.

    `train_config` (the Train step's settings) says an encoder-decoder's objective and task:
    text to text needs no corpus, but a task.
    """
    s = session
    config = s.model_config
    seq2seq = config is not None and config.is_encoder_decoder and train_config is not None
    text_to_text = seq2seq and train_config.objective == "text-to-text"
    if s.tokenizer is None:
        return "Train or open a tokenizer in step 1 first."
    if s.corpus is None and not text_to_text:
        return "Choose a corpus in step 1 first."
    if s.model_config is None:
        return "Choose a model size in step 2 (Build) first."
    if not s.model_config_ok:
        return "The model in step 2 (Build) cannot be built: fix the problem shown there."
    too_big = memory_problem(s, batch_size, device_choice, precision)
    if too_big:
        return too_big
    missing = missing_tokens(s)
    if missing and s.model_config.is_encoder_decoder:
        from playground.core.t5_tokens import missing_t5_tokens

        return (
            f"An encoder-decoder needs T5's special tokens; {s.tokenizer.name} lacks "
            f"{missing_t5_tokens(s.tokenizer)}. Step 2 (Build) adds them to a copy of the tokenizer."
        )
    if missing:
        return (
            f"An encoder learns by recovering hidden tokens, so its tokenizer needs {' '.join(missing)}, "
            f"which {s.tokenizer.name} lacks. Step 2 (Build) adds them to a copy of the tokenizer."
        )
    if s.model_config.vocab_size != s.tokenizer.vocab_size:
        return (
            f"The model's vocabulary ({s.model_config.vocab_size:,}) does not match the tokenizer's "
            f"({s.tokenizer.vocab_size:,}); revisit step 2."
        )
    if seq2seq:
        return task_problem(train_config.objective, train_config.task)
    return None


def memory_problem(session: Session, batch_size: int, device_choice: str, precision: str) -> Optional[str]:
    """A sentence when this model and batch would not fit in the device's free
    memory: the operating system would kill the app, so it is refused before."""
    from playground.core.estimates import available_system_memory, human_bytes, memory_estimate

    s = session
    assert s.model_config is not None  # readiness_problem() checked it
    on_gpu = s.device is not None and s.device.kind == "cuda" and device_choice in ("auto", "cuda")
    need = memory_estimate(s.model_config, batch_size, precision, device="cuda" if on_gpu else "cpu").total
    free = s.device.free_memory if on_gpu and s.device else available_system_memory().bytes
    if free and need > free:
        return (
            f"This model needs about {human_bytes(need)} to train at batch size {batch_size}, "
            f"but only {human_bytes(free)} is free. Choose a smaller batch size or model."
        )
    return None
