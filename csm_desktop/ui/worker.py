"""One long-lived inference thread that owns the engine and runs one job at a time.

The worker never touches widgets: it reports through signals, each carrying the job id so that
the window can drop results of jobs it no longer cares about. Stop sets a flag the engine
checks every frame.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from csm_desktop.errors import Cancelled
from csm_desktop.ui.errors import describe


class EngineWorker(QObject):
    started = Signal(int, str)  # job id, description
    progress = Signal(int, object)  # job id, RenderEvent
    chunk = Signal(int, int, object)  # job id, line, float32 ndarray
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str, str)  # job id, message, details
    cancelled = Signal(int)
    engine_ready = Signal(object)  # the engine
    _run = Signal(int, object, str)  # internal: job id, callable(should_stop, emit_progress, emit_chunk), label

    def __init__(self) -> None:
        super().__init__()
        self.engine = None
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._last_submitted = 0
        self._stopped_through = 0  # jobs up to this id were stopped, queued ones included
        self._run.connect(self._execute)

    def submit(self, fn, label: str) -> int:
        """Queue ``fn(worker, should_stop)`` to run on the worker thread; returns the job id."""
        job = self._last_submitted = next(self._ids)
        self._run.emit(job, fn, label)
        return job

    def stop(self) -> None:
        """Stop the running job (within one frame) and every job queued behind it: Stop pressed
        while a render waits behind another job (a remote warm-up) stops the render too."""
        self._stopped_through = self._last_submitted
        self._stop.set()

    @Slot(int, object, str)
    def _execute(self, job: int, fn, label: str) -> None:
        self._stop.clear()  # before the check: a Stop pressed in between is still seen
        if job <= self._stopped_through:
            self.cancelled.emit(job)
            return
        self.started.emit(job, label)
        try:
            result = fn(self, job, self._stop.is_set)
        except Cancelled:
            self.cancelled.emit(job)
        except Exception as exc:  # shown to the user (ui.errors decides how), never swallowed
            self.failed.emit(job, *describe(exc))
        else:
            if self._stop.is_set():
                self.cancelled.emit(job)
            else:
                self.finished.emit(job, result)

    def emit_chunk(self, job: int, line: int, audio) -> None:
        self.chunk.emit(job, line, np.asarray(audio, dtype=np.float32))


_still_running: list["WorkerThread"] = []  # threads that outlived close(): never destroy a running QThread


class WorkerThread:
    """Owns the QThread and the worker in it; ``close()`` stops and joins it."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("csm-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def close(self, timeout_ms: int = 60_000) -> bool:
        """Stop the job (within a frame), end the thread and wait for it. A job that cannot be
        interrupted (a model still loading) may outlast the wait: the thread is then kept
        referenced until it ends, because destroying a running QThread aborts the process."""
        self.worker.stop()
        self.thread.quit()
        if self.thread.wait(timeout_ms):
            return True
        _still_running.append(self)
        self.thread.finished.connect(lambda: _still_running.remove(self))
        return False
