"""ui.tasks: network jobs each with their own cancel flag and callbacks, beside the model's worker."""

from __future__ import annotations

import threading

from csm_desktop.errors import Cancelled, CsmError
from csm_desktop.ui.tasks import NetworkTasks


def test_each_job_has_its_own_callbacks_and_cancel(qtbot):
    tasks = NetworkTasks()
    release = threading.Event()
    results, cancelled, progress = [], [], []

    def slow(job):
        job.report(1)
        while not job.should_stop() and not release.is_set():
            threading.Event().wait(0.01)
        if job.should_stop():
            raise Cancelled("stopped")
        return "slow"

    first = tasks.submit(slow, "first", on_done=results.append, on_cancel=lambda: cancelled.append("first"),
                         on_progress=progress.append)
    second = tasks.submit(slow, "second", on_done=results.append, on_cancel=lambda: cancelled.append("second"))
    qtbot.waitUntil(lambda: progress == [1], timeout=5_000)
    first.cancel()  # this one only
    qtbot.waitUntil(lambda: cancelled == ["first"], timeout=5_000)
    assert not second.should_stop()
    release.set()
    qtbot.waitUntil(lambda: results == ["slow"], timeout=5_000)
    assert tasks.running == 0 and tasks.close(5_000)


def test_errors_are_described_once_and_a_network_job_does_not_wait_behind_the_model(make_window, qtbot):
    w = make_window()
    gate, errors, done = threading.Event(), [], []

    def busy_model(worker, job, should_stop):  # a long render on the model's worker
        gate.wait(10)

    w.workers.worker.submit(busy_model, "render")
    w.tasks.submit(lambda job: (_ for _ in ()).throw(CsmError("Gemini refused the key. Check it.")), "a",
                   on_error=lambda message, details: errors.append((message, details)))
    w.tasks.submit(lambda job: "transcript", "b", on_done=done.append)
    qtbot.waitUntil(lambda: bool(errors and done), timeout=5_000)  # while the model is still busy
    assert errors == [("Gemini refused the key. Check it.", "")] and done == ["transcript"]
    gate.set()
