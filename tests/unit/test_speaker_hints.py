"""Speaker hints before a render: typos of voiced speakers, speakers with no voice clip, retagging."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from csm_desktop.dialogue.project import Project, Speaker
from csm_desktop.dialogue.speaker_hints import (
    edit_distance,
    retag,
    suggestion,
    tag_fixes,
    voiceless_speakers,
)

CLIP = "c" * 32


def test_edit_distance_counts_a_swap_as_one_edit_and_ignores_case():
    assert edit_distance("Bne", "Ben") == 1
    assert edit_distance("ben", "Ben") == 0
    assert edit_distance("Be", "Ben") == 1
    assert edit_distance("Alicia", "Alice") == 2
    assert edit_distance("", "Ben") == 3


@given(st.text(max_size=8), st.text(max_size=8))
def test_edit_distance_is_a_symmetric_bound(a, b):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a) and d <= max(len(a), len(b))
    assert (d == 0) == (a.lower() == b.lower())


def test_suggestions_are_near_and_unambiguous():
    names = ["Ben", "Alice", "Carol"]
    assert suggestion("Bne", names) == "Ben"
    assert suggestion("Be", names) == "Ben"
    assert suggestion("Alicia", names) == "Alice"
    assert suggestion("B", names) is None  # two edits from a three-letter name: a guess
    assert suggestion("Bob", names) is None
    assert suggestion("Dan", ["Ben", "Dana", "Jan"]) is None  # Dana and Jan are both one edit away
    assert suggestion("1", ["1x"]) is None


def test_tag_fixes_point_at_voiced_speakers_only():
    project = Project(script_text="Ben: Hi.\nBne: Hello.\nAlcie: Hey.\nBne: Again.\n",
                      speakers=[Speaker("Ben", 0, [CLIP]), Speaker("Bne", 1), Speaker("Alice", 2), Speaker("Alcie", 3)])
    fixes = tag_fixes(project)
    assert [(f.tag, f.suggestion, f.lines) for f in fixes] == [("Bne", "Ben", (2, 4))]
    assert fixes[0].question() == "\u201cBne\u201d (lines 2, 4): did you mean Ben?"


def test_voiceless_speakers_of_the_lines_to_render():
    project = Project(script_text="Ben: Hi.\n\nAnn: Hello.\n[2] Numbers too.\n",
                      speakers=[Speaker("Ben", 0, [CLIP]), Speaker("Ann", 1)])
    assert [(v.name, v.lines) for v in voiceless_speakers(project)] == [("Ann", (3,)), ("2", (4,))]
    assert voiceless_speakers(project, lines={0}) == []
    assert [v.name for v in voiceless_speakers(project, lines={1})] == ["Ann"]


def test_retag_changes_only_that_speakers_tags():
    text = "Bne: Bne said: hi.\n  Bne : spaced.\nBen: Bne is here.\n# Bne: a comment\n"
    assert retag(text, "Bne", "Ben") == "Ben: Bne said: hi.\n  Ben: spaced.\nBen: Bne is here.\n# Bne: a comment\n"
