"""The script format: parsing, errors with line numbers, stable formatting."""

from __future__ import annotations

import pytest

from csm_desktop.dialogue.script import (
    MAX_SCENE_TITLE_CHARS,
    Comment,
    Pause,
    SceneBreak,
    ScriptError,
    Utterance,
    format_script,
    parse_lines,
    parse_script,
)

SAMPLE = """# a comment line
Alice: Hey, how are you doing?
Bob: Pretty good, pretty good.
[pause 800ms]
Alice: I'm great. So happy to be speaking to you.
[1] Numeric CSM speaker ids work too.
"""


def test_parse_sample():
    s = parse_script(SAMPLE)
    assert s.items[0] == Comment("a comment line", 1)
    assert s.items[1] == Utterance("Alice", "Hey, how are you doing?", 2)
    assert s.items[3] == Pause(800, 4)
    assert s.items[5] == Utterance("1", "Numeric CSM speaker ids work too.", 6)
    assert s.speakers() == ["Alice", "Bob", "1"]


def test_standalone_speaker_ids_follow_first_appearance_and_avoid_numeric_tags():
    s = parse_script("[0] Zero speaks.\nBob: hi\nAlice: hello\n[2] two\nCarol: hey\n")
    assert s.speaker_ids() == {"0": 0, "Bob": 1, "Alice": 3, "2": 2, "Carol": 4}


@pytest.mark.parametrize("text", [
    "\ufeffAlice: BOM first\r\nBob: CRLF\r\n",
    "Alice: BOM first\nBob: CRLF",
])
def test_bom_and_line_endings(text):
    assert [u.text for u in parse_script(text).utterances] == ["BOM first", "CRLF"]


def test_unicode_and_emoji_pass_through():
    s = parse_script("Zoë: Ça va? 😀\n李雷: 你好，世界。\nМария: Привет!\n")
    assert [u.speaker for u in s.utterances] == ["Zoë", "李雷", "Мария"]
    assert s.utterances[0].text == "Ça va? 😀"


def test_pauses_in_seconds_and_ms():
    s = parse_script("[pause 1.5s]\n[PAUSE 250 ms]\n[pause 2s]\n")
    assert [p.ms for p in s.items] == [1500, 250, 2000]


@pytest.mark.parametrize("text, line, fragment", [
    ("Alice: hi\njust some words\n", 2, "no speaker tag"),
    ("Alice: hi\n\nBob:   \n", 3, "nothing to say"),
    ("[3]\n", 1, "nothing to say"),
    ("Alice: hi\n[music swells]\n", 2, "unknown directive"),
    ("[pause]\n", 1, "bad pause"),
    ("[pause soon]\n", 1, "bad pause"),
    ("[pause 5 minutes]\n", 1, "bad pause"),
    ("[pause 120s]\n", 1, "longer than"),
    ("Alice: hi\n[scene\n", 2, "no closing ']'"),
    ("Alice: hi\n\n[Scene The end\n", 3, "no closing ']'"),
    ("[scene] Alice: hi\n", 1, "line of its own"),
    ("[scene A [b] c]\n", 1, "line of its own"),
    ("[scenery]\n", 1, "bad scene marker"),
    ("[scene:Intro]\n", 1, "bad scene marker"),
    ("Alice: hi\n[scene " + "x" * (MAX_SCENE_TITLE_CHARS + 1) + "]\n", 2, "at most 200"),
    ("[scene bell\x07]\n", 1, "control character"),
])
def test_errors_name_the_line(text, line, fragment):
    with pytest.raises(ScriptError) as info:
        parse_script(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"Line {line}: ")
    assert fragment in str(info.value)


def test_parse_lines_collects_every_error():
    items, errors = parse_lines("Alice: ok\nbad line\n[nope]\nBob: fine\n")
    assert [e.line for e in errors] == [2, 3]
    assert [i.speaker for i in items] == ["Alice", "Bob"]


def test_format_is_stable():
    messy = "  #note  \nAlice :   Hi   there\n\n[ 2 ]  Hello\n[pause 1000ms]\n[pause 1250ms]\nDr.  Who: Time.\n"
    once = format_script(parse_script(messy))
    assert once == "# note\nAlice: Hi   there\n[2] Hello\n[pause 1s]\n[pause 1250ms]\nDr. Who: Time.\n"
    assert format_script(parse_script(once)) == once
    assert format_script(parse_script(SAMPLE)) == SAMPLE


def test_empty_script():
    assert parse_script("").items == ()
    assert format_script(parse_script("\n\n")) == ""


def test_scenes_number_the_utterances_and_keep_titles():
    s = parse_script("Alice: one\n[scene  The   kitchen ]\nBob: two\n[pause 1s]\nAlice: three\n[SCENE]\nBob: four\n")
    assert [u.scene for u in s.utterances] == [0, 1, 1, 2]
    assert s.items[1] == SceneBreak("The kitchen", 2) and s.items[5] == SceneBreak("", 6)
    assert s.items[2] == Utterance("Bob", "two", 3, scene=1)


def test_a_marker_before_any_line_or_twice_in_a_row_makes_no_empty_scene():
    s = parse_script("# intro\n[scene Opening]\nAlice: one\n[scene]\n[scene Later]\nBob: two\n[scene Trailing]\n")
    assert [u.scene for u in s.utterances] == [0, 1]
    assert parse_script("[scene]\n").utterances == []


def test_scene_markers_format_and_parse_back():
    text = "[scene Intro]\nAlice: hi\n[scene]\nBob: bye\n"
    assert format_script(parse_script("[scene   Intro]\nAlice: hi\n[Scene]\nBob: bye\n")) == text
    assert format_script(parse_script(text)) == text


def test_scene_errors_are_collected_like_the_others():
    items, errors = parse_lines("[scene One]\nAlice: a\n[scene\nBob: b\n[scene Two]\nAlice: c\n")
    assert [e.line for e in errors] == [3]
    assert [i.scene for i in items if isinstance(i, Utterance)] == [0, 0, 1]
