"""A line's state (its chosen take, gap, seed and temperature of its own) follows the line when
the script is edited: lines typed, pasted or deleted above it do not hand its take to another
line. States are stored by utterance index, so an edit re-keys them.

Lines are matched by speaker and words (difflib's longest matching blocks); a line whose words
were edited in place keeps its state (its take then shows as out of date); a line that comes
back (undo, cut and paste) gets the state it had when it went.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict

from csm_desktop.dialogue.project import LineState

Line = tuple[str, str]  # speaker, words
KEEP_GONE = 500  # states of lines that went, kept for their return


class GoneLines:
    """States of lines that left the script, by speaker and words (the newest kept)."""

    def __init__(self, limit: int = KEEP_GONE) -> None:
        self.limit = limit
        self._states: OrderedDict[Line, LineState] = OrderedDict()

    def keep(self, line: Line, state: LineState) -> None:
        if state == LineState():
            return
        self._states.pop(line, None)
        self._states[line] = state
        while len(self._states) > self.limit:
            self._states.popitem(last=False)

    def take(self, line: Line) -> LineState | None:
        return self._states.pop(line, None)

    def clear(self) -> None:
        self._states.clear()


def follow_lines(old: list[Line], new: list[Line], states: dict[int, LineState],
                 gone: GoneLines) -> dict[int, LineState]:
    """``states`` (by index into ``old``) re-keyed by index into ``new``."""
    if old == new:
        return states
    out: dict[int, LineState] = {}
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            for k in range(a1 - a0):
                if (a0 + k) in states:
                    out[b0 + k] = states[a0 + k]
            continue
        if op == "replace" and a1 - a0 == b1 - b0:  # words edited in place: the lines stay theirs
            for k in range(a1 - a0):
                if (a0 + k) in states:
                    out[b0 + k] = states[a0 + k]
            continue
        for i in range(a0, a1):  # deleted (or replaced by a different number of lines)
            if i in states:
                gone.keep(old[i], states[i])
        for j in range(b0, b1):  # inserted: a line that comes back gets its state back
            state = gone.take(new[j])
            if state is not None:
                out[j] = state
    return out
