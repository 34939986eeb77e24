"""User settings: a JSON file with a ``schema_version`` in the config folder. No secrets here:
keys and tokens live in the OS keyring (see ``services/credentials.py``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from csm_desktop.engine.accel import ACCELS  # the engine's modes (a module without torch)
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write_text
from csm_desktop.paths import config_dir

SCHEMA_VERSION = 1
DEFAULT_MODEL = "sesame/csm-1b"  # the speech model, as the hub names it: its one home
ENGINES = ("local", "remote")
DEVICES = ("auto", "cuda", "mps", "mlx", "cpu")  # mlx: the language model in MLX (Apple Silicon)
# Generation defaults a project copies: the ranges project.json is held to (dialogue/project.py).
TEMPERATURE = (0.01, 5.0)
TOPK = (1, 2051)  # a Mimi codebook has 2051 entries
LINE_MS = (80, 2048 * 80)  # one frame to the model's 2048 positions of 80 ms
GAP_MS = (0, 60_000)  # a gap is a pause: at most the script's longest
PARALLEL = (1, 64)  # scenes rendered at once on a remote engine (its max_replicas)
BEST_OF = (1, 8)  # candidate takes rendered per line (the engine's largest batch)
# Who hears a take's words for its checks (services/recognizers.py). "none" by default: it needs no
# download, no network and no CPU beside the render; voice activity and voice are checked anyway.
RECOGNIZERS = ("none", "whisper", "gemini")
DEFAULT_WHISPER = "Systran/faster-whisper-base.en"
_RANGES = {"temperature": TEMPERATURE, "topk": TOPK, "max_line_ms": LINE_MS, "default_gap_ms": GAP_MS,
           "remote_parallel": PARALLEL}


@dataclass
class Settings:
    engine: str = "local"  # "local" or "remote" (Cerebrium or `csm-desktop serve`)
    device: str = "auto"
    accel: str = "auto"
    model: str = DEFAULT_MODEL  # hub repository id or local folder
    remote_url: str = ""
    remote_parallel: int = 1  # scenes rendered at once on the remote engine
    gemini_model: str = "gemini-2.5-flash"
    temperature: float = 0.9
    topk: int = 50
    max_line_ms: int = 15_000
    default_gap_ms: int = 300
    recognizer: str = "none"  # one of RECOGNIZERS: checks every take's words when not "none"
    whisper_model: str = DEFAULT_WHISPER  # hub repository id or local folder
    recent_projects: list[str] = field(default_factory=list)
    export_options: dict = field(default_factory=dict)  # the export dialog's last choices, checked when read
    # Responsible voice (issue 15): the watermark can be left off only for takes whose voice clips
    # are all the user's own; content credentials may be signed with the user's own certificate.
    watermark_own_voice: bool = True
    credentials_cert: str = ""  # PEM certificate chain (signing certificate first); "": this installation's
    credentials_key: str = ""  # its PEM private key
    open_last_project: bool = True  # start with the project open when the app last closed
    last_project: str = ""  # that project's folder ("" when it was untitled)
    import_folder: str = ""  # where the Import dialog last took voice clips from ("": the documents folder)
    schema_version: int = SCHEMA_VERSION

    @staticmethod
    def path() -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls) -> "Settings":
        """The saved settings; defaults when there are none. A damaged file is set aside
        (renamed ``settings.json.bad``) rather than lost, and defaults are used."""
        path = cls.path()
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            if int(data.get("schema_version", 0)) > SCHEMA_VERSION:
                raise CsmError("The settings file was written by a newer CSM Desktop; update the app.")
            known = {f.name: f for f in fields(cls)}
            settings = cls()
            for key, value in data.items():
                if key in known and key != "schema_version":
                    default = getattr(settings, key)
                    if isinstance(value, bool) != isinstance(default, bool) or not isinstance(
                            value, type(default)) and not (isinstance(default, float) and isinstance(value, int)):
                        continue  # a wrong type keeps the default (true is no number, 1 no switch)
                    setattr(settings, key, value)
            if settings.engine not in ENGINES:
                settings.engine = "local"
            if settings.device not in DEVICES:
                settings.device = "auto"
            if settings.accel not in ACCELS:
                settings.accel = "auto"
            if settings.recognizer not in RECOGNIZERS:
                settings.recognizer = "none"
            for key, (low, high) in _RANGES.items():
                value = getattr(settings, key)
                if not low <= value <= high:  # NaN too: a hand edit out of range keeps the default
                    setattr(settings, key, getattr(cls, key))
            return settings
        except (OSError, ValueError, TypeError, UnicodeDecodeError):  # TypeError: {"schema_version": null}
            path.replace(path.with_name("settings.json.bad"))
            return cls()

    def save(self) -> Path:
        return atomic_write_text(self.path(), json.dumps(asdict(self), indent=2) + "\n")

    def add_recent(self, project_folder: str | Path, keep: int = 10) -> None:
        p = str(project_folder)
        self.recent_projects = [p] + [r for r in self.recent_projects if r != p][: keep - 1]
