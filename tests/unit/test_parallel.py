"""Rendering scenes in parallel with fake engines: the same takes as one engine line by line,
serialised callbacks, stop, failures that stay in their line, and refusals."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError
from fakes.engine import FakeEngine

SCENES = 5
SCRIPT = "".join(f"[scene {s}]\nAlice: Scene {s} opens.\nBob: Scene {s}, line two.\nAlice: Scene {s} closes.\n"
                 for s in range(SCENES))


class ContextEngine(FakeEngine):
    """A fake whose audio depends on its context, as the model's does: a take made with the wrong
    context differs."""

    def stream(self, text, speaker, context=(), seed=None, **kwargs):
        shift = sum(len(s.text) for s in context)
        yield from super().stream(text, speaker, context, seed=(seed or 0) + shift, **kwargs)


class GatedEngine(ContextEngine):
    """Waits, inside its first line, until ``peers`` engines are inside a line at once."""

    def __init__(self, meeting: threading.Barrier, **kwargs) -> None:
        super().__init__(**kwargs)
        self.meeting = meeting

    def stream(self, *args, **kwargs):
        if self.meeting is not None:
            self.meeting.wait(timeout=30)
            self.meeting = None
        yield from super().stream(*args, **kwargs)


@pytest.fixture
def library(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    t = np.arange(24_000 * 2) / 24_000
    sf.write(tmp_path / "alice.wav", 0.4 * np.sin(2 * np.pi * 180 * t), 24_000)
    return lib, lib.import_clip(tmp_path / "alice.wav", speaker="Alice", transcript="This is Alice.")


def _project(folder, library, script=SCRIPT, seed=7):
    lib, clip = library
    project = Project.new(script)
    project.settings.seed = seed
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(folder)
    return project


def _takes(project):
    """Each line's chosen take and its samples, bit for bit (not the file's bytes: a float WAV's
    PEAK chunk holds the time it was written)."""
    n = len(project.script().utterances)
    keys = [project.line(i).chosen_take for i in range(n)]
    return keys, [sf.read(project.takes_dir / f"{k}.wav", dtype="float32")[0].tobytes() if k else None for k in keys]


def test_parallel_renders_the_takes_one_engine_renders(tmp_path, library):
    lib = library[0]
    one = _project(tmp_path / "one", library)
    sequential = Renderer(one, ContextEngine(), lib).render()
    many = _project(tmp_path / "many", library)
    meeting = threading.Barrier(3)  # all three engines inside a line at once, or the test times out
    engines = [GatedEngine(meeting) for _ in range(3)]
    report = render_parallel(many, engines, library=lib)
    assert report == sequential and report.generated == list(range(3 * SCENES))
    assert _takes(many) == _takes(one)
    assert sum(len(e.calls) for e in engines) == 3 * SCENES and all(e.calls for e in engines)
    again = render_parallel(many, [ContextEngine(), ContextEngine()], library=lib)
    assert again.reused == list(range(3 * SCENES)) and not again.generated


def test_some_lines_and_a_new_variant_as_one_engine_would(tmp_path, library):
    lib = library[0]
    one, many = _project(tmp_path / "one", library), _project(tmp_path / "many", library)
    Renderer(one, ContextEngine(), lib).render()
    render_parallel(many, [ContextEngine() for _ in range(2)], library=lib)
    a = Renderer(one, ContextEngine(), lib).render([4, 1, 10], force=True)
    b = render_parallel(many, [ContextEngine() for _ in range(3)], library=lib, lines=[10, 4, 1, 4], force=True)
    assert a == b and b.generated == [1, 4, 10]
    assert _takes(many) == _takes(one)
    assert [many.line(i).variant for i in range(15)] == [one.line(i).variant for i in range(15)]


def test_progress_is_serialised_and_counts_over_the_whole_render(tmp_path, library):
    project = _project(tmp_path / "p", library)
    events, inside = [], threading.Lock()

    def on_progress(event):
        assert inside.acquire(blocking=False), "two callbacks at once"
        try:
            events.append(event)
        finally:
            inside.release()

    def on_chunk(line, chunk):
        assert inside.acquire(blocking=False), "two callbacks at once"
        inside.release()

    render_parallel(project, [ContextEngine() for _ in range(3)], library=library[0], on_progress=on_progress,
                    on_chunk=on_chunk)
    total = 3 * SCENES
    assert [e.line for e in events[:total]] == list(range(total)) and {e.state for e in events[:total]} == {"queued"}
    assert all(e.lines_total == total for e in events)
    done = [e.lines_done for e in events]
    assert done == sorted(done) and done[-1] == total
    finished = [e for e in events if e.state == "done"]
    assert sorted(e.line for e in finished) == list(range(total))
    assert [e.lines_done for e in finished] == list(range(1, total + 1))


def test_only_the_lowest_scene_still_rendering_is_played(tmp_path, library):
    """Scene 0's engine holds its second line until scene 1 has finished its first: that line of
    scene 1 must not be played; scene 0's lines are, whole, in order."""
    script = "".join(f"[scene]\nAlice: Scene {s} opens.\nBob: Scene {s}, line two.\n" for s in range(2))
    project = _project(tmp_path / "p", library, script)
    scene1_done = threading.Event()

    class HoldingEngine(ContextEngine):
        def stream(self, text, *args, **kwargs):
            if text == "Scene 0, line two.":
                assert scene1_done.wait(timeout=30)
            yield from super().stream(text, *args, **kwargs)

    def on_progress(event):
        if event.state == "done" and event.line == 2:
            scene1_done.set()

    chunks: list[int] = []
    render_parallel(project, [HoldingEngine(), HoldingEngine()], library=library[0], on_progress=on_progress,
                    on_chunk=lambda line, chunk: chunks.append(line))
    assert 2 not in chunks and {0, 1} <= set(chunks) <= {0, 1, 3}  # 3 only if scene 0 had ended by then
    assert chunks == sorted(chunks)
    frames = {i: len(u.text) // 2 for i, u in enumerate(project.script().utterances)}  # what FakeEngine makes
    assert all(chunks.count(i) == frames[i] for i in set(chunks))


def test_stop_stops_every_worker_and_a_resume_finishes_the_same(tmp_path, library):
    lib = library[0]
    project = _project(tmp_path / "p", library)
    done = []
    report = render_parallel(project, [ContextEngine() for _ in range(3)], library=lib,
                             on_progress=lambda e: done.append(e.line) if e.state == "done" else None,
                             should_stop=lambda: len(done) >= 4)
    assert report.stopped and 4 <= len(report.generated) < 3 * SCENES
    assert sorted(done) == report.generated
    takes = [p for p in project.takes_dir.iterdir() if p.suffix == ".wav"]
    assert len(takes) == len(report.generated)  # no partial take
    assert not [t for t in threading.enumerate() if t.name.startswith("csm-render")]
    resumed = render_parallel(project, [ContextEngine() for _ in range(3)], library=lib)
    assert sorted(resumed.reused + resumed.generated) == list(range(3 * SCENES))
    one = _project(tmp_path / "one", library)
    Renderer(one, ContextEngine(), lib).render()
    assert _takes(project) == _takes(one)


def test_a_failing_line_fails_alone_and_other_scenes_finish(tmp_path, library):
    project = _project(tmp_path / "p", library)

    class PlanFails(ContextEngine):
        def text_positions(self, text, speaker):
            if text == "Scene 3 opens.":
                raise CsmError("planning refused this line")
            return super().text_positions(text, speaker)

    report = render_parallel(project, [PlanFails(fail_on="Scene 1, line two") for _ in range(2)],
                             library=library[0])
    assert sorted(report.failed) == [4, 9]
    assert "fake failure" in report.failed[4] and "planning refused" in report.failed[9]
    assert report.generated == [i for i in range(3 * SCENES) if i not in (4, 9)] and not report.stopped


def test_an_unexpected_error_stops_the_others_and_is_raised(tmp_path, library):
    """One worker's engine breaks while the other is inside a line that ends only when it is
    told to stop: the other is stopped, and the error comes out of render_parallel."""
    project = _project(tmp_path / "p", library)
    other_started, other_stopped = threading.Event(), threading.Event()

    class Broken(ContextEngine):
        def stream(self, text, speaker, context=(), should_stop=None, **kwargs):
            self.calls.append({"text": text})
            if text == "Scene 0 opens.":
                other_started.wait(timeout=30)
                raise RuntimeError("engine bug")
            other_started.set()
            for _ in range(3000):
                if should_stop():
                    other_stopped.set()
                    return
                time.sleep(0.01)
            yield from ()

    engines = [Broken() for _ in range(2)]
    with pytest.raises(RuntimeError, match="engine bug"):
        render_parallel(project, engines, library=library[0])
    assert other_stopped.is_set()
    assert sorted(c["text"] for e in engines for c in e.calls) == ["Scene 0 opens.", "Scene 1 opens."]
    assert not [t for t in threading.enumerate() if t.name.startswith("csm-render")]
    assert not [p for p in project.takes_dir.iterdir() if p.suffix == ".wav"]


def test_the_same_opening_line_in_two_scenes_is_generated_once(tmp_path, library):
    script = "[scene]\nAlice: Once upon a time.\nBob: One.\n[scene]\nAlice: Once upon a time.\nBob: Two.\n"
    project = _project(tmp_path / "p", library, script)
    engines = [ContextEngine() for _ in range(2)]
    report = render_parallel(project, engines, library=library[0])
    assert project.line(0).chosen_take == project.line(2).chosen_take
    assert [c["text"] for e in engines for c in e.calls].count("Once upon a time.") == 1
    assert sorted(report.generated + report.reused) == [0, 1, 2, 3] and len(report.reused) == 1


def test_one_engine_is_exactly_renderer_render(tmp_path, library):
    lib = library[0]
    seen = {}
    for name in ("renderer", "parallel"):
        project = _project(tmp_path / name, library)
        events, chunks = [], []
        kwargs = dict(on_progress=events.append, on_chunk=lambda line, chunk: chunks.append(line), lines=[5, 0, 1])
        if name == "renderer":
            lines = kwargs.pop("lines")
            report = Renderer(project, ContextEngine(), lib).render(lines, **kwargs)
        else:
            report = render_parallel(project, [ContextEngine()], library=lib, **kwargs)
        # Checks arrive from their own thread, whenever they finish: compared as a set.
        checked = {(e.line, e.key, tuple(e.check.problems) if e.check else None) for e in events if e.state == "checked"}
        seen[name] = (report, [e for e in events if e.state != "checked"], checked, chunks, _takes(project))
    assert seen["renderer"] == seen["parallel"]
    assert len(seen["renderer"][2]) == 3  # one check a take


def test_refusals(tmp_path, library):
    project = _project(tmp_path / "p", library)
    other = ContextEngine()
    other.model_id = "another-model"
    with pytest.raises(CsmError, match="different models"):
        render_parallel(project, [ContextEngine(), other], library=library[0])
    engine = ContextEngine()
    with pytest.raises(ValueError, match="twice"):
        render_parallel(project, [engine, engine], library=library[0])
    with pytest.raises(ValueError, match="at least one"):
        render_parallel(project, [], library=library[0])
    with pytest.raises(CsmError, match="no voice library"):
        render_parallel(project, [ContextEngine(), ContextEngine()])
    assert not list(project.takes_dir.iterdir())
