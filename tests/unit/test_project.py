"""Project files: round trip, atomic saves, clear errors that leave the file alone."""

from __future__ import annotations

import json

import pytest

from csm_desktop.dialogue.project import SCHEMA_VERSION, LineState, Project, ProjectError, Speaker
from csm_desktop.fileio import WriteError

CLIP = "0123456789abcdef0123456789abcdef"
TAKE = "0123456789abcdef01234567"


def _project(tmp_path):
    p = Project.new("Alice: Hi.\nBob: Hello.\n")
    p.speakers = [Speaker("Alice", 0, [CLIP], "#ff0000"), Speaker("Bob", 1)]
    p.lines[1] = LineState(chosen_take=TAKE, variant=2, gap_after_ms=500)
    p.save(tmp_path / "Demo")
    return p


def test_round_trip(tmp_path):
    p = _project(tmp_path)
    assert p.folder == tmp_path / "Demo.csmproj" and p.name == "Demo"
    assert (p.folder / "takes").is_dir()
    q = Project.open(p.folder)
    assert q.to_json() == p.to_json()
    assert q.lines[1] == LineState(TAKE, 2, 500)
    assert Project.open(p.folder / "project.json").script_text == p.script_text


def test_newer_schema_is_refused(tmp_path):
    p = _project(tmp_path)
    data = json.loads((p.folder / "project.json").read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (p.folder / "project.json").write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="newer CSM Desktop"):
        Project.open(p.folder)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.pop("script"), "script is missing"),
    (lambda d: d.update(script=5), "script must be text, not 5"),
    (lambda d: d["speakers"][0].update(csm_id="zero"), "speakers[0].csm_id must be a whole number between 0 and"),
    (lambda d: d["settings"].update(topk=True), "settings.topk must be a whole number between 1 and 2051, not true"),
    (lambda d: d["lines"].update(x={}), "lines has the key 'x', which is not a line number"),
    (lambda d: d.pop("schema_version"), "schema_version is missing"),
])
def test_malformed_fields_are_named_and_the_file_is_untouched(tmp_path, mutate, fragment):
    p = _project(tmp_path)
    data = json.loads((p.folder / "project.json").read_text())
    mutate(data)
    raw = json.dumps(data)
    (p.folder / "project.json").write_text(raw)
    with pytest.raises(ProjectError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Project.open(p.folder)
    assert (p.folder / "project.json").read_text() == raw


def test_not_json(tmp_path):
    p = _project(tmp_path)
    (p.folder / "project.json").write_text("{oops")
    with pytest.raises(ProjectError, match="not valid JSON"):
        Project.open(p.folder)
    with pytest.raises(ProjectError, match="not a CSM Desktop project"):
        Project.open(tmp_path)


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    p = _project(tmp_path)
    before = (p.folder / "project.json").read_text()
    p.script_text = "Alice: changed"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("csm_desktop.fileio.os.fsync", boom)
    with pytest.raises(WriteError, match="Could not write .*project.json"):
        p.save()
    assert (p.folder / "project.json").read_text() == before
    assert [f.name for f in p.folder.iterdir() if f.name.endswith(".part")] == []


def test_speaker_lookup_adds_unknown_names_with_free_ids():
    p = Project.new("[0] a\nAlice: b\nBob: c\n")
    assert p.speaker("0").csm_id == 0
    assert p.speaker("Alice").csm_id == 1
    assert p.speaker("Bob").csm_id == 2
    assert p.speaker("Alice") is p.speakers[1]
