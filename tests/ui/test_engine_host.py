"""ui.engine_host: the engine's one owner loads it inside model jobs, reloads it after a settings
change (after the current job, even when Stop cancels the release), and tells the window facts."""

from __future__ import annotations

import gc
import threading

import pytest

from csm_desktop.ui.engine_host import EngineHost
from csm_desktop.ui.tasks import ModelTasks
from fakes.engine import FakeEngine


@pytest.fixture
def lane():
    lane = ModelTasks()
    yield lane
    lane.close(5_000)
    del lane
    gc.collect()  # on this thread, not a later test's lane


def test_loads_once_says_so_and_tells_facts_on_the_gui_thread(qtbot, lane):
    made, ready, news, got = [], [], [], []
    host = EngineHost(lambda: made.append(FakeEngine()) or made[-1], lane)
    host.ready.connect(lambda facts: ready.append((facts, threading.current_thread() is threading.main_thread())))
    for _ in range(2):
        lane.submit(lambda job: host.engine_for(job, "Preparing the model…"), "render",
                    on_progress=news.append, on_done=got.append)
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5_000)
    assert len(made) == 1 and got == [made[0], made[0]]
    assert news == ["Preparing the model…"]  # said once: the second job found it loaded
    (facts, on_gui), = ready
    assert on_gui and facts.model_id == "fake-engine" and not facts.remote and facts.label == ""
    assert facts.planner.max_seq_len == 2048 and facts.planner.text_positions("Hi.", 0) > 0
    host.deleteLater()


def test_a_settings_change_takes_effect_after_the_running_job_even_when_stopped(qtbot, lane):
    made, got, released = [], [], []
    host = EngineHost(lambda: made.append(FakeEngine()) or made[-1], lane)
    host.released.connect(lambda: released.append(True))
    gate, inside = threading.Event(), threading.Event()

    def render(job):
        host.engine_for(job)
        inside.set()
        gate.wait(10)

    lane.submit(render, "render")
    assert inside.wait(5)
    host.settings_changed()
    lane.cancel_all()  # Stop: cancels the render and the release queued behind it
    gate.set()
    qtbot.waitUntil(lambda: released == [True], timeout=5_000)
    assert len(made) == 1  # nothing reloaded under the render
    lane.submit(lambda job: host.engine_for(job), "next", on_done=got.append)
    qtbot.waitUntil(lambda: len(got) == 1, timeout=5_000)
    assert len(made) == 2 and got == [made[1]]  # the next job loaded what the new settings ask for
    host.deleteLater()
