"""The one-click demo, paced by the host: the whole workflow on the built-in corpus, through the real panels.

A small state machine on QTimers, never blocking the event loop. Each stage
switches to its panel and starts its work through the panel's public methods
(the same ones its buttons call); a timer checks now and then whether the work
is done. Then the stage *waits for the host*: Next (the presenter bar's button,
→ or PageDown) starts the next stage, unless auto-advance is on, which moves on
by itself a few seconds later (Hold pauses it). A stage that cannot start,
fails or takes far too long ends the demo with a sentence; Stop cancels the
running work. The stages themselves are in ``demo_stages.py``.

Back and Next only *show*: Back goes to an earlier stage's panel, which still
shows that stage's result, and Next from there shows the following stage as it
was left. No finished work runs again: redoing a stage would train again (a
minute) or write a different text, and the room would no longer see what the
host just talked about. Work that is still running goes on while the host
looks back; the stage at the front waits for Next once it is done and the host
is back on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from PySide6.QtCore import QObject, QTimer, Signal

# The built-in corpus is Python's documentation: finishing one of its phrases is the task a model this small
# can partly do (resources/tasks/7-python-phrases.jsonl); asked what a keyword means, it only writes a blank line.
DEFAULT_TEMPLATE = "Python phrases"
# The attention stage reads one short sentence in the style of the corpus: short, so every token's
# label fits under the heatmap; "list" comes twice, so a head that looks back at it has a reason to.
ATTENTION_TEXT = "Return a new list of the items in the list."


@dataclass(frozen=True)
class DemoSettings:
    vocab_size: int = 1000  # a small byte-level BPE: trains in seconds
    preset: str = "tiny"  # about 0.1M parameters; its context grows to hold the few-shot prompt (to 96 tokens)
    steps: int = 800  # ~30-60 s on a laptop CPU for the tiny preset at a 96-token context
    batch_size: int = 16
    eval_interval: int = 50
    sample_interval: int = 100
    template: str = DEFAULT_TEMPLATE
    max_new_tokens: int = 40
    # Cooler than the "balanced" preset's 0.8: a model this small then writes a short line and stops at the
    # template's separator, instead of rambling on for all its tokens.
    temperature: float = 0.5
    attention_text: str = ATTENTION_TEXT
    use_default_corpus: bool = True  # False: keep the session's corpus (tests use a tiny one)
    # None: each stage waits for the host's Next. A number: seconds after a stage's work is done, the
    # demo moves on by itself (0 runs straight through, as tests do).
    auto_advance_s: Optional[float] = None


@dataclass
class Stage:
    name: str  # "tokenizer", "train", ...
    label: str  # what the presenter bar says while it runs
    talk: Callable[[], str]  # a talking point for the host to read aloud (read again once the work is done)
    start: Callable[[], Optional[str]]  # begins the work; returns a problem sentence, or None
    done: Callable[[], bool]  # polled until True
    show: Callable[[], None]  # shows the stage's panel again (Back and Next), without redoing anything
    check: Callable[[], Optional[str]] = lambda: None  # after done: a problem sentence, or None
    cancel: Callable[[], None] = lambda: None
    timeout_s: float = 300.0


class DemoRunner(QObject):
    """Runs the stages as the host moves on. Connect to the signals, then :meth:`start`.

    ``index`` is the stage on screen, ``front`` the furthest one started; only
    the front stage ever works.
    """

    stage_started = Signal(int, int, str, str)  # index, count, name, label: a stage's work begins
    changed = Signal()  # the stage on screen, its state, hold or auto-advance changed
    finished = Signal(bool, str)  # ok, a sentence for the person

    POLL_MS = 100

    def __init__(self, window, settings: DemoSettings = DemoSettings(), parent=None) -> None:
        super().__init__(parent or window)
        from playground.ui.demo_stages import demo_stages

        self.window = window
        self.session = window.session
        self.settings = settings
        self.chosen_head: Optional[tuple[int, int]] = None  # the attention stage's (layer, head)
        self.stages: list[Stage] = demo_stages(self)
        self.index = -1
        self.front = -1
        self.working = False  # the front stage's work runs
        self.running = False
        self.held = False
        self.auto_advance_s: Optional[float] = settings.auto_advance_s
        self.started_at = 0.0
        self.stage_started_at = 0.0
        self.history: list[str] = []  # the names of the stages started, in order
        self._poll = QTimer(self, interval=self.POLL_MS)
        self._poll.timeout.connect(self._check)
        self._auto = QTimer(self, singleShot=True)
        self._auto.timeout.connect(self.next)

    # ------------------------------------------------------------------ what the bar reads

    @property
    def current_stage(self) -> Optional[Stage]:
        """The stage on screen (None when the demo does not run)."""
        return self.stages[self.index] if self.running and 0 <= self.index < len(self.stages) else None

    @property
    def waiting(self) -> bool:
        """True while the stage on screen is the front one, its work done: the demo waits for Next."""
        return self.running and self.index == self.front and not self.working

    def can_go_next(self) -> bool:
        return self.running and (self.index < self.front or not self.working)

    def can_go_back(self) -> bool:
        return self.running and self.index > 0

    def is_last(self) -> bool:
        return self.index == len(self.stages) - 1

    def auto_advancing(self) -> bool:
        """True while the auto-advance timer runs."""
        return self._auto.isActive()

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
        self.index = self.front = -1
        self.history = []
        self._begin(0)
        return True

    def stop(self) -> None:
        """Cancel the running stage's work and end the demo (at the last stage, done: it ends as Finish does)."""
        if not self.running:
            return
        if self.is_last() and self.waiting:
            self.next()
            return
        if self.working:
            self.stages[self.front].cancel()
        self._finish(False, "Demo stopped. Everything it made so far is still here.")

    def next(self) -> bool:
        """Show the next stage (already done: as it was left), or start it; after the last, end the demo.

        False while the stage on screen still works (the host waits for it) or when no demo runs.
        """
        if not self.can_go_next():
            return False
        self._auto.stop()
        if self.index < self.front:
            self.index += 1
            self.stages[self.index].show()
            self._arm()
            self.changed.emit()
        elif self.index + 1 >= len(self.stages):
            seconds = time.monotonic() - self.started_at
            self._finish(True, f"The demo is done ({seconds:.0f} s). Help ▸ Guided tour explains each step.")
        else:
            self._begin(self.index + 1)
        return True

    def back(self) -> bool:
        """Show the previous stage's panel with its result; nothing runs again. False at the first stage."""
        if not self.can_go_back():
            return False
        self._auto.stop()
        self.index -= 1
        self.stages[self.index].show()
        self.changed.emit()
        return True

    def set_held(self, held: bool) -> None:
        """Hold: the auto-advance waits (the host talks longer); letting go counts down afresh."""
        self.held = held
        self._arm()
        self.changed.emit()

    def set_auto_advance(self, seconds: Optional[float]) -> None:
        """Move on by itself `seconds` after a stage's work is done; None: wait for Next."""
        self.auto_advance_s = seconds
        self._auto.stop()  # a new time counts afresh
        self._arm()
        self.changed.emit()

    # ------------------------------------------------------------------ the machine

    def _busy_with(self) -> str:
        w = self.window
        if w.training_panel.job is not None:
            return "a model is training"
        if w.tokenizer_panel.train_job is not None:
            return "a tokenizer is training"
        if w.generate_panel.is_busy():
            return "the Generate step is busy"
        return ""

    def _begin(self, index: int) -> None:
        self.index = self.front = index
        stage = self.stages[index]
        self.history.append(stage.name)
        self.stage_started_at = time.monotonic()
        self.working = True
        bar = getattr(self.window, "message_bar", None)
        if bar is not None and bar.level == "info":  # the last stage's news: stale now, and it takes room
            bar.hide()
        self.stage_started.emit(index, len(self.stages), stage.name, stage.label)
        try:
            problem = stage.start()
        except Exception as e:  # noqa: BLE001 - a panel refused: say so and stop, never crash the show
            problem = f"{type(e).__name__}: {e}"
        if problem:
            self._finish(False, f"The demo stopped while {_lower_first(stage.label)}: {problem}")
            return
        self.changed.emit()
        self._poll.start()
        self._check()

    def _check(self) -> None:
        if not self.running or not self.working:
            self._poll.stop()
            return
        stage = self.stages[self.front]
        if not stage.done():
            if time.monotonic() - self.stage_started_at > stage.timeout_s:
                stage.cancel()
                self._finish(
                    False, f"The demo stopped: {_lower_first(stage.label)} took more than {stage.timeout_s:.0f} s."
                )
            return
        self._poll.stop()
        problem = stage.check()
        if problem:
            self._finish(False, f"The demo stopped after {_lower_first(stage.label)}: {problem}")
            return
        self.working = False
        self._arm()
        self.changed.emit()

    def _arm(self) -> None:
        """Start the auto-advance countdown when it is on, not held, and the demo waits for Next."""
        if self.auto_advance_s is not None and not self.held and self.waiting:
            if not self._auto.isActive():
                self._auto.start(int(self.auto_advance_s * 1000))
        else:
            self._auto.stop()

    def _finish(self, ok: bool, message: str) -> None:
        self._poll.stop()
        self._auto.stop()
        self.running = False
        self.working = False
        self.finished.emit(ok, message)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
