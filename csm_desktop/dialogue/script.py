"""The dialogue script format: one utterance per line, each opened by a speaker tag.

    # a comment line
    Alice: Hey, how are you doing?
    [pause 800ms]
    [scene The kitchen]
    [1] Numeric CSM speaker ids work too.

Scenes: ``[scene]`` or ``[scene Title]`` starts a new scene at the next utterance. Scenes are
numbered 0, 1, 2 ... in order among the scenes that have utterances: lines before any marker
are scene 0, a marker at the top of the script starts scene 0 itself, and markers with no
utterance between them leave no empty scene behind (the last one gives the scene its title).
Rendering never carries context across a scene, so scenes render independently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from csm_desktop.errors import CsmError

MAX_PAUSE_MS = 60_000
MAX_SCENE_TITLE_CHARS = 200
MAX_SPEAKER_ID = 9_999  # CSM takes any id in its text; a larger one is a typo, and int() of 4,301 digits fails
_NAME_TAG = re.compile(r"^(?P<name>[^\W\d_][\w .'\-]{0,47}?)\s*:(?P<text>.*)$")
_ID_TAG = re.compile(r"^\[\s*(?P<id>\d+)\s*\](?P<text>.*)$")
_DIRECTIVE = re.compile(r"^\[(?P<body>[^\]]*)\]\s*$")
_SCENE = re.compile(r"^scene(?:\s+(?P<title>.*))?$", re.IGNORECASE)
_SCENE_START = re.compile(r"^\[\s*scene\b", re.IGNORECASE)
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
    scene: int = 0  # index of its scene (see the module's docstring)

    @property
    def numeric(self) -> bool:
        return self.speaker.isdigit()


@dataclass(frozen=True)
class Pause:
    ms: int
    line: int = 0


@dataclass(frozen=True)
class SceneBreak:
    """A ``[scene]`` marker: the utterances after it belong to a new scene."""

    title: str = ""
    line: int = 0


@dataclass(frozen=True)
class Comment:
    text: str
    line: int = 0


Item = Utterance | Pause | SceneBreak | Comment


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
        if body.lower().startswith("scene"):
            return _scene_break(body, number)
        raise ScriptError(number, f"unknown directive [{body}]. Known: [pause 800ms], [scene Title], or [n] followed "
                                  "by text.")
    if _SCENE_START.match(line):
        if "]" not in line:
            raise ScriptError(number, "the scene marker has no closing ']'. Write it like [scene] or [scene Title].")
        raise ScriptError(number, "a scene marker stands on a line of its own, with no ']' in its title: "
                                  "[scene Title].")
    if (m := _NAME_TAG.match(line)) and m["name"][0].isalpha():  # not '²' or '½': \w, yet no letter
        text = m["text"].strip()
        name = " ".join(m["name"].split())
        if not text:
            raise ScriptError(number, f"{name} has nothing to say. Add the words after '{name}:'.")
        return Utterance(name, text, number)
    raise ScriptError(number, "no speaker tag. Start the line with a name and a colon (Alice: ...) or an id ([0] ...).")


def _scene_break(body: str, number: int) -> SceneBreak:
    m = _SCENE.match(body)
    if not m:
        raise ScriptError(number, f"bad scene marker [{body[:40]}]. Write it like [scene] or [scene Title].")
    title = " ".join((m["title"] or "").split())
    if len(title) > MAX_SCENE_TITLE_CHARS:
        raise ScriptError(number, f"the scene title is {len(title)} characters long; shorten it to at most "
                                  f"{MAX_SCENE_TITLE_CHARS}.")
    if any(unicodedata.category(c) == "Cc" for c in title):
        raise ScriptError(number, "the scene title holds a control character. Delete it.")
    return SceneBreak(title, number)


def _number_scenes(items: list[Item]) -> list[Item]:
    """Utterances with the index of their scene: a marker starts a new scene only once the
    current one has an utterance."""
    scene, has_lines = 0, False
    out: list[Item] = []
    for item in items:
        if isinstance(item, SceneBreak):
            if has_lines:
                scene, has_lines = scene + 1, False
        elif isinstance(item, Utterance):
            item = replace(item, scene=scene)
            has_lines = True
        out.append(item)
    return out


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
    return _number_scenes(items), errors


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
        elif isinstance(item, SceneBreak):
            out.append(f"[scene {item.title}]" if item.title else "[scene]")
        elif item.numeric:
            out.append(f"[{item.speaker}] {item.text}")
        else:
            out.append(f"{item.speaker}: {item.text}")
    return "\n".join(out) + ("\n" if out else "")
