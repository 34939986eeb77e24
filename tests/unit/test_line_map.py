"""Line states follow their lines through edits (dialogue/line_map.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from csm_desktop.dialogue.line_map import GoneLines, follow_lines
from csm_desktop.dialogue.project import LineState

A, B, C, D = ("Alice", "Hello."), ("Bob", "Hi."), ("Alice", "How are you?"), ("Carol", "New line.")


def states(*keys):
    return {i: LineState(chosen_take=k) for i, k in enumerate(keys) if k}


def test_a_line_typed_above_moves_the_states_down():
    out = follow_lines([A, B], [D, A, B], states("a", "b"), GoneLines())
    assert out == {1: LineState(chosen_take="a"), 2: LineState(chosen_take="b")}


def test_a_deleted_line_takes_its_state_away_and_gets_it_back_when_it_returns():
    gone = GoneLines()
    out = follow_lines([A, B, C], [A, C], states("a", "b", "c"), gone)
    assert out == {0: LineState(chosen_take="a"), 1: LineState(chosen_take="c")}
    back = follow_lines([A, C], [A, B, C], out, gone)
    assert back == states("a", "b", "c")


def test_words_edited_in_place_keep_the_lines_state():
    out = follow_lines([A, B], [A, ("Bob", "Hi there.")], states("a", "b"), GoneLines())
    assert out == states("a", "b")


def test_lines_moved_by_cut_and_paste_keep_their_states():
    gone = GoneLines()
    cut = follow_lines([A, B, C], [B, C], states("a", "b", "c"), gone)
    pasted = follow_lines([B, C], [B, C, A], cut, gone)
    assert pasted == {0: LineState(chosen_take="b"), 1: LineState(chosen_take="c"), 2: LineState(chosen_take="a")}


def test_gone_lines_are_bounded():
    gone = GoneLines(limit=2)
    for n in range(5):
        gone.keep(("S", str(n)), LineState(chosen_take=str(n)))
    assert gone.take(("S", "0")) is None and gone.take(("S", "4")) == LineState(chosen_take="4")


lines = st.lists(st.sampled_from([A, B, C, D, ("Bob", "Bye.")]), max_size=8)


@given(lines, lines)
def test_every_state_lands_on_a_line_with_the_same_words_or_an_edited_one(old, new):
    before = {i: LineState(chosen_take=f"{i}") for i in range(len(old))}
    out = follow_lines(old, new, before, GoneLines())
    assert all(0 <= j < len(new) for j in out)
    assert len({id(s) for s in out.values()}) == len(out)  # no state given to two lines
