"""A drafted dialogue (a speaker and words per line, as a language model returns them) made into
script lines that parse: small slips are fixed and said, lines that cannot be used are left out
and said, and a draft with nothing usable is refused.

What is fixed: stray markup around a speaker's name (``**Alice**``, ``Alice:``), a name in other
letter case than the one asked for, the speaker's name repeated at the start of the words, line
breaks inside the words, stage directions (``(laughs)``, ``*sighs*``, ``[whispering]``), which the
speech model would read aloud. What is left out: a speaker who was not asked for, a line with
no words, a line the script parser refuses, lines beyond the number asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csm_desktop.dialogue.script import MAX_SPEAKER_ID, Script, Utterance, format_script, parse_lines
from csm_desktop.errors import CsmError
from csm_desktop.wording import count_of

MAX_DRAFT_LINES = 200
MAX_PROMPT_CHARS = 4_000
_DIRECTIONS = re.compile(r"\([^()]*\)|\*[^*]+\*|\[[^\[\]]*\]")
_MARKUP = " *_`\"'“”:"


class DraftError(CsmError):
    """A draft cannot be asked for (bad speakers, no prompt) or had nothing usable."""


@dataclass(frozen=True)
class Draft:
    """Script text (one utterance a line, in the canonical format) and what was fixed or left out."""

    text: str
    speakers: tuple[str, ...]  # in the order they first speak
    lines: int
    notes: tuple[str, ...] = ()


def check_request(prompt: str, speakers: list[str], lines: int) -> tuple[str, list[str]]:
    """The prompt (trimmed) and speakers (trimmed, each once) of a draft request.

    Raises: DraftError: an empty or overlong prompt, a name that cannot be a script tag, a
    number of lines out of range.
    """
    prompt = prompt.strip()
    if not prompt:
        raise DraftError("Describe the dialogue first: who talks, about what, in what mood.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise DraftError(f"The description is {len(prompt):,} characters long; shorten it to at most "
                         f"{MAX_PROMPT_CHARS:,}.")
    if not 1 <= lines <= MAX_DRAFT_LINES:
        raise DraftError(f"Ask for 1 to {MAX_DRAFT_LINES} lines, not {lines}.")
    names: list[str] = []
    for raw in speakers:
        name = " ".join(raw.split())
        if not name:
            continue
        if _tag_problem(name):
            raise DraftError(f"{name!r} cannot be a speaker's name: {_tag_problem(name)}")
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    return prompt, names


def _tag_problem(name: str) -> str:
    """Why ``name`` cannot open a script line ("" when it can)."""
    if name.isdigit():
        return "" if int(name) <= MAX_SPEAKER_ID else f"a numeric speaker id is at most {MAX_SPEAKER_ID}."
    items, errors = parse_lines(f"{name}: x")
    if errors or not items or not isinstance(items[0], Utterance) or items[0].speaker != name:
        return ("a name starts with a letter and holds letters, digits, spaces, dots, hyphens and apostrophes "
                "(at most 48 characters).")
    return ""


def _speaker(raw: object, wanted: list[str]) -> str:
    name = " ".join(str(raw or "").split()).strip(_MARKUP)
    if name.startswith("[") and name.endswith("]") and name[1:-1].strip().isdigit():
        name = name[1:-1].strip()
    for w in wanted:
        if name.casefold() == w.casefold():
            return w
    return name


def _words(raw: object, speaker: str) -> tuple[str, bool]:
    """The spoken words, and whether stage directions were taken out."""
    text = " ".join(str(raw or "").split())
    for prefix in (f"{speaker}:", f"**{speaker}**:", f"**{speaker}:**"):
        if text.casefold().startswith(prefix.casefold()):
            text = text[len(prefix):].strip()
    spoken = " ".join(_DIRECTIONS.sub(" ", text).split())
    spoken = spoken.replace("**", "").strip()
    return spoken, spoken != text.replace("**", "").strip()


def clean_draft(lines: list[object], speakers: list[str] | None, max_lines: int) -> Draft:
    """Script text from drafted ``lines`` (each a mapping with ``speaker`` and ``text``).

    ``speakers``: the names asked for (empty or None: any valid name). Raises DraftError when no
    line is usable.
    """
    wanted = list(speakers or [])
    kept: list[Utterance] = []
    notes: list[str] = []
    strangers: dict[str, int] = {}
    directions = 0
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            notes.append(f"Left out line {n}: it was not a line of dialogue.")
            continue
        speaker = _speaker(line.get("speaker"), wanted)
        if wanted and speaker not in wanted:
            strangers[speaker or "(nobody)"] = strangers.get(speaker or "(nobody)", 0) + 1
            continue
        words, took_out = _words(line.get("text"), speaker)
        directions += took_out
        if not words:
            notes.append(f"Left out line {n} ({speaker or 'no speaker'}): it had no words to say.")
            continue
        tag = f"[{speaker}]" if speaker.isdigit() else f"{speaker}:"
        items, errors = parse_lines(f"{tag} {words}")
        if errors or len(items) != 1 or not isinstance(items[0], Utterance):  # "#: 1" reads as a comment
            problem = errors[0].problem if errors else "it is not one line of dialogue"
            notes.append(f"Left out line {n}: {problem.rstrip('.')}.")
            continue
        kept.append(items[0])
    for name, count in strangers.items():
        notes.append(f"Left out {count_of(count, 'line')} by {name}, who is not one of {', '.join(wanted)}.")
    if directions:
        notes.append(f"Took stage directions out of {count_of(directions, 'line')}: the voice would read them aloud.")
    if len(kept) > max_lines:
        notes.append(f"Left out {count_of(len(kept) - max_lines, 'line')} beyond the {max_lines} asked for.")
        kept = kept[:max_lines]
    if not kept:
        raise DraftError(" ".join(["The draft had no usable lines.", *notes[:3]]))
    if len(kept) < max_lines:
        notes.append(f"The draft has {len(kept)} of the {max_lines} lines asked for.")
    order = tuple(dict.fromkeys(u.speaker for u in kept))
    return Draft(format_script(Script(tuple(kept))), order, len(kept), tuple(notes))


def insert_draft(script_text: str, draft_text: str, after_line: int | None) -> tuple[str, int]:
    """``script_text`` with ``draft_text`` inserted after its line ``after_line`` (1-based; 0: at
    the top, None: replacing the whole script). A blank line at that place is filled rather than
    kept. Returns the new text and the line number where the draft starts."""
    draft_lines = draft_text.rstrip("\n").split("\n")
    if after_line is None or not script_text.strip():
        return "\n".join(draft_lines) + "\n", 1
    lines = script_text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    at = max(0, min(after_line, len(lines)))
    if at > 0 and not lines[at - 1].strip():
        at -= 1  # the cursor sits on an empty line: the draft goes there
        lines.pop(at)
    lines[at:at] = draft_lines
    return "\n".join(lines) + ("\n" if trailing or at + len(draft_lines) == len(lines) else ""), at + 1
