"""The length cap from a line's text, and where a render takes it from."""

from __future__ import annotations

import json

import pytest

from csm_desktop.dialogue import pacing
from csm_desktop.dialogue.project import GenerationSettings, Project
from csm_desktop.dialogue.render import Renderer
from fakes.engine import FakeEngine


def test_cap_grows_with_the_text_in_whole_frames():
    short, long = pacing.text_cap_ms("Yes."), pacing.text_cap_ms("word " * 60)
    assert short % 80 == 0 and long % 80 == 0
    assert 2_000 < short < 3_000  # a margin for a breath even when the text is one word
    assert long > 2 * pacing.expected_speech_s("word " * 60) * 1000
    assert pacing.text_cap_ms("x " * 100_000) == pacing.MAX_CAP_MS


def test_white_space_runs_count_once():
    assert pacing.spoken_chars("Hello   there,\n  you.") == len("Hello there, you.")


def test_line_cap_is_the_users_when_set_and_at_most_the_ceiling_otherwise():
    text = "The quick brown fox jumps over the lazy dog."
    assert pacing.line_cap_ms(text, 15_000, True) == pacing.text_cap_ms(text)
    assert pacing.line_cap_ms(text, 1_000, True) == 1_000
    assert pacing.line_cap_ms(text, 9_000, False) == 9_000


def _project(tmp_path, **settings) -> Project:
    project = Project.new("Alice: Yes.\nBob: We should leave before the rain starts, or we will be soaked.\n")
    for name, value in settings.items():
        setattr(project.settings, name, value)
    project.save(tmp_path / "p")
    return project


def test_render_caps_each_line_from_its_text(tmp_path):
    project = _project(tmp_path)
    engine = FakeEngine()
    Renderer(project, engine).render()
    caps = [call["max_ms"] for call in engine.calls]
    texts = [u.text for u in project.script().utterances]
    assert caps == [pacing.text_cap_ms(t) for t in texts]
    assert caps[0] < caps[1] < 15_000


def test_a_user_cap_applies_to_every_line(tmp_path):
    project = _project(tmp_path, cap_from_text=False, max_line_ms=7_000)
    engine = FakeEngine()
    Renderer(project, engine).render()
    assert [call["max_ms"] for call in engine.calls] == [7_000, 7_000]


def test_the_cap_mode_is_part_of_a_takes_key(tmp_path):
    project = _project(tmp_path)
    auto = Renderer(project, FakeEngine()).plan(1).key
    project.settings.cap_from_text = False
    assert Renderer(project, FakeEngine()).plan(1).key != auto


def test_new_projects_cap_from_text_and_the_setting_round_trips(tmp_path):
    assert Project.new().settings.cap_from_text is True
    project = _project(tmp_path, cap_from_text=False)
    assert Project.open(project.folder).settings.cap_from_text is False
    project.settings.cap_from_text = True
    project.save()
    assert Project.open(project.folder).settings.cap_from_text is True


def test_older_project_files_keep_their_fixed_cap(tmp_path):
    """A project.json written before the setting existed renders as it did: max_line_ms for every
    line, so its takes stay current."""
    project = _project(tmp_path)
    data = json.loads((project.folder / "project.json").read_text())
    del data["settings"]["cap_from_text"]
    (project.folder / "project.json").write_text(json.dumps(data))
    assert Project.open(project.folder).settings.cap_from_text is False
    assert GenerationSettings().cap_from_text is True


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_cap_from_text_must_be_true_or_false(tmp_path, value):
    from csm_desktop.dialogue.project import ProjectError

    data = _project(tmp_path).to_json()
    data["settings"]["cap_from_text"] = value
    with pytest.raises(ProjectError, match="settings.cap_from_text must be true or false"):
        Project.from_json(data)
