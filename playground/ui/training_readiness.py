"""Whether the Train step can start a run, and if not, the sentence that says why.

Read from the session (corpus, tokenizer, the Build step's model) and the run's
own settings (batch size, device, precision); the Train panel shows the sentence
and keeps Start off until there is none.
"""

from __future__ import annotations

from typing import Optional

from playground.engine.session import Session


def missing_tokens(session: Session) -> list[str]:
    """The special tokens an encoder needs that the current tokenizer lacks (none for a decoder)."""
    from playground.core.tokenization import missing_encoder_tokens

    if session.model_config is None or not session.model_config.is_encoder or session.tokenizer is None:
        return []
    return missing_encoder_tokens(session.tokenizer)


def readiness_problem(session: Session, batch_size: int, device_choice: str, precision: str) -> Optional[str]:
    """What stops a run from starting, as a sentence; None when it can start."""
    s = session
    if s.tokenizer is None:
        return "Train or open a tokenizer in step 1 first."
    if s.corpus is None:
        return "Choose a corpus in step 1 first."
    if s.model_config is None:
        return "Choose a model size in step 2 (Build) first."
    if not s.model_config_ok:
        return "The model in step 2 (Build) cannot be built: fix the problem shown there."
    too_big = memory_problem(s, batch_size, device_choice, precision)
    if too_big:
        return too_big
    missing = missing_tokens(s)
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
