"""Rendering with a fake engine: context, reuse, staleness, cancel and resume."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer, render, split_sentences
from csm_desktop.dialogue.voices import VoiceLibrary
from fakes.engine import FakeEngine

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\n[pause 500ms]\nCarol: Hello both!\n"


@pytest.fixture
def setup(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    t = np.arange(24_000 * 3) / 24_000
    sf.write(tmp_path / "alice.wav", 0.4 * np.sin(2 * np.pi * 180 * t), 24_000)
    clip = lib.import_clip(tmp_path / "alice.wav", speaker="Alice", transcript="This is Alice.")
    project = Project.new(SCRIPT)
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(tmp_path / "demo")
    return project, lib, clip


def test_renders_every_line_with_clips_first_then_previous_lines(setup):
    project, lib, clip = setup
    engine = FakeEngine()
    report = render(project, engine, library=lib)
    assert report.generated == [0, 1, 2] and not report.failed
    ctx = engine.calls[2]["context"]
    assert [s.text for s in ctx] == ["This is Alice.", "Hey, how are you doing?", "Pretty good, pretty good."]
    assert [s.speaker for s in ctx] == [0, 0, 1]
    assert ctx[0].codes is None and ctx[0].audio is not None  # the fake engine cannot encode
    assert [c["speaker"] for c in engine.calls] == [0, 1, 2]
    for i in range(3):
        assert (project.takes_dir / f"{project.line(i).chosen_take}.wav").is_file()


def test_unchanged_script_generates_nothing(setup):
    project, lib, _ = setup
    render(project, FakeEngine(), library=lib)
    engine = FakeEngine()
    report = render(project, engine, library=lib)
    assert engine.calls == [] and report.reused == [0, 1, 2]


def test_editing_a_line_makes_it_and_later_context_stale_but_keeps_takes(setup):
    project, lib, _ = setup
    render(project, FakeEngine(), library=lib)
    old = [project.line(i).chosen_take for i in range(3)]
    project.script_text = project.script_text.replace("Pretty good", "Not bad")
    r = Renderer(project, FakeEngine(), lib)
    assert r.statuses() == ["done", "stale", "stale"]
    assert all(r.store.has(k) for k in old)
    engine = FakeEngine()
    report = Renderer(project, engine, lib).render()
    assert report.reused == [0] and report.generated == [1, 2]
    assert Renderer(project, FakeEngine(), lib).statuses() == ["done", "done", "done"]


def test_regenerate_makes_a_new_take_and_keeps_the_old(setup):
    project, lib, _ = setup
    render(project, FakeEngine(), library=lib)
    first = project.line(1).chosen_take
    engine = FakeEngine()
    Renderer(project, engine, lib).render([1], force=True)
    assert project.line(1).chosen_take != first
    takes = Renderer(project, FakeEngine(), lib).store.takes_for("Pretty good, pretty good.", "Bob")
    assert [t.key for t in takes] == [first, project.line(1).chosen_take]
    # choosing the old take again (and its variant) makes it current
    project.line(1).chosen_take, project.line(1).variant = first, takes[0].variant
    assert Renderer(project, FakeEngine(), lib).statuses()[1] == "done"


def test_stop_keeps_finished_takes_and_resume_reuses_them(setup):
    project, lib, _ = setup
    events = []
    done = {"n": 0}

    def on_progress(e):
        events.append((e.line, e.state))
        if e.state == "done":
            done["n"] += 1

    report = render(project, FakeEngine(), library=lib, on_progress=on_progress, should_stop=lambda: done["n"] >= 1)
    assert report.stopped and report.generated == [0]
    assert (0, "done") in events and [s for _, s in events if s != "checked"][-1] == "stopped"
    engine = FakeEngine()
    report = render(project, engine, library=lib)
    assert report.reused == [0] and report.generated == [1, 2]


def test_stop_mid_line_saves_no_partial_take(setup):
    project, lib, _ = setup
    chunks = []
    report = render(project, FakeEngine(), library=lib, on_chunk=lambda i, c: chunks.append(i),
                    should_stop=lambda: len(chunks) >= 3)
    assert report.stopped and report.generated == []
    assert project.line(0).chosen_take is None
    assert list(project.takes_dir.iterdir()) == []


def test_one_failing_line_does_not_stop_the_others(setup):
    project, lib, _ = setup
    report = render(project, FakeEngine(fail_on="Pretty"), library=lib)
    assert list(report.failed) == [1] and "fake failure" in report.failed[1]
    assert report.generated == [0, 2]


def test_long_lines_are_split_at_sentences(setup):
    project, lib, _ = setup
    long_line = " ".join(f"Sentence number {i} is here." for i in range(20))
    project.script_text = f"Alice: {long_line}\n"
    project.settings.max_line_ms = 5_000
    engine = FakeEngine()
    render(project, engine, library=lib)
    texts = [c["text"] for c in engine.calls]
    assert len(texts) > 1 and " ".join(texts) == long_line
    assert all(len(t) <= 5 * 14 for t in texts)


def test_split_sentences_keeps_short_lines_whole():
    assert split_sentences("Short line. Two sentences.", 10_000) == ["Short line. Two sentences."]


def test_context_is_limited_by_the_position_budget(setup):
    project, lib, _ = setup
    project.script_text = "\n".join(f"{'Alice' if i % 2 else 'Bob'}: line {i} " + "word " * 30 for i in range(40))
    engine = FakeEngine(frames_per_char=1.0)
    render(project, engine, library=lib)
    r = Renderer(project, engine, lib)
    for i in range(40):
        plan = r.plan(i)
        used = sum(engine.text_positions(c.transcript, cid) + int(c.duration * 12.5) + 2 for c, cid in plan.clips)
        for j in plan.context:
            info = r.store.info(project.line(j).chosen_take)
            used += engine.text_positions(r.utterances[j].text, 0) + info.frames + 1
        used += engine.text_positions(r.utterances[i].text, 0) + int(max(plan.caps_ms) / 80)
        assert used <= engine.max_seq_len
        assert plan.context == list(range(i - len(plan.context), i))  # the nearest lines
    assert len(r.plan(39).context) < 39


def test_context_restarts_at_a_scene_and_voice_clips_stay_pinned(setup):
    project, lib, _ = setup
    project.script_text = ("Alice: One.\nBob: Two.\n[scene The kitchen]\nCarol: Three.\nAlice: Four.\n"
                           "[scene]\nBob: Five.\n")
    engine = FakeEngine()
    render(project, engine, library=lib)
    contexts = [[s.text for s in call["context"]] for call in engine.calls]
    assert contexts == [["This is Alice."], ["This is Alice.", "One."], ["This is Alice."],
                        ["This is Alice.", "Three."], ["This is Alice."]]
    r = Renderer(project, FakeEngine(), lib)
    assert [r.plan(i).context for i in range(5)] == [[], [0], [], [2], []]
    project.script_text = project.script_text.replace("One.", "Uno.")  # stale only within its scene
    assert Renderer(project, FakeEngine(), lib).statuses() == ["stale", "stale", "done", "done", "done"]
