"""The dialogue script format: one utterance per line, each opened by a speaker tag.

    # a comment line
    Alice: Hey, how are you doing?
    [pause 800ms]
    [1] Numeric CSM speaker ids work too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csm_desktop.errors import CsmError

MAX_PAUSE_MS = 60_000
MAX_SPEAKER_ID = 9_999  # CSM takes any id in its text; a larger one is a typo, and int() of 4,301 digits fails
_NAME_TAG = re.compile(r"^(?P<name>[^\W\d_][\w .'\-]{0,47}?)\s*:(?P<text>.*)$")
_ID_TAG = re.compile(r"^\[\s*(?P<id>\d+)\s*\](?P<text>.*)$")
_DIRECTIVE = re.compile(r"^\[(?P<body>[^\]]*)\]\s*$")
_PAUSE = re.compile(r"^pause\s+(?P<value>\d{1,9}(?:\.\d{1,9})?)\s*(?P<unit>ms|s)$", re.IGNORECASE)
# One line numbering for the parser and the editor (Qt's text blocks): CR LF, CR and the
# paragraph separator end a block in Qt; U+2028 and NEL are line breaks too (Shift+Enter types
# U+2028, and Qt's plain text turns it into a line feed). Other separators that Python's
# splitlines() honours are whitespace inside a line.
_LINE_CHARS = str.maketrans({"\u2028": "\n", "\u2029": "\n", "\x85": "\n",
                             "\x0b": " ", "\x0c": " ", "\x1c": " ", "\x1d": " ", "\x1e": " "})


class ScriptError(CsmError):
    """A script line that cannot be read. ``line`` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"Line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Utterance:
    speaker: str  # a name ("Alice") or a CSM id as digits ("1", written [1])
    text: str
    line: int = 0

    @property
    def numeric(self) -> bool:
        return self.speaker.isdigit()


@dataclass(frozen=True)
class Pause:
    ms: int
    line: int = 0


@dataclass(frozen=True)
class Comment:
    text: str
    line: int = 0


Item = Utterance | Pause | Comment


@dataclass(frozen=True)
class Script:
    items: tuple[Item, ...]

    @property
    def utterances(self) -> list[Utterance]:
        return [i for i in self.items if isinstance(i, Utterance)]

    def speakers(self) -> list[str]:
        """Speaker tags in order of first appearance."""
        seen: dict[str, None] = {}
        for u in self.utterances:
            seen.setdefault(u.speaker, None)
        return list(seen)

    def speaker_ids(self) -> dict[str, int]:
        """CSM speaker ids for a standalone script: ``[n]`` tags keep ``n``; names take the
        smallest free ids in order of first appearance."""
        used = {int(s) for s in self.speakers() if s.isdigit()}
        ids: dict[str, int] = {}
        next_id = 0
        for s in self.speakers():
            if s.isdigit():
                ids[s] = int(s)
                continue
            while next_id in used:
                next_id += 1
            ids[s] = next_id
            used.add(next_id)
        return ids


def normalise_text(text: str) -> str:
    """Script text with one kind of line break (``\\n``) and no byte-order mark: what the editor
    holds and what is saved."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_CHARS)


def script_lines(text: str) -> list[str]:
    """The lines of a script as the editor numbers them (line n is ``script_lines(text)[n - 1]``)."""
    return normalise_text(text).split("\n")


def _parse_line(raw: str, number: int) -> Item | None:
    line = raw.strip()
    if not line:
        return None
    if line.startswith("#"):
        return Comment(line[1:].strip(), number)
    if m := _ID_TAG.match(line):
        if len(m["id"]) > len(str(MAX_SPEAKER_ID)) or int(m["id"]) > MAX_SPEAKER_ID:
            shown = m["id"] if len(m["id"]) <= 12 else m["id"][:6] + "…"
            raise ScriptError(number, f"speaker id [{shown}] is too large. Use an id from 0 to {MAX_SPEAKER_ID}.")
        text = m["text"].strip()
        if not text:
            raise ScriptError(number, f"speaker [{m['id']}] has nothing to say. Add the words after the tag.")
        return Utterance(str(int(m["id"])), text, number)
    if m := _DIRECTIVE.match(line):
        body = m["body"].strip()
        if body.lower().startswith("pause"):
            p = _PAUSE.match(body)
            if not p:
                raise ScriptError(number, f"bad pause [{body}]. Write it like [pause 800ms] or [pause 1.5s].")
            ms = float(p["value"]) * (1000 if p["unit"].lower() == "s" else 1)
            if ms > MAX_PAUSE_MS:
                raise ScriptError(number, f"pause of {ms / 1000:g} s is longer than the {MAX_PAUSE_MS // 1000} s allowed.")
            return Pause(int(round(ms)), number)
        raise ScriptError(number, f"unknown directive [{body}]. Known: [pause 800ms], or [n] followed by text.")
    if (m := _NAME_TAG.match(line)) and m["name"][0].isalpha():  # not '²' or '½': \w, yet no letter
        text = m["text"].strip()
        name = " ".join(m["name"].split())
        if not text:
            raise ScriptError(number, f"{name} has nothing to say. Add the words after '{name}:'.")
        return Utterance(name, text, number)
    raise ScriptError(number, "no speaker tag. Start the line with a name and a colon (Alice: ...) or an id ([0] ...).")


def parse_script(text: str) -> Script:
    """Parse script text (BOM, CRLF and LF accepted).

    Raises:
        ScriptError: the first line that cannot be read, with its number.
    """
    items, errors = parse_lines(text)
    if errors:
        raise errors[0]
    return Script(tuple(items))


def parse_lines(text: str) -> tuple[list[Item], list[ScriptError]]:
    """Parse every line, collecting all errors instead of stopping at the first (for editors)."""
    items: list[Item] = []
    errors: list[ScriptError] = []
    for number, raw in enumerate(script_lines(text), start=1):
        try:
            item = _parse_line(raw, number)
        except ScriptError as exc:
            errors.append(exc)
            continue
        if item is not None:
            items.append(item)
    return items, errors


def format_pause(ms: int) -> str:
    return f"[pause {ms / 1000:g}s]" if ms % 1000 == 0 and ms else f"[pause {ms}ms]"


def format_script(script: Script) -> str:
    """Canonical text: ``format_script(parse_script(format_script(s))) == format_script(s)``."""
    out = []
    for item in script.items:
        if isinstance(item, Comment):
            out.append(f"# {item.text}".rstrip())
        elif isinstance(item, Pause):
            out.append(format_pause(item.ms))
        elif item.numeric:
            out.append(f"[{item.speaker}] {item.text}")
        else:
            out.append(f"{item.speaker}: {item.text}")
    return "\n".join(out) + ("\n" if out else "")
