"""Takes on disk: ``takes/<key>.wav`` plus ``<key>.json``, keyed by everything that made them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from csm_desktop.audio import read_audio, write_audio
from csm_desktop.marker import AI_MARKER
from csm_desktop.fileio import atomic_write_text


def take_key(parts: dict[str, Any]) -> str:
    """A stable hash of the inputs that determine a take."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


@dataclass
class TakeInfo:
    key: str
    line_text: str
    speaker: str
    csm_id: int
    variant: int
    seed: int
    duration: float
    frames: int
    context: list[str] = field(default_factory=list)  # keys of the takes in its context
    created: float = 0.0


class TakeStore:
    def __init__(self, folder: Path, sample_rate: int) -> None:
        self.folder = Path(folder)
        self.sample_rate = sample_rate

    def audio_path(self, key: str) -> Path:
        return self.folder / f"{key}.wav"

    def has(self, key: str) -> bool:
        return self.audio_path(key).is_file() and (self.folder / f"{key}.json").is_file()

    def info(self, key: str) -> TakeInfo | None:
        try:
            return TakeInfo(**json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def load(self, key: str) -> torch.Tensor:
        return read_audio(self.audio_path(key), self.sample_rate)

    def save(self, info: TakeInfo, audio: torch.Tensor) -> None:
        """Audio first, then the metadata that makes the take count as present."""
        write_audio(self.audio_path(info.key), audio, self.sample_rate, subtype="FLOAT", comment=AI_MARKER)
        atomic_write_text(self.folder / f"{info.key}.json", json.dumps(asdict(info), indent=1, ensure_ascii=False))

    def takes_for(self, line_text: str, speaker: str) -> list[TakeInfo]:
        """Every take on disk for this text and speaker, oldest first."""
        found = []
        for meta in self.folder.glob("*.json"):
            info = self.info(meta.stem)
            if info and info.line_text == line_text and info.speaker == speaker and self.audio_path(info.key).is_file():
                found.append(info)
        return sorted(found, key=lambda i: i.created)
