"""Counts in messages read as English: "1 line", "3 lines", never "line(s)"."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from csm_desktop.wording import count_of, noun_for


def test_one_is_singular_and_every_other_count_plural():
    assert count_of(1, "line") == "1 line"
    assert count_of(0, "line") == "0 lines"
    assert count_of(3, "voice clip") == "3 voice clips"
    assert count_of(2, "speech", "speeches") == "2 speeches"
    assert noun_for(1, "voice clip") == "voice clip" and noun_for(4, "voice clip") == "voice clips"


def test_no_message_of_the_app_says_line_s():
    """Every message counts with count_of: no string of the app puts "(s)" after a noun."""
    root = Path(__file__).resolve().parents[2] / "csm_desktop"
    found = [f"{p.relative_to(root)}:{t.start[0]}" for p in root.rglob("*.py")
             for t in tokenize.generate_tokens(io.StringIO(p.read_text()).readline)
             if t.type == tokenize.STRING and not t.string.endswith('"""')  # docstrings are no messages
             and re.search(r"[a-z]\(s\)", t.string)]
    assert found == []
