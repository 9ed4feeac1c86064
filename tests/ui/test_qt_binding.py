"""Guards against a Qt binding that corrupts reference counts when signals are emitted.

PySide6 6.12.0's ``Signal.emit()`` returns ``True`` without owning a reference;
after a few thousand emissions Python aborts ("deallocating True or False").
The app emits far more than that in a training run, so pyproject.toml keeps
that release out; this test catches a future release with the same fault.
"""

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    plain = Signal()
    value = Signal(object)


def test_emitting_signals_keeps_reference_counts(qapp):
    emitter = Emitter()
    counts = {"plain": 0, "none": 0}

    def on_plain():
        counts["plain"] += 1

    def on_value(v):
        counts["none"] += v is None

    emitter.plain.connect(on_plain)
    emitter.value.connect(on_value)
    before = [sys.getrefcount(x) for x in (True, False, None)]
    for _ in range(200):
        emitter.plain.emit()
        emitter.value.emit(None)
    after = [sys.getrefcount(x) for x in (True, False, None)]
    assert counts == {"plain": 200, "none": 200}
    # Allow a little noise from other threads; a leak shows as hundreds.
    assert all(abs(a - b) < 50 for a, b in zip(after, before)), (before, after)
