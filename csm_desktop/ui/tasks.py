"""Network work off the GUI thread (Gemini, downloads), per job, beside the model's serial worker.

``NetworkTasks.submit(fn, label, on_done=, on_error=, on_progress=, on_cancel=)`` runs
``fn(job)`` on a small thread pool and returns the :class:`Job`: it owns its cancel flag
(``job.cancel()`` stops that job and no other), and its callbacks run on the GUI thread for that
job only (Picard's ``run_task``, Anki's task manager). So a transcription no longer waits behind a
render, and cancelling a download cancels the download. ``fn`` reads ``job.should_stop()`` and
reports through ``job.report(value)``; a :class:`~csm_desktop.errors.Cancelled` it raises is a
cancel, never an error. The render and the engine stay on the model's one worker thread
(:mod:`csm_desktop.ui.worker`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from csm_desktop.errors import Cancelled
from csm_desktop.ui.errors import describe


class Job(QObject):
    """One submitted task. Its signals are emitted from the pool and delivered on the GUI thread."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details (see ui.errors.describe)
    cancelled = Signal()

    def __init__(self, label: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Ask this job (only) to stop at its next check."""
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def report(self, value: object) -> None:
        """Progress from the job's own thread, for its ``on_progress`` on the GUI thread."""
        self.progressed.emit(value)


class _Run(QRunnable):
    def __init__(self, job: Job, fn: Callable[[Job], object]) -> None:
        super().__init__()
        self.job = job
        self.fn = fn

    def run(self) -> None:
        job = self.job
        if job.should_stop():
            job.cancelled.emit()
            return
        try:
            result = self.fn(job)
        except Cancelled:
            job.cancelled.emit()
        except Exception as exc:  # shown to the user (ui.errors decides how), never swallowed
            job.failed.emit(*describe(exc))
        else:
            if job.should_stop():
                job.cancelled.emit()
            else:
                job.succeeded.emit(result)


class NetworkTasks(QObject):
    """A small pool for network jobs; :meth:`close` cancels them and waits."""

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._jobs: set[Job] = set()

    def submit(self, fn: Callable[[Job], object], label: str, *,
               on_done: Callable[[object], None] | None = None,
               on_error: Callable[[str, str], None] | None = None,
               on_progress: Callable[[object], None] | None = None,
               on_cancel: Callable[[], None] | None = None) -> Job:
        job = self.job(label)
        for signal, slot in ((job.succeeded, on_done), (job.failed, on_error), (job.progressed, on_progress),
                             (job.cancelled, on_cancel)):
            if slot is not None:
                signal.connect(slot)
        return self.start(job, fn)

    def job(self, label: str) -> Job:
        """A job to connect to before :meth:`start` (a signal emitted before a connection is lost)."""
        job = Job(label, self)  # lives on the GUI thread: its signals arrive there
        self._jobs.add(job)
        return job

    def start(self, job: Job, fn: Callable[[Job], object]) -> Job:
        # Connected last, so that it runs after the caller's slots: deleting the job earlier
        # would drop their queued calls.
        for signal in (job.succeeded, job.failed, job.cancelled):
            signal.connect(lambda *_, job=job: self._ended(job))
        self.pool.start(_Run(job, fn))
        return job

    @property
    def running(self) -> int:
        return len(self._jobs)

    def _ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.discard(job)
            job.deleteLater()

    def close(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for the pool (a download stops within a chunk)."""
        for job in list(self._jobs):
            job.cancel()
        return self.pool.waitForDone(timeout_ms)
