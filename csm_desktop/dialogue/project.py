"""A project: ``NAME.csmproj/`` with ``project.json`` and ``takes/``.

``project.json`` holds the script, the speakers, the generation settings and, per line, the
chosen take, the regeneration counter and the gap after it. Saves are atomic; a file from a
newer version, or a malformed one, is an error that names the field, and the file is left as
it is.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csm_desktop.dialogue.script import MAX_PAUSE_MS, Script, parse_script
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write_text, remove_stale_parts, write_error
from csm_desktop.settings import BEST_OF, LINE_MS, TEMPERATURE, TOPK

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
TAKES_DIR = "takes"
SUFFIX = ".csmproj"

# What project.json may hold: what the app writes, with room, and nothing that breaks a render
# or an export (a gap is a pause: at most MAX_PAUSE_MS).
MAX_FILE_BYTES = 64_000_000
TAKE_KEY = re.compile(r"[0-9a-f]{24}")  # what takes.take_key makes
CLIP_ID = re.compile(r"[0-9a-f]{32}")  # a voice library clip: uuid4().hex
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
LINE_KEY = re.compile(r"0|[1-9][0-9]{0,5}")
MAX_LINE_INDEX = 999_999
MAX_NAME_CHARS = 100
MAX_CSM_ID = 2**31 - 1
MAX_SEED = 2**63 - 1
MAX_LINE_SEED = 2**32 - 1  # a line's own seed: any take's seed (drawn from 8 hex digits) can be pinned
MAX_VARIANT = 2**31 - 1


class ProjectError(CsmError):
    """A project folder or file that cannot be used as it is."""


@dataclass
class Speaker:
    name: str
    csm_id: int
    clip_ids: list[str] = field(default_factory=list)
    color: str | None = None


@dataclass
class GenerationSettings:
    temperature: float = 0.9
    topk: int = 50
    max_line_ms: int = 15_000  # the longest a line may render (and where a long line is split)
    seed: int = 0
    default_gap_ms: int = 300
    # True: a line's cap comes from its text (dialogue/pacing.py), at most max_line_ms. False: the
    # user set max_line_ms as every line's cap. Files that predate this setting read as False,
    # so their lines keep the cap (and the takes) they were rendered with.
    cap_from_text: bool = True
    best_of: int = 1  # candidate takes rendered per line; the best-scoring one is chosen


@dataclass
class LineState:
    """Per utterance (by its index among the script's utterances)."""

    chosen_take: str | None = None
    variant: int = 0  # bumped by "regenerate"; part of the take's seed
    gap_after_ms: int | None = None  # None: the project's default gap
    seed: int | None = None  # None: drawn from the project's seed; else this seed (plus the variant)
    temperature: float | None = None  # None: the project's temperature
    # The take the render chose by the checks' scores (best of N, or a redo that kept the better
    # take); the choice is automatic while chosen_take equals it, the user's once they differ.
    auto_choice: str | None = None


@dataclass
class Project:
    script_text: str = ""
    speakers: list[Speaker] = field(default_factory=list)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    lines: dict[int, LineState] = field(default_factory=dict)
    starred: list[str] = field(default_factory=list)  # take keys the user starred
    folder: Path | None = None

    @classmethod
    def new(cls, script_text: str = "") -> "Project":
        return cls(script_text=script_text, settings=GenerationSettings(seed=random.randrange(2**31)))

    @property
    def name(self) -> str:
        return self.folder.name.removesuffix(SUFFIX) if self.folder else "Untitled"

    @property
    def takes_dir(self) -> Path:
        if self.folder is None:
            raise ProjectError("Save the project first: its takes live in the project folder.")
        return self.folder / TAKES_DIR

    def script(self) -> Script:
        return parse_script(self.script_text)

    def line(self, index: int) -> LineState:
        return self.lines.setdefault(index, LineState())

    def speaker(self, tag: str) -> Speaker:
        """The project speaker for a script tag; unknown names are added with a free CSM id."""
        for s in self.speakers:
            if s.name == tag:
                return s
        if tag.isdigit():
            for s in self.speakers:
                if s.csm_id == int(tag) and s.name.isdigit():
                    return s
            spk = Speaker(name=tag, csm_id=int(tag))
        else:
            used = {s.csm_id for s in self.speakers} | {int(t) for t in self.script().speakers() if t.isdigit()}
            spk = Speaker(name=tag, csm_id=min(set(range(len(used) + 1)) - used))
        self.speakers.append(spk)
        return spk

    # ----- (de)serialisation ------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "script": self.script_text,
            "speakers": [asdict(s) for s in self.speakers],
            "settings": asdict(self.settings),
            "lines": {str(k): asdict(v) for k, v in sorted(self.lines.items()) if v != LineState()},
            "starred": sorted(set(self.starred)),
        }

    @classmethod
    def from_json(cls, data: Any, folder: Path | None = None) -> "Project":
        """The project held by ``data`` (parsed ``project.json``): every value is checked for
        its type and range here, the one place project files enter; the first problem raises a
        ProjectError that names the field and what it must be."""
        root = _Fields(data, "")
        version = root.integer("schema_version", 1, None)
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"This project was saved by a newer CSM Desktop (format {version}; this version reads up to "
                f"{SCHEMA_VERSION}). Update CSM Desktop to open it."
            )
        script = root.text("script")
        speakers = []
        for i, item in enumerate(root.array("speakers", default=[])):
            s = _Fields(item, f"speakers[{i}]")
            speakers.append(Speaker(
                name=s.text("name", max_chars=MAX_NAME_CHARS),
                csm_id=s.integer("csm_id", 0, MAX_CSM_ID),
                clip_ids=[s.item_text("clip_ids", j, c, CLIP_ID)
                          for j, c in enumerate(s.array("clip_ids", default=[]))],
                color=s.text("color", pattern=COLOR, default=None),
            ))
        raw = _Fields(root.get("settings", {}), "settings")
        d = GenerationSettings()
        settings = GenerationSettings(
            temperature=raw.number("temperature", *TEMPERATURE, default=d.temperature),
            topk=raw.integer("topk", *TOPK, default=d.topk),
            max_line_ms=raw.integer("max_line_ms", *LINE_MS, default=d.max_line_ms, unit=" ms"),
            seed=raw.integer("seed", 0, MAX_SEED, default=d.seed),
            default_gap_ms=raw.integer("default_gap_ms", 0, MAX_PAUSE_MS, default=d.default_gap_ms, unit=" ms"),
            cap_from_text=raw.boolean("cap_from_text", default=False),
            best_of=raw.integer("best_of", *BEST_OF, default=d.best_of),
        )
        lines: dict[int, LineState] = {}
        for key, value in _Fields(root.get("lines", {}), "lines").obj.items():
            if not (isinstance(key, str) and LINE_KEY.fullmatch(key)):
                raise ProjectError(f"project.json: lines has the key {_show(key)}, which is not a line number (0 to "
                                   f"{MAX_LINE_INDEX}, digits only). Correct it in the file, then open the project "
                                   "again.")
            v = _Fields(value, f"lines[{key}]")
            lines[int(key)] = LineState(
                chosen_take=v.text("chosen_take", pattern=TAKE_KEY, default=None),
                variant=v.integer("variant", 0, MAX_VARIANT, default=0),
                gap_after_ms=v.integer("gap_after_ms", 0, MAX_PAUSE_MS, default=None, unit=" ms"),
                seed=v.integer("seed", 0, MAX_LINE_SEED, default=None),
                temperature=v.number("temperature", *TEMPERATURE, default=None),
                auto_choice=v.text("auto_choice", pattern=TAKE_KEY, default=None),
            )
        starred = [root.item_text("starred", j, k, TAKE_KEY) for j, k in enumerate(root.array("starred", default=[]))]
        return cls(script_text=script, speakers=speakers, settings=settings, lines=lines, starred=starred,
                   folder=folder)

    # ----- files ------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path) -> "Project":
        """Read a project; the file is never changed by reading it, even when it is refused.
        Temporary files of saves that were killed are cleaned up here."""
        folder = Path(folder)
        path = folder / PROJECT_FILE if folder.is_dir() else folder
        if path.name != PROJECT_FILE or not path.is_file():
            raise ProjectError(f"{folder} is not a CSM Desktop project (no {PROJECT_FILE}).")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ProjectError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB, too large to be a "
                                   "project file. Open the right folder, or restore the file from a backup.")
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path} could not be read ({exc}).") from None
        except json.JSONDecodeError as exc:
            raise ProjectError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
        except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; nesting too deep for Python
            raise ProjectError(f"{path} holds a value too large or too deeply nested to read ({exc}). Correct it in "
                               "the file, then open the project again.") from None
        project = cls.from_json(data, folder=path.parent)
        for place in (path.parent, path.parent / TAKES_DIR):
            remove_stale_parts(place)
        return project

    def save(self, folder: str | Path | None = None) -> Path:
        """Write ``project.json`` atomically (into ``folder``, which becomes the project's).

        Raises:
            ProjectError: no folder yet, or text that cannot be stored.
            WriteError: the file could not be written (DiskFullError: not enough space).
        """
        if folder is not None:
            folder = Path(folder)
            if folder.suffix != SUFFIX:
                folder = folder.with_name(folder.name + SUFFIX)
            self.folder = folder
        if self.folder is None:
            raise ProjectError("Choose where to save the project first.")
        takes = self.folder / TAKES_DIR
        try:
            takes.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(takes, exc) from exc
        remove_stale_parts(takes)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        try:
            return atomic_write_text(self.folder / PROJECT_FILE, text)
        except UnicodeEncodeError as exc:  # a lone surrogate: refused before anything is written
            before = text[max(0, exc.start - 20):exc.start]
            raise ProjectError(f"The project holds a broken character (after {before!r}) that cannot be saved. "
                               "Delete it, then save again.") from None


