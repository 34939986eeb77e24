"""Why a line is out of date, with the engine's facts and without them (a project just opened);
per-line seed and temperature; earlier takes of a line's words come back; deleting a take."""

from __future__ import annotations

import copy

import pytest

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer, render
from csm_desktop.dialogue.staleness import LineStatus, line_statuses
from csm_desktop.dialogue.takes import TakeError
from fakes.engine import FakeEngine
from fakes.library import library_with_alice

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\n[pause 500ms]\nCarol: Hello both!\n"


@pytest.fixture
def setup(tmp_path):
    lib, clip = library_with_alice(tmp_path)
    project = Project.new(SCRIPT)
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(tmp_path / "demo")
    render(project, FakeEngine(), library=lib)
    return project, lib, clip


def both(project, lib):
    """The statuses planned with the engine's facts, and those judged from the takes alone."""
    store = Renderer(project, FakeEngine(), lib).store
    return (line_statuses(copy.deepcopy(project), store, lib, FakeEngine()),
            line_statuses(copy.deepcopy(project), store, lib, None))


def test_a_rendered_project_is_current_either_way(setup):
    project, lib, _ = setup
    planned, offline = both(project, lib)
    assert planned == offline == [LineStatus("done")] * 3


def test_changed_words_name_the_line_and_the_lines_that_heard_it(setup):
    project, lib, _ = setup
    project.script_text = project.script_text.replace("Pretty good", "Not bad")
    for statuses in both(project, lib):
        assert statuses == [LineStatus("done"), LineStatus("stale", "its words changed"),
                            LineStatus("stale", "line 2 changed")]
        assert statuses[1].note == "Out of date: its words changed"


def test_a_reopened_project_shows_changed_words_as_stale_without_the_engine(setup):
    """Defect 5: the words of line 4 were edited in the file; no engine is loaded."""
    project, lib, _ = setup
    project.script_text = project.script_text.replace("Hello both!", "Goodbye both!")
    project.save()
    reopened = Project.open(project.folder)
    store = Renderer(reopened, FakeEngine(), lib).store
    assert [s.state for s in line_statuses(reopened, store, lib)] == ["done", "done", "stale"]


def test_a_voice_clip_change_names_its_speaker(setup):
    project, lib, clip = setup
    lib.update(clip.id, transcript="This is Alice speaking.")
    for statuses in both(project, lib):
        assert [s.reason for s in statuses] == ["Alice's voice clips changed"] * 3


def test_settings_and_line_overrides_are_named(setup):
    project, lib, _ = setup
    project.settings.topk = 20
    for statuses in both(project, lib):
        assert statuses[0].reason == "settings changed (top-k)"
    project.settings.topk = 50
    project.line(1).temperature = 0.5
    for statuses in both(project, lib):
        assert [s.state for s in statuses] == ["done", "stale", "stale"]
        assert statuses[1].reason == "settings changed (this line's temperature)"
        assert statuses[2].reason == "line 2 changed"
    project.line(1).temperature = None
    project.line(0).seed = 42
    for statuses in both(project, lib):
        assert statuses[0].reason == "its seed changed"


def test_another_take_for_a_line_makes_the_next_line_stale_offline_too(setup):
    project, lib, _ = setup
    Renderer(project, FakeEngine(), lib).render([0], force=True)
    for statuses in both(project, lib):
        assert statuses[1:] == [LineStatus("stale", "line 1 changed")] * 2


def test_line_overrides_reach_the_engine_and_the_take_key(setup):
    project, lib, _ = setup
    seen = []

    class Recording(FakeEngine):
        def stream(self, text, speaker, context=(), temperature=0.9, seed=None, **kw):
            seen.append((text, temperature, seed))
            return super().stream(text, speaker, context, temperature=temperature, seed=seed, **kw)

    before = project.line(1).chosen_take
    project.line(1).temperature, project.line(1).seed, project.line(1).variant = 0.4, 777, 0
    report = Renderer(project, Recording(), lib).render()
    assert report.generated == [1, 2] and seen[0] == ("Pretty good, pretty good.", 0.4, 777)
    assert project.line(1).chosen_take != before
    Renderer(project, Recording(), lib).render([1], force=True)  # regenerate: the next seed
    assert seen[-1][2] == 778


def test_earlier_takes_come_back_when_the_words_do(setup):
    project, lib, _ = setup
    first = project.line(1).chosen_take
    project.script_text = SCRIPT.replace("Pretty good", "Not bad")
    render(project, FakeEngine(), library=lib)
    store = Renderer(project, FakeEngine(), lib).store
    assert [t.key for t in store.takes_for("Pretty good, pretty good.", "Bob")] == [first]
    project.script_text = SCRIPT
    engine = FakeEngine()
    report = Renderer(project, engine, lib).render()
    assert report.reused == [0, 1, 2] and project.line(1).chosen_take == first and engine.calls == []


def test_deleting_a_take_removes_its_files_and_only_its_own(setup, tmp_path):
    project, lib, _ = setup
    store = Renderer(project, FakeEngine(), lib).store
    key, other = project.line(1).chosen_take, project.line(0).chosen_take
    store.delete(key)
    assert not store.has(key) and not list(store.folder.glob(f"{key}*")) and store.has(other)
    store.delete(key)  # gone already: nothing to do
    with pytest.raises(TakeError):
        store.delete("../../project")
    assert (project.folder / "project.json").is_file()
    project.line(1).chosen_take = key
    assert [s.state for s in both(project, lib)[1]] == ["done", "none", "stale"]
