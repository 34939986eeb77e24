"""project.json is checked where it enters: every field for its type and range, named in the
message; fuzzed values give a ProjectError or a project, never another exception; a refused
file is left as it is; whatever the app saves, it opens again."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csm_desktop.dialogue.project import (
    MAX_CSM_ID, MAX_SEED, MAX_VARIANT, GenerationSettings, LineState, Project, ProjectError, Speaker,
)
from csm_desktop.fileio import STALE_AFTER_S

TAKE = "0123456789abcdef01234567"
CLIP = "0123456789abcdef0123456789abcdef"


def _valid() -> dict:
    return {
        "schema_version": 1,
        "script": "Alice: Hi.\nBob: Hello.\n",
        "speakers": [{"name": "Alice", "csm_id": 0, "clip_ids": [CLIP], "color": "#2f7ed8"},
                     {"name": "Bob", "csm_id": 1, "clip_ids": [], "color": None}],
        "settings": {"temperature": 0.9, "topk": 50, "max_line_ms": 15000, "seed": 7, "default_gap_ms": 300},
        "lines": {"0": {"chosen_take": TAKE, "variant": 1, "gap_after_ms": 500}, "1": {"chosen_take": None}},
    }


def _refused(data) -> str:
    with pytest.raises(ProjectError) as caught:
        Project.from_json(data)
    return str(caught.value)


def test_a_valid_file_loads():
    p = Project.from_json(_valid())
    assert p.lines[0] == LineState(TAKE, 1, 500) and p.speakers[0].clip_ids == [CLIP]
    assert p.settings == GenerationSettings(0.9, 50, 15000, 7, 300, cap_from_text=False)  # an older file: fixed cap


def _set(path: str, value):
    def mutate(d):
        *parents, last = path.split("/")
        for part in parents:
            d = d[int(part)] if isinstance(d, list) else d[part]
        d[int(last) if isinstance(d, list) else last] = value
    return mutate


@pytest.mark.parametrize("path, value, message", [
    ("lines/0/gap_after_ms", -5, "lines[0].gap_after_ms must be a whole number between 0 and 60000 ms, not -5."),
    ("lines/0/gap_after_ms", 10**9, "lines[0].gap_after_ms must be a whole number between 0 and 60000 ms, "
                                    "not 1000000000."),
    ("lines/0/gap_after_ms", 2.5, "lines[0].gap_after_ms must be a whole number between 0 and 60000 ms, not 2.5."),
    ("lines/0/variant", True, "lines[0].variant must be a whole number between 0 and 2147483647, not true."),
    ("lines/0/chosen_take", "../../x", "lines[0].chosen_take must be text of the form 24 hex digits (a take's name) "
                                       "or null, not '../../x'."),
    ("lines/0/chosen_take", "/etc/passwd", "lines[0].chosen_take must be text of the form 24 hex digits"),
    ("lines/0/chosen_take", TAKE.upper(), "lines[0].chosen_take must be text of the form 24 hex digits"),
    ("lines/0/chosen_take", TAKE + "\n", "lines[0].chosen_take must be text of the form 24 hex digits"),
    ("schema_version", 0, "schema_version must be a whole number from 1, not 0."),
    ("schema_version", True, "schema_version must be a whole number from 1, not true."),
    ("schema_version", 1.0, "schema_version must be a whole number from 1, not 1.0."),
    ("settings/temperature", float("nan"), "settings.temperature must be a number between 0.01 and 5, not nan."),
    ("settings/temperature", float("inf"), "settings.temperature must be a number between 0.01 and 5, not inf."),
    ("settings/temperature", 10**4000, "settings.temperature must be a number between 0.01 and 5, not a number of "
                                       "about 4001 digits."),
    ("settings/temperature", 0, "settings.temperature must be a number between 0.01 and 5, not 0."),
    ("settings/topk", 0, "settings.topk must be a whole number between 1 and 2051, not 0."),
    ("settings/max_line_ms", 10, "settings.max_line_ms must be a whole number between 80 and 163840 ms, not 10."),
    ("settings/seed", -1, f"settings.seed must be a whole number between 0 and {MAX_SEED}, not -1."),
    ("settings/default_gap_ms", -278, "settings.default_gap_ms must be a whole number between 0 and 60000 ms"),
    ("settings", [], "settings must be a JSON object, not a list."),
    ("lines", "²", "lines must be a JSON object, not '²'."),
    ("script", "Alice: \ud800", "script must be text without broken characters (one is at position 7)"),
    ("script", None, "script must be text, not null."),
    ("speakers", {}, "speakers must be a list, not an object."),
    ("speakers/0", "Alice", "speakers[0] must be a JSON object, not 'Alice'."),
    ("speakers/0/name", "", "speakers[0].name must be text of 1 to 100 characters, not ''."),
    ("speakers/0/name", "x" * 101, "speakers[0].name must be text of 1 to 100 characters, not 'xxxxxxxxx"),
    ("speakers/0/csm_id", -1, f"speakers[0].csm_id must be a whole number between 0 and {MAX_CSM_ID}, not -1."),
    ("speakers/0/clip_ids", [CLIP, "../clips/x"], "speakers[0].clip_ids[1] must be text of the form 32 hex digits"),
    ("speakers/0/clip_ids", [{"id": 1}], "speakers[0].clip_ids[0] must be text, not an object."),
    ("speakers/0/color", "red; rm -rf", "speakers[0].color must be text of the form #rrggbb or null"),
    ("lines/0/seed", -1, "lines[0].seed must be a whole number between 0 and 4294967295, not -1."),
    ("lines/0/seed", 2**32, "lines[0].seed must be a whole number between 0 and 4294967295, not 4294967296."),
    ("lines/0/seed", "7", "lines[0].seed must be a whole number between 0 and 4294967295, not '7'."),
    ("lines/0/temperature", 0, "lines[0].temperature must be a number between 0.01 and 5, not 0."),
    ("lines/0/temperature", True, "lines[0].temperature must be a number between 0.01 and 5, not true."),
    ("lines/0/temperature", float("nan"), "lines[0].temperature must be a number between 0.01 and 5, not nan."),
    ("starred", TAKE, "starred must be a list, not '"),
    ("starred", [TAKE, "../x"], "starred[1] must be text of the form 24 hex digits"),
])
def test_each_bad_value_is_named_with_its_range(path, value, message):
    data = _valid()
    _set(path, value)(data)
    got = _refused(data)
    assert got.startswith("project.json: " + message), got
    assert got.endswith("Correct it in the file (it was left as it is), then open the project again.")


@pytest.mark.parametrize("key", ["²", "-1", "01", "1.0", " 1", "1000000", "9" * 4000, "x", ""])
def test_line_keys_are_plain_line_numbers(key):
    data = _valid()
    data["lines"][key] = {}
    assert "which is not a line number (0 to 999999, digits only)" in _refused(data)


def test_a_newer_format_asks_for_an_update():
    data = _valid()
    data["schema_version"] = 10**50
    assert "saved by a newer CSM Desktop" in _refused(data)


def test_largest_values_in_range_load():
    data = _valid()
    data["speakers"][0].update(csm_id=MAX_CSM_ID, name="x" * 100)
    data["lines"]["999999"] = {"variant": MAX_VARIANT, "gap_after_ms": 60000, "seed": 2**32 - 1, "temperature": 5}
    data["settings"].update(seed=MAX_SEED, temperature=5, topk=2051, max_line_ms=163840, default_gap_ms=60000)
    p = Project.from_json(data)
    assert p.settings.temperature == 5.0 and isinstance(p.settings.temperature, float)
    assert p.lines[999999].gap_after_ms == 60000
    assert (p.lines[999999].seed, p.lines[999999].temperature) == (2**32 - 1, 5.0)


def test_line_overrides_and_stars_survive_a_save(tmp_path):
    p = Project.from_json(_valid())
    p.line(0).seed, p.line(0).temperature, p.starred = 12345, 0.7, [TAKE]
    p.save(tmp_path / "again")
    q = Project.open(tmp_path / "again.csmproj")
    assert (q.line(0).seed, q.line(0).temperature, q.starred) == (12345, 0.7, [TAKE])
    assert Project.from_json({"schema_version": 1, "script": ""}).starred == []  # older files have none


@pytest.mark.parametrize("raw, fragment", [
    ("[" * 100_000 + "]" * 100_000, "too large or too deeply nested"),
    ('{"schema_version": 1, "script": "", "lines": {"0": {"variant": ' + "9" * 5000 + "}}}", "too large or too deeply"),
    ('{"schema_version": 1, "script": "", "settings": {"temperature": NaN}}', "settings.temperature must be a number"),
    ('{"schema_version": 1, "script": "\\udc00"}', "script must be text without broken characters"),
    ("\ufeff" + json.dumps(_valid()).replace('"gap_after_ms": 500', '"gap_after_ms": -5'), "lines[0].gap_after_ms"),
])
def test_bad_files_are_refused_and_left_as_they_are(tmp_path, raw, fragment):
    folder = tmp_path / "p.csmproj"
    folder.mkdir()
    (folder / "project.json").write_text(raw, encoding="utf-8", errors="surrogatepass")
    before = (folder / "project.json").read_bytes()
    with pytest.raises(ProjectError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Project.open(folder)
    assert (folder / "project.json").read_bytes() == before
    assert sorted(f.name for f in folder.iterdir()) == ["project.json"]


def test_opening_removes_leftovers_of_killed_saves(tmp_path):
    p = Project.new("Alice: Hi.")
    p.save(tmp_path / "p")
    leftovers = [p.folder / ".project.json.0a1b2c3d.part", p.takes_dir / ".0123456789abcdef01234567.wav.k3j_a9zq.part"]
    fresh = p.takes_dir / ".0123456789abcdef01234567.json.0a1b2c3d.part"  # perhaps a render running now
    then = os.path.getmtime(p.folder) - 2 * STALE_AFTER_S
    for f in [*leftovers, fresh]:
        f.write_text("half")
    for f in leftovers:
        os.utime(f, (then, then))
    Project.open(p.folder)
    assert not any(f.exists() for f in leftovers) and fresh.exists()


def test_a_lone_surrogate_in_the_script_is_refused_at_save_and_the_file_kept(tmp_path):
    p = Project.new("Alice: Hi.")
    p.save(tmp_path / "p")
    before = (p.folder / "project.json").read_text()
    p.script_text = "Alice: \ud83d oops"
    with pytest.raises(ProjectError, match=r"broken character \(after .*Alice: '\).*Delete it, then save again"):
        p.save()
    assert (p.folder / "project.json").read_text() == before
    assert [f.name for f in p.folder.iterdir() if f.name.endswith(".part")] == []


# ----- fuzzing ------------------------------------------------------------------------------------
_text = st.text(st.characters(codec="utf-8") | st.just("\ud800"))  # JSON escapes can give a lone surrogate
_scalar = st.none() | st.booleans() | st.integers() | st.floats() | _text
_json = st.deferred(lambda: _scalar | st.lists(_json, max_size=3)
                    | st.dictionaries(st.text(max_size=5), _json, max_size=3))
_FIELDS = ["schema_version", "script", "speakers", "settings", "lines", "speakers/0", "speakers/0/name",
           "speakers/0/csm_id", "speakers/0/clip_ids", "speakers/0/color", "settings/temperature", "settings/topk",
           "settings/max_line_ms", "settings/seed", "settings/default_gap_ms", "settings/cap_from_text", "lines/0", "lines/0/chosen_take",
           "lines/0/variant", "lines/0/gap_after_ms"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_FIELDS), _json), min_size=1, max_size=3))
def test_fuzzed_fields_give_a_project_or_a_project_error(changes):
    data = _valid()
    for path, value in changes:
        try:
            _set(path, value)(data)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier change replaced the parent
    try:
        Project.from_json(data)
    except ProjectError as exc:
        assert str(exc).startswith(("project.json: ", "This project was saved by a newer"))


@settings(max_examples=100, deadline=None)
@given(_json)
def test_fuzzed_whole_files_give_a_project_or_a_project_error(data):
    try:
        Project.from_json(data)
    except ProjectError:
        pass


_name = st.text(st.characters(codec="utf-8"), min_size=1, max_size=100)
_project = st.builds(
    Project,
    script_text=st.text(st.characters(codec="utf-8")),
    speakers=st.lists(st.builds(Speaker, _name, st.integers(0, MAX_CSM_ID),
                                st.lists(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), max_size=2),
                                st.none() | st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True)), max_size=3),
    settings=st.builds(GenerationSettings, st.floats(0.01, 5.0), st.integers(1, 2051), st.integers(80, 163840),
                       st.integers(0, MAX_SEED), st.integers(0, 60000), st.booleans()),
    lines=st.dictionaries(st.integers(0, 999_999), st.builds(
        LineState, st.none() | st.from_regex(r"[0-9a-f]{24}", fullmatch=True), st.integers(0, MAX_VARIANT),
        st.none() | st.integers(0, 60000)), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_project)
def test_what_is_saved_opens_again(tmp_path, project):
    project.save(tmp_path / "p")
    again = Project.open(project.folder)
    assert again.to_json() == project.to_json()
