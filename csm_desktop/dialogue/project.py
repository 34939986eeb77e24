"""A project: ``NAME.csmproj/`` with ``project.json`` and ``takes/``.

``project.json`` holds the script, the speakers, the generation settings and, per line, the
chosen take, the regeneration counter and the gap after it. Saves are atomic; a file from a
newer version, or a malformed one, is an error that names the field, and the file is left as
it is.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csm_desktop.dialogue.script import Script, parse_script
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write_text

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
TAKES_DIR = "takes"
SUFFIX = ".csmproj"


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
    max_line_ms: int = 15_000
    seed: int = 0
    default_gap_ms: int = 300


@dataclass
class LineState:
    """Per utterance (by its index among the script's utterances)."""

    chosen_take: str | None = None
    variant: int = 0  # bumped by "regenerate"; part of the take's seed
    gap_after_ms: int | None = None  # None: the project's default gap


@dataclass
class Project:
    script_text: str = ""
    speakers: list[Speaker] = field(default_factory=list)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    lines: dict[int, LineState] = field(default_factory=dict)
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
        }

    @classmethod
    def from_json(cls, data: Any, folder: Path | None = None) -> "Project":
        if not isinstance(data, dict):
            raise ProjectError("project.json does not hold a JSON object.")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise ProjectError("project.json: field 'schema_version' is missing or not a number.")
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"This project was saved by a newer CSM Desktop (format {version}; this version reads up to "
                f"{SCHEMA_VERSION}). Update CSM Desktop to open it."
            )
        script = _field(data, "script", str)
        speakers = [
            Speaker(
                name=_field(s, "name", str, f"speakers[{i}]"),
                csm_id=_field(s, "csm_id", int, f"speakers[{i}]"),
                clip_ids=[str(c) for c in _field(s, "clip_ids", list, f"speakers[{i}]", default=[])],
                color=_field(s, "color", (str, type(None)), f"speakers[{i}]", default=None),
            )
            for i, s in enumerate(_field(data, "speakers", list, default=[]))
        ]
        raw_settings = _field(data, "settings", dict, default={})
        defaults = GenerationSettings()
        settings = GenerationSettings(
            temperature=float(_field(raw_settings, "temperature", (int, float), "settings", defaults.temperature)),
            topk=_field(raw_settings, "topk", int, "settings", defaults.topk),
            max_line_ms=_field(raw_settings, "max_line_ms", int, "settings", defaults.max_line_ms),
            seed=_field(raw_settings, "seed", int, "settings", defaults.seed),
            default_gap_ms=_field(raw_settings, "default_gap_ms", int, "settings", defaults.default_gap_ms),
        )
        lines: dict[int, LineState] = {}
        for key, value in _field(data, "lines", dict, default={}).items():
            where = f"lines[{key}]"
            if not str(key).isdigit():
                raise ProjectError(f"project.json: {where} is not a line number.")
            lines[int(key)] = LineState(
                chosen_take=_field(value, "chosen_take", (str, type(None)), where, None),
                variant=_field(value, "variant", int, where, 0),
                gap_after_ms=_field(value, "gap_after_ms", (int, type(None)), where, None),
            )
        return cls(script_text=script, speakers=speakers, settings=settings, lines=lines, folder=folder)

    # ----- files ------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path) -> "Project":
        folder = Path(folder)
        path = folder / PROJECT_FILE if folder.is_dir() else folder
        if path.name != PROJECT_FILE or not path.is_file():
            raise ProjectError(f"{folder} is not a CSM Desktop project (no {PROJECT_FILE}).")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path} could not be read ({exc}).") from None
        except json.JSONDecodeError as exc:
            raise ProjectError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
        return cls.from_json(data, folder=path.parent)

    def save(self, folder: str | Path | None = None) -> Path:
        """Write ``project.json`` atomically (into ``folder``, which becomes the project's)."""
        if folder is not None:
            folder = Path(folder)
            if folder.suffix != SUFFIX:
                folder = folder.with_name(folder.name + SUFFIX)
            self.folder = folder
        if self.folder is None:
            raise ProjectError("Choose where to save the project first.")
        (self.folder / TAKES_DIR).mkdir(parents=True, exist_ok=True)
        return atomic_write_text(self.folder / PROJECT_FILE, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


_MISSING = object()


def _field(obj: Any, name: str, kind, where: str = "", default: Any = _MISSING) -> Any:
    label = f"{where}.{name}" if where else name
    if not isinstance(obj, dict):
        raise ProjectError(f"project.json: {where or 'the file'} is not an object.")
    if name not in obj:
        if default is _MISSING:
            raise ProjectError(f"project.json: field '{label}' is missing.")
        return default
    value = obj[name]
    if isinstance(value, bool) and kind in (int, (int, float)):
        raise ProjectError(f"project.json: field '{label}' has the wrong type.")
    if not isinstance(value, kind):
        raise ProjectError(f"project.json: field '{label}' has the wrong type.")
    return value


class Autosaver:
    """Saves a project every ``interval_s`` seconds while it is dirty, on a background timer.

    The UI may use its own timer instead; this one serves the CLI and headless use.
    """

    def __init__(self, project: Project, interval_s: float = 30.0) -> None:
        self.project = project
        self.interval_s = interval_s
        self.dirty = False
        self.last_error: CsmError | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="csm-autosave", daemon=True)

    def mark_dirty(self) -> None:
        self.dirty = True

    def save_now(self) -> None:
        with self._lock:
            if self.dirty and self.project.folder is not None:
                try:
                    self.project.save()
                    self.dirty = False
                    self.last_error = None
                except (OSError, CsmError) as exc:
                    self.last_error = exc if isinstance(exc, CsmError) else ProjectError(f"Autosave failed: {exc}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.save_now()

    def __enter__(self) -> "Autosaver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.save_now()
