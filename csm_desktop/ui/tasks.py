"""Work off the GUI thread, per job: the model's serial lane and a small pool for network work.

``submit(fn, label, on_done=, on_error=, on_progress=, on_cancel=)`` runs ``fn(job)`` and returns
the :class:`Job`: it owns its cancel flag (``job.cancel()`` stops that job and no other), and its
callbacks run on the GUI thread for that job only (Picard's ``run_task``, Anki's task manager), so
nobody filters broadcast signals by job id. ``fn`` reads ``job.should_stop()`` and reports through
``job.report(value)``; a :class:`~csm_desktop.errors.Cancelled` it raises is a cancel, never an
error.

- :class:`ModelTasks`: one long-lived thread owns the model and runs jobs one at a time, in
  submission order (renders, loading the engine, waking a remote one).
- :class:`NetworkTasks`: a small pool (Gemini, downloads), so a transcription never waits
  behind a render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from csm_desktop.errors import Cancelled
from csm_desktop.ui.errors import describe


class Job(QObject):
    """One submitted task. Its signals are emitted from the worker and delivered on the GUI thread."""

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


def _execute(job: Job, fn: Callable[[Job], object]) -> None:
    """Run ``fn(job)`` on the calling (worker) thread and tell the job's listeners how it ended."""
    if job.should_stop():  # cancelled while it waited
        job.cancelled.emit()
        return
    try:
        result = fn(job)
    except Cancelled:
        job.cancelled.emit()
    except Exception as exc:  # shown to the user (ui.errors decides how), never swallowed
        job.failed.emit(*describe(exc))
    else:
        if job.should_stop():
            job.cancelled.emit()
        else:
            job.succeeded.emit(result)


class _Tasks(QObject):
    """What both kinds share: jobs with their own callbacks, cancelled all at once on close."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        self._dispatch(job, fn)
        return job

    def _dispatch(self, job: Job, fn: Callable[[Job], object]) -> None:
        raise NotImplementedError

    @property
    def running(self) -> int:
        """Jobs submitted whose end the GUI thread has not yet heard of."""
        return len(self._jobs)

    def _ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.discard(job)
            job.deleteLater()

    def cancel_all(self) -> None:
        """Cancel the running jobs and every queued one; a job submitted afterwards runs."""
        for job in list(self._jobs):
            job.cancel()


class NetworkTasks(_Tasks):
    """A small pool for network jobs; :meth:`close` cancels them and waits."""

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)

    def _dispatch(self, job: Job, fn: Callable[[Job], object]) -> None:
        self.pool.start(_Run(job, fn))

    def close(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for the pool (a download stops within a chunk)."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)


class _Run(QRunnable):
    def __init__(self, job: Job, fn: Callable[[Job], object]) -> None:
        super().__init__()
        self.job = job
        self.fn = fn

    def run(self) -> None:
        _execute(self.job, self.fn)


class _Lane(QObject):
    """Lives in the model's thread: its queued slot runs the jobs in the order they were sent."""

    run = Signal(object, object)  # job, fn

    def __init__(self) -> None:
        super().__init__()
        self.run.connect(self._run)

    @Slot(object, object)
    def _run(self, job: Job, fn: Callable[[Job], object]) -> None:
        _execute(job, fn)


_still_running: list[tuple[QThread, _Lane, list[Job]]] = []  # lanes that outlived close(): never destroy a running QThread


class ModelTasks(_Tasks):
    """The model's lane: one long-lived QThread runs one job at a time, in submission order, so
    the engine is only ever used from that thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("csm-model")
        self._lane = _Lane()
        self._lane.moveToThread(self.thread)
        self.thread.start()

    def _dispatch(self, job: Job, fn: Callable[[Job], object]) -> None:
        self._lane.run.emit(job, fn)  # queued to the lane's thread, behind the jobs sent before

    def close(self, timeout_ms: int = 60_000) -> bool:
        """Cancel every job (the running one stops within a frame), end the thread and wait for
        it. A job that cannot be interrupted (a model still loading) may outlast the wait: the
        thread, its lane and its jobs are then kept referenced until it ends, because destroying
        a running QThread aborts the process."""
        self.cancel_all()
        self.thread.quit()
        if self.thread.wait(timeout_ms):
            return True
        jobs = list(self._jobs)
        for job in jobs:
            job.setParent(None)  # outlives this object, which the window may delete
        entry = (self.thread, self._lane, jobs)
        _still_running.append(entry)
        self.thread.finished.connect(lambda: _still_running.remove(entry))
        return False
