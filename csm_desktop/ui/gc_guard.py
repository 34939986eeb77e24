"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate. When that is the
engine thread, it may finalise Qt objects that belong to the GUI thread, and the process
crashes (seen here: a segfault inside "Garbage-collecting" while the worker loaded a model).
While a window is open, automatic collection is off and a GUI-thread timer collects instead,
generation by generation as the counts pass the usual thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_users = 0
_guard: "_GuiThreadCollector | None" = None


class _GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = 500) -> None:
        super().__init__()
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)

    def collect(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if all(counts[g] > self.thresholds[g] for g in range(generation + 1)):
                gc.collect(generation)
                return


def freeze() -> None:
    """Move what exists now (libraries, the loaded model) out of the collector's sight: it lives
    as long as the app, and full collections over it stalled the window for 200+ ms."""
    gc.collect()
    gc.freeze()


def acquire() -> None:
    """A window opened: collect on the GUI thread from now on."""
    global _users, _guard
    if _guard is None:
        _guard = _GuiThreadCollector()
    if _users == 0:
        gc.disable()
        freeze()
        _guard.timer.start()
    _users += 1


def release() -> None:
    """A window closed (on the GUI thread, its worker already stopped)."""
    global _users
    _users = max(0, _users - 1)
    if _users == 0 and _guard is not None:
        _guard.timer.stop()
        gc.unfreeze()
        gc.collect()
        gc.enable()
