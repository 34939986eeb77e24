"""ui.tasks: jobs each with their own cancel flag and callbacks, on the model's serial lane or
the network pool."""

from __future__ import annotations

import gc
import threading

import pytest

from csm_desktop.errors import Cancelled, CsmError
from csm_desktop.ui.tasks import ModelTasks, NetworkTasks


@pytest.fixture
def made():
    """Task objects without a parent, collected on this thread when the test ends: left to the
    cyclic collector, one could be destroyed from whichever thread runs it next (a lane's)."""
    objects = []
    yield objects
    for tasks in objects:
        tasks.close(5_000)
    objects.clear()
    gc.collect()


def test_each_job_has_its_own_callbacks_and_cancel(qtbot, made):
    tasks = NetworkTasks()
    made.append(tasks)
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

    def busy_model(job):  # a long render on the model's lane
        gate.wait(10)

    w.model_tasks.submit(busy_model, "render")
    w.tasks.submit(lambda job: (_ for _ in ()).throw(CsmError("Gemini refused the key. Check it.")), "a",
                   on_error=lambda message, details: errors.append((message, details)))
    w.tasks.submit(lambda job: "transcript", "b", on_done=done.append)
    qtbot.waitUntil(lambda: bool(errors and done), timeout=5_000)  # while the model is still busy
    assert errors == [("Gemini refused the key. Check it.", "")] and done == ["transcript"]
    gate.set()


def _wait_for(flag: threading.Event, job) -> None:
    while not flag.is_set() and not job.should_stop():
        threading.Event().wait(0.005)


def test_the_model_lane_runs_jobs_one_at_a_time_in_order_on_one_thread(qtbot, made):
    lane = ModelTasks()
    made.append(lane)
    order, threads, done = [], set(), []
    busy = threading.Lock()

    def work(n):
        def fn(job):
            assert busy.acquire(blocking=False), "two model jobs ran at once"
            try:
                threads.add(threading.get_ident())
                order.append(n)
                threading.Event().wait(0.01)
            finally:
                busy.release()
            return n
        return fn

    for n in range(6):
        lane.submit(work(n), f"job {n}", on_done=done.append)
    qtbot.waitUntil(lambda: len(done) == 6, timeout=5_000)
    assert order == done == list(range(6))
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert lane.close(5_000) and not lane.thread.isRunning()


def test_cancel_all_stops_the_running_job_and_the_queued_ones_and_later_jobs_run(qtbot, made):
    lane = ModelTasks()
    made.append(lane)
    began, never = threading.Event(), threading.Event()
    ran, cancelled, done, errors = [], [], [], []

    def running(job):
        began.set()
        _wait_for(never, job)
        return "finished"  # a job that returns after its cancel is still a cancel

    first = lane.submit(running, "running", on_done=done.append, on_cancel=lambda: cancelled.append("running"))
    lane.submit(lambda job: ran.append("queued"), "queued", on_done=done.append,
                on_cancel=lambda: cancelled.append("queued"))
    assert began.wait(5)
    lane.cancel_all()
    qtbot.waitUntil(lambda: cancelled == ["running", "queued"], timeout=5_000)
    assert first.should_stop() and ran == [] and done == [] and errors == []
    lane.submit(lambda job: ran.append("after"), "after", on_done=done.append)
    qtbot.waitUntil(lambda: ran == ["after"], timeout=5_000)
    qtbot.waitUntil(lambda: lane.running == 0, timeout=5_000)
    assert lane.close(5_000)


def test_model_jobs_hear_only_their_own_news_and_a_cancelled_raise_is_a_cancel(qtbot, made):
    lane = ModelTasks()
    made.append(lane)
    heard = {"a": [], "b": []}

    def reporting(name):
        def fn(job):
            job.report(f"{name} 1")
            if name == "b":
                raise Cancelled("the user stopped it")
            return name
        return fn

    for name in ("a", "b"):
        lane.submit(reporting(name), name, on_progress=heard[name].append, on_done=heard[name].append,
                    on_error=lambda m, d, name=name: heard[name].append(("error", m)),
                    on_cancel=lambda name=name: heard[name].append("cancelled"))
    qtbot.waitUntil(lambda: len(heard["a"]) == 2 and len(heard["b"]) == 2, timeout=5_000)
    assert heard == {"a": ["a 1", "a"], "b": ["b 1", "cancelled"]}
    assert lane.close(5_000)


def test_close_cancels_and_waits_and_keeps_a_thread_that_outlasts_the_wait(qtbot, made):
    from csm_desktop.ui import tasks

    lane = ModelTasks()
    made.append(lane)
    began, stopped = threading.Event(), []

    def stoppable(job):
        began.set()
        _wait_for(threading.Event(), job)
        stopped.append(True)

    lane.submit(stoppable, "render")
    assert began.wait(5)
    assert lane.close(5_000) and stopped == [True] and not lane.thread.isRunning()

    stuck = ModelTasks()
    made.append(stuck)
    loading, release = threading.Event(), threading.Event()

    def uninterruptible(job):  # a model still loading: it never looks at its cancel flag
        loading.set()
        release.wait(10)

    stuck.submit(uninterruptible, "load")
    assert loading.wait(5)
    assert not stuck.close(50)
    assert any(entry[0] is stuck.thread for entry in tasks._still_running)  # never destroyed while running
    release.set()
    assert stuck.thread.wait(5_000)
    qtbot.waitUntil(lambda: not any(entry[0] is stuck.thread for entry in tasks._still_running), timeout=5_000)
