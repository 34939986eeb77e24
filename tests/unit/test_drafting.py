"""Drafted dialogue made into script lines: slips fixed, unusable lines left out, all said."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csm_desktop.dialogue.drafting import DraftError, check_request, clean_draft, insert_draft
from csm_desktop.dialogue.script import parse_script


def _lines(*pairs):
    return [{"speaker": s, "text": t} for s, t in pairs]


def test_a_clean_draft_is_kept_as_it_is():
    draft = clean_draft(_lines(("Alice", "Hi Bob!"), ("Bob", "Hey, Alice.")), ["Alice", "Bob"], 2)
    assert draft.text == "Alice: Hi Bob!\nBob: Hey, Alice.\n"
    assert draft.speakers == ("Alice", "Bob") and draft.lines == 2 and draft.notes == ()


def test_slips_are_fixed_and_said():
    draft = clean_draft(_lines(("**alice**", "Alice: Hi (laughs) there,\nBob."), ("Bob:", "*sighs* Fine. [beat] Really.")),
                        ["Alice", "Bob"], 2)
    assert draft.text == "Alice: Hi there, Bob.\nBob: Fine. Really.\n"
    assert any("Took stage directions out of 2 lines" in n for n in draft.notes)


def test_unusable_lines_are_left_out_and_said():
    draft = clean_draft(_lines(("Alice", "One."), ("Narrator", "Meanwhile."), ("Bob", "(silence)"), ("Bob", "Two."),
                               ("Alice", "Three.")), ["Alice", "Bob"], 2)
    assert draft.text == "Alice: One.\nBob: Two.\n"
    notes = " ".join(draft.notes)
    assert "Left out 1 line by Narrator, who is not one of Alice, Bob." in notes
    assert "Left out line 3 (Bob): it had no words to say." in notes
    assert "Left out 1 line beyond the 2 asked for." in notes


def test_fewer_lines_than_asked_are_said():
    draft = clean_draft(_lines(("Alice", "Only me.")), ["Alice"], 5)
    assert draft.lines == 1 and "1 of the 5 lines" in draft.notes[-1]


def test_numeric_speakers_and_any_name_when_none_asked():
    assert clean_draft(_lines(("[1]", "Hello."), ("2", "Hi.")), ["1", "2"], 2).text == "[1] Hello.\n[2] Hi.\n"
    draft = clean_draft(_lines(("Maya", "Hi."), ("Dr. Okafor", "Hello, Maya."), ("A & B", "Both!")), None, 3)
    assert draft.text == "Maya: Hi.\nDr. Okafor: Hello, Maya.\n"
    assert any(n.startswith("Left out line 3: no speaker tag") for n in draft.notes)


def test_nothing_usable_is_refused():
    with pytest.raises(DraftError, match=r"no usable lines\. Left out 1 line by Narrator"):
        clean_draft(_lines(("Narrator", "Once upon a time.")), ["Alice"], 3)
    with pytest.raises(DraftError, match="no usable lines"):
        clean_draft(["just text"], None, 3)


def test_requests_are_checked_before_anything_is_sent():
    assert check_request("  A chat. ", [" Alice ", "bob", "Bob", ""], 4) == ("A chat.", ["Alice", "bob"])
    with pytest.raises(DraftError, match="Describe the dialogue"):
        check_request("  ", ["Alice"], 4)
    with pytest.raises(DraftError, match="'A & B' cannot be a speaker's name"):
        check_request("x", ["A & B"], 4)
    with pytest.raises(DraftError, match="1 to 200 lines, not 0"):
        check_request("x", [], 0)


@pytest.mark.parametrize("script, after, expected, start", [
    ("", 3, "Alice: Hi.\nBob: Yo.\n", 1),
    ("Carol: First.\nCarol: Last.\n", 1, "Carol: First.\nAlice: Hi.\nBob: Yo.\nCarol: Last.\n", 2),
    ("Carol: First.\n", 1, "Carol: First.\nAlice: Hi.\nBob: Yo.\n", 2),
    ("Carol: First.", 1, "Carol: First.\nAlice: Hi.\nBob: Yo.\n", 2),
    ("Carol: First.\n\nCarol: Last.\n", 2, "Carol: First.\nAlice: Hi.\nBob: Yo.\nCarol: Last.\n", 2),
    ("Carol: First.\n", 0, "Alice: Hi.\nBob: Yo.\nCarol: First.\n", 1),
    ("Carol: First.\n", None, "Alice: Hi.\nBob: Yo.\n", 1),
])
def test_insert_after_a_line(script, after, expected, start):
    assert insert_draft(script, "Alice: Hi.\nBob: Yo.\n", after) == (expected, start)


_anything = st.one_of(st.none(), st.integers(), st.text(max_size=60))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.fixed_dictionaries({"speaker": _anything, "text": _anything}), _anything), max_size=8),
       st.lists(st.sampled_from(["Alice", "Bob", "1", "Dr. Who"]), max_size=3, unique=True),
       st.integers(1, 10))
def test_whatever_comes_back_is_a_script_that_parses_or_a_clear_refusal(lines, speakers, wanted):
    try:
        draft = clean_draft(lines, speakers, wanted)
    except DraftError as exc:
        assert "no usable lines" in str(exc)
        return
    script = parse_script(draft.text)
    assert len(script.utterances) == draft.lines <= wanted
    assert not speakers or set(script.speakers()) <= set(speakers)
