"""What to tell the user about the script's speakers before a render: speakers with no voice clip
(CSM then makes up a voice), and tags that are probably a typo of a speaker who has clips
("Bne" for "Ben"), with the rewrite that fixes them."""

from __future__ import annotations

from dataclasses import dataclass

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.script import Utterance, parse_lines, script_lines


@dataclass(frozen=True)
class TagFix:
    """Lines tagged ``tag`` that probably mean ``suggestion``."""

    tag: str
    suggestion: str
    lines: tuple[int, ...]  # editor line numbers

    def question(self) -> str:
        where = f"line {self.lines[0]}" if len(self.lines) == 1 else f"lines {', '.join(map(str, self.lines))}"
        return f"\u201c{self.tag}\u201d ({where}): did you mean {self.suggestion}?"


@dataclass(frozen=True)
class Voiceless:
    """A speaker whose lines would render with a voice CSM makes up."""

    name: str
    lines: tuple[int, ...]


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, change, swap two neighbours) from ``a`` to ``b``, ignoring case."""
    a, b = a.lower(), b.lower()
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[len(b)]


def suggestion(tag: str, names: list[str]) -> str | None:
    """The one name ``tag`` is probably a typo of: one edit away (two for names of five letters
    or more), the nearest winning; None when none is, or two are equally near."""
    if tag.isdigit():
        return None
    scored = []
    for name in names:
        if name == tag or name.isdigit():
            continue
        d = edit_distance(tag, name)
        if d <= (2 if min(len(tag), len(name)) >= 5 else 1) and d < len(name):
            scored.append((d, name))
    scored.sort()
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


def _utterances(text: str) -> list[Utterance]:
    items, _errors = parse_lines(text)
    return [i for i in items if isinstance(i, Utterance)]


def lines_by_tag(text: str) -> dict[str, list[int]]:
    """Each speaker tag of ``text`` with the (editor) numbers of the lines it opens."""
    out: dict[str, list[int]] = {}
    for u in _utterances(text):
        out.setdefault(u.speaker, []).append(u.line)
    return out


def tag_fixes(project: Project) -> list[TagFix]:
    """Tags whose speaker has no voice clip and that are near a speaker who has some."""
    voiced = [s.name for s in project.speakers if s.clip_ids]
    has_clips = set(voiced)
    fixes = []
    for tag, lines in lines_by_tag(project.script_text).items():
        if tag in has_clips:
            continue
        if (name := suggestion(tag, voiced)) is not None:
            fixes.append(TagFix(tag, name, tuple(lines)))
    return fixes


def voiceless_speakers(project: Project, lines: set[int] | None = None) -> list[Voiceless]:
    """Speakers of the script (of the utterances numbered in ``lines``, when given: indexes among
    the utterances) that have no voice clip."""
    by_name = {s.name: s for s in project.speakers}
    out: dict[str, list[int]] = {}
    for n, u in enumerate(_utterances(project.script_text)):
        if lines is not None and n not in lines:
            continue
        speaker = by_name.get(u.speaker)
        if speaker is None or not speaker.clip_ids:
            out.setdefault(u.speaker, []).append(u.line)
    return [Voiceless(name, tuple(ls)) for name, ls in out.items()]


def retag(text: str, old: str, new: str) -> str:
    """``text`` with every line spoken by ``old`` (a name tag) given the tag ``new``; nothing else
    changes (other lines, spacing, the words)."""
    numbers = {u.line for u in _utterances(text) if u.speaker == old}
    lines = script_lines(text)
    for n in numbers:
        raw = lines[n - 1]
        indent = raw[: len(raw) - len(raw.lstrip())]
        lines[n - 1] = f"{indent}{new}{raw[raw.index(':'):]}"
    return "\n".join(lines)
