"""The script parser under hostile input: only ScriptError, never another exception, and the
same line numbering as the editor (see tests/ui/test_editor_lines.py)."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from csm_desktop.dialogue.script import (
    MAX_SPEAKER_ID,
    ScriptError,
    Utterance,
    format_script,
    normalise_text,
    parse_lines,
    parse_script,
    script_lines,
)

SEPARATORS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
# Pieces that reach the parser's branches (tags, directives, numbers), mixed with anything.
PIECES = st.one_of(
    st.sampled_from(["Alice:", "Bob :", "[", "]", "[0]", "[pause", "ms]", "s]", "#", ":", " ", "pause", "٣",
                     "²", "\ufeff", "[scene", "[SCENE ", "scene]", "\x00"] + SEPARATORS),
    st.text(alphabet=string.digits, min_size=1, max_size=5000),
    st.text(max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_any_text_parses_or_names_a_line(text):
    items, errors = parse_lines(text)
    count = len(script_lines(text))
    for e in errors:
        assert isinstance(e, ScriptError) and 1 <= e.line <= count
    for item in items:
        assert 1 <= item.line <= count
        if isinstance(item, Utterance):
            assert not any(sep in item.text for sep in SEPARATORS)
    scenes = [u.scene for u in items if isinstance(u, Utterance)]
    assert scenes == sorted(scenes) and all(b - a <= 1 for a, b in zip([0, *scenes], scenes))  # no empty scene
    try:
        script = parse_script(text)
    except ScriptError:
        return
    again = parse_script(format_script(script))
    assert format_script(again) == format_script(script)
    assert [u.scene for u in again.utterances] == [u.scene for u in script.utterances]


def test_a_huge_numeric_id_is_a_script_error_not_a_value_error():
    text = "[" + "9" * 4301 + "] hi"
    _, errors = parse_lines(text)
    assert len(errors) == 1 and "too large" in errors[0].problem and errors[0].line == 1
    assert f"0 to {MAX_SPEAKER_ID}" in errors[0].problem
    assert len(str(errors[0])) < 200  # the message does not repeat 4,301 digits
    items, errors = parse_lines(f"[{MAX_SPEAKER_ID}] fine")
    assert not errors and items[0].speaker == str(MAX_SPEAKER_ID)


def test_huge_pause_values_are_script_errors():
    for body in ["pause " + "9" * 5000 + "ms", "pause 1." + "5" * 5000 + "s"]:
        _, errors = parse_lines(f"[{body}]")
        assert len(errors) == 1 and "bad pause" in errors[0].problem


def test_every_line_separator_gives_the_numbering_qt_shows():
    """Qt ends a text block at LF, CR LF, CR and U+2029; U+2028 and NEL become line feeds in
    its plain text; VT, FF and the file/group/record separators stay inside a line."""
    for sep, lines in {"\n": 2, "\r\n": 2, "\r": 2, "\u2029": 2, "\u2028": 2, "\x85": 2,
                       "\x0b": 1, "\x0c": 1, "\x1c": 1, "\x1d": 1, "\x1e": 1}.items():
        text = f"Alice: one{sep}Bob: two\nAlice: three"
        assert len(script_lines(text)) == lines + 1, repr(sep)
        items, errors = parse_lines(text)
        assert not errors
        assert [i.line for i in items][-1] == lines + 1
    assert normalise_text("\ufeffA: b\r\nC: d\x0be") == "A: b\nC: d e"


def test_a_name_must_start_with_a_letter_not_a_number_sign():
    """'²' is a word character and isdigit(), yet int() refuses it: as a name it crashed the
    speaker table and broke the round trip (found by the fuzz test above)."""
    _, errors = parse_lines("²:Alice:")
    assert len(errors) == 1 and "no speaker tag" in errors[0].problem
    items, errors = parse_lines("Émile: Bonjour.")
    assert not errors and items[0].speaker == "Émile"
