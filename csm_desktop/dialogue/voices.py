"""The context library: voice clips (24 kHz mono WAV + transcript + speaker) in SQLite.

Two processes may share a library: SQLite runs in WAL mode with a busy timeout, every change is
one transaction, and files are written atomically before their row exists.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from csm_desktop.audio import read_audio, write_audio
from csm_desktop.errors import AudioFileError, CsmError
from csm_desktop.fileio import atomic_write
from csm_desktop.paths import data_dir

SAMPLE_RATE = 24_000
SHORT_S, LONG_S, MAX_S = 2.0, 30.0, 120.0  # CSM does best with 6-12 s of reference
SILENCE_PEAK = 1e-4
_KEEP = object()

_MIGRATIONS = [
    """
    CREATE TABLE clips (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        duration REAL NOT NULL,
        transcript TEXT NOT NULL DEFAULT '',
        speaker TEXT,
        audio_hash TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    );
    """,
]


class ClipError(CsmError):
    """A clip that cannot be imported or found."""


@dataclass
class Clip:
    id: str
    name: str
    path: Path
    duration: float
    transcript: str = ""
    speaker: str | None = None
    audio_hash: str = ""
    warnings: list[str] = field(default_factory=list)

    def load(self) -> torch.Tensor:
        return read_audio(self.path, SAMPLE_RATE)


def clip_warnings(duration: float) -> list[str]:
    if duration < SHORT_S:
        return [f"Only {duration:.1f} s long: CSM imitates a voice best from 6-12 s of speech."]
    if duration > LONG_S:
        return [f"{duration:.0f} s long: clips over {LONG_S:.0f} s use much of the context; 6-12 s works best."]
    return []


class VoiceLibrary:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.clips_dir = self.root / "clips"
        self.codes_dir = self.root / "cache" / "codes"
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self._db_path = self.root / "library.sqlite3"
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self._db_path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        con.row_factory = sqlite3.Row
        return con

    def _migrate(self) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                con.execute("ROLLBACK")
                raise ClipError(f"The voice library at {self.root} was made by a newer CSM Desktop. Update the app.")
            for i in range(version, len(_MIGRATIONS)):
                for statement in _MIGRATIONS[i].split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version={i + 1}")
            con.execute("COMMIT")
        finally:
            con.close()

    def _clip(self, row: sqlite3.Row) -> Clip:
        return Clip(id=row["id"], name=row["name"], path=self.clips_dir / row["file"], duration=row["duration"],
                    transcript=row["transcript"], speaker=row["speaker"], audio_hash=row["audio_hash"],
                    warnings=clip_warnings(row["duration"]))

    # ----- queries ------------------------------------------------------------------------------
    def clips(self) -> list[Clip]:
        con = self._connect()
        try:
            return [self._clip(r) for r in con.execute("SELECT * FROM clips ORDER BY created, name")]
        finally:
            con.close()

    def get(self, clip_id: str) -> Clip:
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM clips WHERE id = ?", (clip_id,)).fetchone()
        finally:
            con.close()
        if row is None:
            raise ClipError(f"Voice clip {clip_id} is not in the library (was it removed?).")
        return self._clip(row)

    # ----- changes ------------------------------------------------------------------------------
    def import_clip(self, path: str | Path, name: str | None = None, speaker: str | None = None,
                    transcript: str = "") -> Clip:
        """Import any readable audio file as a 24 kHz mono clip. Nothing is left behind on error.

        Raises:
            AudioFileError: the file is missing, a folder, empty, truncated or not audio.
            ClipError: silence only, or longer than two minutes.
        """
        src = Path(path)
        if src.is_file() and src.stat().st_size == 0:
            raise AudioFileError(f"{src.name} is empty (0 bytes).")
        audio = read_audio(src, SAMPLE_RATE)
        duration = audio.numel() / SAMPLE_RATE
        if duration > MAX_S:
            raise ClipError(f"{src.name} is {duration:.0f} s long; clips may be at most {MAX_S:.0f} s. Trim it to 6-12 s of speech.")
        peak = float(audio.abs().max())
        if peak < SILENCE_PEAK:
            raise ClipError(f"{src.name} is silent. Choose a clip in which the voice can be heard.")
        if peak > 1.0:  # resampling or float sources may exceed full scale: scale, never clip
            audio = audio / peak * 0.99
        clip_id = uuid.uuid4().hex
        file_name = f"{clip_id}.wav"
        dest = write_audio(self.clips_dir / file_name, audio, SAMPLE_RATE)
        audio_hash = hashlib.sha256(dest.read_bytes()).hexdigest()
        clip = Clip(id=clip_id, name=name or src.stem, path=dest, duration=duration, transcript=transcript,
                    speaker=speaker, audio_hash=audio_hash, warnings=clip_warnings(duration))
        con = self._connect()
        try:
            con.execute(
                "INSERT INTO clips (id, name, file, duration, transcript, speaker, audio_hash, source, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (clip.id, clip.name, file_name, duration, transcript, speaker, audio_hash, str(src), time.time()),
            )
        except sqlite3.Error as exc:
            dest.unlink(missing_ok=True)
            raise ClipError(f"The voice library could not store {src.name}: {exc}") from None
        finally:
            con.close()
        return clip

    def update(self, clip_id: str, *, name: str | None = None, transcript: str | None = None,
               speaker: str | None | object = _KEEP) -> Clip:
        """Change a clip's name, transcript or speaker (``speaker=None`` unassigns it)."""
        sets, values = [], []
        if name is not None:
            sets.append("name = ?"), values.append(name)
        if transcript is not None:
            sets.append("transcript = ?"), values.append(transcript)
        if speaker is not _KEEP:
            sets.append("speaker = ?"), values.append(speaker)
        if sets:
            con = self._connect()
            try:
                cur = con.execute(f"UPDATE clips SET {', '.join(sets)} WHERE id = ?", (*values, clip_id))
            finally:
                con.close()
            if cur.rowcount == 0:
                raise ClipError(f"Voice clip {clip_id} is not in the library (was it removed?).")
        return self.get(clip_id)

    def remove(self, clip_id: str) -> None:
        clip = self.get(clip_id)
        con = self._connect()
        try:
            con.execute("DELETE FROM clips WHERE id = ?", (clip_id,))
        finally:
            con.close()
        clip.path.unlink(missing_ok=True)

    # ----- codes cache ----------------------------------------------------------------------------
    def codes(self, clip: Clip, encode, codec_identity: str) -> torch.Tensor:
        """Mimi codes of a clip, computed once per (audio, codec) and kept in ``cache/codes``."""
        cache = self.codes_dir / f"{clip.audio_hash[:32]}-{codec_identity}.pt"
        if cache.is_file():
            try:
                return torch.load(cache, weights_only=True)
            except (OSError, RuntimeError, EOFError):
                cache.unlink(missing_ok=True)  # a damaged cache entry is recomputed
        codes = encode(clip.load()).cpu()
        atomic_write(cache, lambda fh: torch.save(codes, fh))
        return codes