_MISSING = object()


class _Fields:
    """Typed, range-checked reads from one JSON object of project.json. bool is not a number
    here; every error names the field (``lines[3].gap_after_ms``) and what it must be."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise ProjectError(_problem(where or "the file", "a JSON object", obj))
        self.obj: dict[str, Any] = obj
        self.where = where

    def label(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def get(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.obj:
            return self.obj[name]
        if default is _MISSING:
            raise ProjectError(f"project.json: {self.label(name)} is missing. Add it to the file (it was left as it "
                               "is), then open the project again.")
        return default

    def integer(self, name: str, lo: int, hi: int | None, default: Any = _MISSING, unit: str = "") -> Any:
        value = self.get(name, default)
        if value is None and default is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and lo <= value and (hi is None or value <= hi):
            return value
        expected = f"a whole number from {lo}" if hi is None else f"a whole number between {lo} and {hi}{unit}"
        raise ProjectError(_problem(self.label(name), expected, value))

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self.get(name, default)
        if isinstance(value, bool):
            return value
        raise ProjectError(_problem(self.label(name), "true or false", value))

    def number(self, name: str, lo: float, hi: float, default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is None and default is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi:
            return float(value)  # in range, so finite
        raise ProjectError(_problem(self.label(name), f"a number between {lo:g} and {hi:g}", value))

    def text(self, name: str, *, max_chars: int | None = None, pattern: re.Pattern | None = None,
             default: Any = _MISSING) -> Any:
        value = self.get(name, default)
        if value is None and default is None:
            return None
        return _checked_text(self.label(name), value, max_chars, pattern)

    def item_text(self, name: str, index: int, value: Any, pattern: re.Pattern) -> str:
        return _checked_text(f"{self.label(name)}[{index}]", value, None, pattern)

    def array(self, name: str, default: Any = _MISSING) -> list:
        value = self.get(name, default)
        if isinstance(value, list):
            return value
        raise ProjectError(_problem(self.label(name), "a list", value))


def _checked_text(label: str, value: Any, max_chars: int | None, pattern: re.Pattern | None) -> str:
    if not isinstance(value, str):
        raise ProjectError(_problem(label, "text", value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800"): it could never be saved again
        raise ProjectError(_problem(label, f"text without broken characters (one is at position {exc.start})",
                                    value)) from None
    if max_chars is not None and not 0 < len(value) <= max_chars:
        raise ProjectError(_problem(label, f"text of 1 to {max_chars} characters", value))
    if pattern is not None and not pattern.fullmatch(value):
        raise ProjectError(_problem(label, f"text of the form {_FORMS.get(pattern.pattern, pattern.pattern)}", value))
    return value


_FORMS = {TAKE_KEY.pattern: "24 hex digits (a take's name) or null", CLIP_ID.pattern: "32 hex digits (a voice clip id)",
          COLOR.pattern: "#rrggbb or null"}


def _problem(label: str, expected: str, value: Any) -> str:
    return (f"project.json: {label} must be {expected}, not {_show(value)}. Correct it in the file (it was left as "
            "it is), then open the project again.")


def _show(value: Any) -> str:
    """A JSON value as a message can show it: short, and never failing."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        if value.bit_length() > 64:  # str() of a 5,000-digit int raises; nobody reads it anyway
            return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
