"""The one-click demo: the whole workflow on the built-in corpus, driven through the real panels.

A small state machine on a QTimer: each stage switches to its panel, starts its
work through the panel's public methods (the same ones its buttons call), and
the timer checks now and then whether the work is done, never blocking the
event loop. A stage that cannot start, fails or takes far too long ends the
demo with a sentence; Stop cancels the running work. Sizes are chosen so the
whole demo takes a minute or two on a laptop's CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QTimer, Signal

DEFAULT_TEMPLATE = "Python keywords"  # the built-in corpus is Python's documentation: its home ground


@dataclass(frozen=True)
class DemoSettings:
    vocab_size: int = 1000  # a small byte-level BPE: trains in seconds
    preset: str = "tiny"  # about 0.1M parameters
    steps: int = 600  # ~10-30 s on a laptop CPU for the tiny preset
    batch_size: int = 16
    eval_interval: int = 50
    sample_interval: int = 100
    template: str = DEFAULT_TEMPLATE
    max_new_tokens: int = 40
    use_default_corpus: bool = True  # False: keep the session's corpus (tests use a tiny one)
    pause_ms: int = 1500  # a moment on each panel, so the room can see what happened


@dataclass
class Stage:
    name: str  # "tokenizer", "train", ...
    label: str  # what the status bar says while it runs
    start: Callable[[], Optional[str]]  # begins the work; returns a problem sentence, or None
    done: Callable[[], bool]  # polled until True
    check: Callable[[], Optional[str]] = lambda: None  # after done: a problem sentence, or None
    cancel: Callable[[], None] = lambda: None
    timeout_s: float = 300.0


class DemoRunner(QObject):
    """Runs the stages one after another. Connect to the signals, then :meth:`start`."""

    stage_started = Signal(int, int, str, str)  # index, count, name, label
    finished = Signal(bool, str)  # ok, a sentence for the person

    POLL_MS = 100

    def __init__(self, window, settings: DemoSettings = DemoSettings(), parent=None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.session = window.session
        self.settings = settings
        self.stages = self._stages()
        self.index = -1
        self.running = False
        self.started_at = 0.0
        self.stage_started_at = 0.0
        self.history: list[str] = []  # the names of the stages started, in order
        self._poll = QTimer(self, interval=self.POLL_MS)
        self._poll.timeout.connect(self._check)
        self._next = QTimer(self, singleShot=True)
        self._next.timeout.connect(self._advance)

    # ------------------------------------------------------------------ control

    def start(self) -> bool:
        """Begin at the first stage; False (and a message) when the window is busy with something else."""
        if self.running:
            return False
        busy = self._busy_with()
        if busy:
            self.session.warn(
                f"The demo needs the window to itself, but {busy}. Stop that first, then run the demo again."
            )
            return False
        self.running = True
        self.started_at = time.monotonic()
        self.index = -1
        self.history = []
        self._advance()
        return True

    def stop(self) -> None:
        """Cancel the running stage's work and end the demo."""
        if not self.running:
            return
        stage = self.current_stage
        if stage is not None:
            stage.cancel()
        self._finish(False, "Demo stopped. Everything it made so far is still here.")

    @property
    def current_stage(self) -> Optional[Stage]:
        return self.stages[self.index] if self.running and 0 <= self.index < len(self.stages) else None

    def _busy_with(self) -> str:
        w = self.window
        if w.training_panel.job is not None:
            return "a model is training"
        if w.tokenizer_panel.train_job is not None:
            return "a tokenizer is training"
        if w.generate_panel.is_busy():
            return "the Generate step is busy"
        return ""

    def _advance(self) -> None:
        if not self.running:
            return
        self.index += 1
        if self.index >= len(self.stages):
            seconds = time.monotonic() - self.started_at
            self._finish(True, f"The demo is done ({seconds:.0f} s). Help ▸ Guided tour explains each step.")
            return
        stage = self.stages[self.index]
        self.history.append(stage.name)
        self.stage_started_at = time.monotonic()
        self.stage_started.emit(self.index, len(self.stages), stage.name, stage.label)
        try:
            problem = stage.start()
        except Exception as e:  # noqa: BLE001 - a panel refused: say so and stop, never crash the show
            problem = f"{type(e).__name__}: {e}"
        if problem:
            self._finish(False, f"The demo stopped while {stage.label[0].lower()}{stage.label[1:]}: {problem}")
            return
        self._poll.start()
        self._check()

    def _check(self) -> None:
        stage = self.current_stage
        if stage is None:
            self._poll.stop()
            return
        if not stage.done():
            if time.monotonic() - self.stage_started_at > stage.timeout_s:
                stage.cancel()
                self._finish(
                    False,
                    f"The demo stopped: {stage.label[0].lower()}{stage.label[1:]} took more than "
                    f"{stage.timeout_s:.0f} s.",
                )
            return
        self._poll.stop()
        problem = stage.check()
        if problem:
            self._finish(False, f"The demo stopped after {stage.label[0].lower()}{stage.label[1:]}: {problem}")
            return
        self._next.start(self.settings.pause_ms)

    def _finish(self, ok: bool, message: str) -> None:
        self._poll.stop()
        self._next.stop()
        self.running = False
        self.finished.emit(ok, message)

    # ------------------------------------------------------------------ the stages

    def _stages(self) -> list[Stage]:
        s = self.settings
        w = self.window
        session = self.session
        tokenizer_panel, build, train = w.tokenizer_panel, w.build_panel, w.training_panel
        prompt, generate, attention = w.prompt_panel, w.generate_panel, w.attention_panel
        before: dict[str, Any] = {}  # what a stage saw when it started, for its check

        # -- 1 corpus
        def corpus_start() -> Optional[str]:
            w.go_to(tokenizer_panel.title)
            if s.use_default_corpus:
                from playground.core.corpus import default_corpus

                if session.corpus is None or session.corpus.files != default_corpus().files:
                    tokenizer_panel.use_default_corpus()
            elif session.corpus is None:
                return "there is no corpus to learn from."
            return None

        def corpus_done() -> bool:
            return tokenizer_panel.corpus_job is None and session.corpus_stats is not None

        # -- 2 tokenizer
        def tokenizer_start() -> Optional[str]:
            tokenizer_panel.kind.setCurrentIndex(tokenizer_panel.kind.findData("bpe"))
            tokenizer_panel.vocab_size.setValue(s.vocab_size)  # after the kind: choosing a kind resets it
            tokenizer_panel.tabs.setCurrentIndex(0)
            before["tokenizers"] = len(session.tokenizers)
            if tokenizer_panel.start_training() is None:
                return tokenizer_panel.spec_problem.text() or "the tokenizer could not start training."
            return None

        def tokenizer_check() -> Optional[str]:
            if len(session.tokenizers) <= before["tokenizers"]:
                return "no tokenizer came out of it; see the message above."
            return None

        # -- 3 build
        def build_start() -> Optional[str]:
            w.go_to(build.title)
            build.set_preset(s.preset)
            return None

        def build_check() -> Optional[str]:
            cfg = session.model_config
            if cfg is None or not session.model_config_ok:
                return "the model size has a problem; see the Build step."
            return None

        # -- 4 train
        def train_start() -> Optional[str]:
            w.go_to(train.title)
            train.set_init_from(None)
            train.steps.setValue(s.steps)
            train.batch.setValue(s.batch_size)
            train.eval_interval.setValue(s.eval_interval)
            train.sample_interval.setValue(s.sample_interval)
            before["checkpoint"] = session.checkpoint
            if train.start() is None:
                return train.readiness_problem() or "training could not start; see the message above."
            return None

        def train_check() -> Optional[str]:
            if session.checkpoint is before.get("checkpoint") or session.checkpoint is None:
                return "training saved no model; see the message above."
            return None

        # -- 5 prompt
        def prompt_start() -> Optional[str]:
            w.go_to(prompt.title)
            combo = prompt.template_combo
            index = next((i for i in range(combo.count()) if combo.itemText(i).split(" (")[0] == s.template), 0)
            combo.setCurrentIndex(index)
            prompt.mode_combo.setCurrentIndex(max(0, prompt.mode_combo.findData("few-shot")))
            prompt.refresh()
            return None

        def prompt_check() -> Optional[str]:
            prompt.refresh()
            return f"the prompt cannot be used: {prompt.problem}" if prompt.problem else None

        # -- 6 generate
        def generate_start() -> Optional[str]:
            prompt.send()  # hands the template to Generate and shows that step
            w.go_to(generate.title)
            generate.apply_preset("balanced")
            generate.max_new_tokens.setValue(s.max_new_tokens)
            if generate.generate() is None:
                return generate.readiness_problem() or "generation could not start; see the message above."
            return None

        def generate_check() -> Optional[str]:
            return None if generate.output.tokens() else "the model wrote nothing."

        # -- 7 attention
        def attention_start() -> Optional[str]:
            from playground.ui.attention_panel import SOURCE_GENERATE, VIEW_HEAD

            w.go_to(attention.title)
            attention.tabs.setCurrentIndex(0)
            attention.view.setCurrentIndex(VIEW_HEAD)
            before["shown"] = attention.shown
            if attention.source.currentIndex() == SOURCE_GENERATE:
                attention.capture_text()  # already following Generate: look again at the new text
            else:
                attention.source.setCurrentIndex(SOURCE_GENERATE)
            return None

        def attention_check() -> Optional[str]:
            if attention.shown is None or attention.shown is before.get("shown"):
                return "the attention could not be captured; see the message above."
            return None

        return [
            Stage(
                "corpus",
                "Reading the built-in corpus" if s.use_default_corpus else "Reading the corpus",
                corpus_start,
                corpus_done,
                cancel=tokenizer_panel.cancel_all,
                timeout_s=120,
            ),
            Stage(
                "tokenizer",
                f"Training a byte-level BPE tokenizer with {s.vocab_size:,} tokens",
                tokenizer_start,
                lambda: tokenizer_panel.train_job is None,
                tokenizer_check,
                cancel=tokenizer_panel.cancel_all,
                timeout_s=300,
            ),
            Stage("build", f"Choosing the {s.preset} model size", build_start, lambda: True, build_check),
            Stage(
                "train",
                f"Training the model for {s.steps:,} steps",
                train_start,
                lambda: train.job is None,
                train_check,
                cancel=train.stop,
                timeout_s=120 + 2.0 * s.steps,
            ),
            Stage("prompt", "Writing a few-shot prompt", prompt_start, lambda: True, prompt_check),
            Stage(
                "generate",
                f"Generating up to {s.max_new_tokens} tokens",
                generate_start,
                lambda: not generate.is_busy(),
                generate_check,
                cancel=generate.stop,
                timeout_s=180,
            ),
            Stage(
                "attention",
                "Looking at the attention of the generated text",
                attention_start,
                attention.is_idle,
                attention_check,
                cancel=lambda: attention.stop_and_wait(2000),
                timeout_s=120,
            ),
        ]
