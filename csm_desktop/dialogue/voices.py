"""The context library: voice clips (24 kHz mono WAV + transcript + speaker) in SQLite.

Two processes may share a library: SQLite runs in WAL mode with a busy timeout, every change is
one transaction, and files are written atomically before their row exists.

Stored data is not trusted: a damaged database file is set aside (renamed, never deleted) and an
empty library started in its place, and every path made from a row must lie inside the clips
folder, so no row can make the library open or delete a file elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from csm_desktop.audio import SAMPLE_RATE, load_audio, probe_audio, read_audio, write_audio
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, resolved
from csm_desktop.paths import data_dir
from csm_desktop.wording import count_of

BEST_S = (6.0, 12.0)  # CSM imitates a voice best from this much reference speech
SHORT_S, LONG_S, MAX_S = BEST_S[0], 30.0, 120.0  # warned below the best length, and over LONG_S
SILENCE_PEAK = 1e-4
BUSY_TIMEOUT_S = 10.0
_KEEP = object()
_COLUMNS = {"id", "name", "file", "duration", "transcript", "speaker", "audio_hash", "source", "created"}
_HASH = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f]{32}")
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
log = logging.getLogger(__name__)

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
    # Consent (issue 15): when the user confirmed they may use the voice (ISO 8601, UTC; NULL:
    # not yet), and whether the clip is the user's own voice.
    """
    ALTER TABLE clips ADD COLUMN consent_at TEXT;
    ALTER TABLE clips ADD COLUMN own_voice INTEGER NOT NULL DEFAULT 0;
    """,
]


class ClipError(CsmError):
    """A clip that cannot be imported or found."""


class DuplicateClipError(ClipError):
    """The library already holds this audio; ``existing`` is that clip."""

    def __init__(self, existing: Clip, label: str) -> None:
        super().__init__(f"{label} is already in the library as \u201c{existing.name}\u201d, so it was not imported "
                         "again.")
        self.existing = existing


class LibraryError(CsmError):
    """The library's database cannot be used (unreadable, full disk, no permission)."""


class LibraryBusyError(LibraryError):
    """Another program held the library's lock for longer than the busy timeout."""


class LibraryDamagedError(LibraryError):
    """The database file is not a database, is corrupt, or has the wrong tables."""


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
    consent_at: str | None = None  # when the user confirmed permission to use this voice (UTC)
    own_voice: bool = False  # the user said it is their own voice

    def load(self) -> torch.Tensor:
        return read_audio(self.path, SAMPLE_RATE)


def _consent(row: sqlite3.Row) -> dict:
    """A row's consent, read leniently: a damaged date counts as no consent (asked again)."""
    keys = row.keys()
    when = row["consent_at"] if "consent_at" in keys else None
    if isinstance(when, str):
        try:
            datetime.fromisoformat(when)
        except ValueError:
            when = None
    else:
        when = None
    return {"consent_at": when, "own_voice": bool(row["own_voice"]) if "own_voice" in keys and when else False}


def clip_warnings(duration: float) -> list[str]:
    """What to tell the user about a clip's length. The rule is decided on the length as the
    message shows it (one decimal), so a clip shown as "6.0 s" is never called too short."""
    low, high = BEST_S
    shown = round(duration, 1)
    if shown < SHORT_S:
        return [f"Only {shown:.1f} s long: CSM imitates a voice best from {low:g}-{high:g} s of speech. "
                "Use a longer clip, or give this speaker a second one."]
    if shown > LONG_S:
        return [f"{duration:.0f} s long: clips over {LONG_S:.0f} s use much of the context; "
                f"{low:g}-{high:g} s works best."]
    return []


class VoiceLibrary:
    """Voice clips in ``root/clips`` and their rows in ``root/library.sqlite3``.

    ``notice`` says, once, what went wrong on opening (a damaged file set aside, rows hidden);
    the window shows it and calls ``take_notice()``.
    """

    def __init__(self, root: str | Path | None = None, *, busy_timeout_s: float | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.clips_dir = self.root / "clips"
        self.codes_dir = self.root / "cache" / "codes"
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self.notice: str | None = None
        self._db_path = self.root / "library.sqlite3"
        self._open()

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self._db_path, timeout=self.busy_timeout_s, isolation_level=None)  # waits, then BUSY
        con.row_factory = sqlite3.Row
        return con

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection whose sqlite3 errors become ``LibraryError`` messages."""
        try:
            con = self._connect()
            try:
                yield con
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise self._library_error(exc) from None

    def _library_error(self, exc: sqlite3.Error) -> LibraryError:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code in _BUSY:
            return LibraryBusyError(
                f"The voice library at {self.root} is locked by another program (waited "
                f"{self.busy_timeout_s:g} s). Close other CSM Desktop windows or tools using it, then try again.")
        if code in _DAMAGED or "no such" in str(exc):
            return LibraryDamagedError(
                f"The voice library file {self._db_path} is damaged ({exc}). Restart CSM Desktop: it sets "
                "the damaged file aside and starts an empty library.")
        return LibraryError(f"The voice library at {self.root} could not be used ({exc}). "
                            "Check that the disk has space and that you may write to this folder.")

    def _open(self) -> None:
        try:
            self._migrate()
        except LibraryDamagedError as exc:
            try:
                aside = self._set_aside()
            except OSError as err:
                raise LibraryError(f"The voice library file {self._db_path} is damaged ({exc}) and could not be "
                                   f"moved aside ({err.strerror}). Move it away yourself, then start again.") from None
            log.warning("voice library set aside as %s: %s", aside, exc)
            self._migrate()
            self.notice = (f"The voice library file was damaged ({exc}). It has been set aside as {aside.name} "
                           f"(nothing was deleted), and an empty library was started. Imported audio stays in "
                           f"{self.clips_dir}.")
            return
        hidden = self._hidden_rows()
        if hidden:
            self.notice = (f"{count_of(len(hidden), 'voice clip')} in the library {'has an entry that is' if len(hidden) == 1 else 'have entries that are'} damaged or point "
                           f"outside {self.clips_dir}; they are hidden, and no file of theirs is opened or "
                           f"deleted. First: {hidden[0]}")

    def _migrate(self) -> None:
        """Check the file read-only (a file that is not a library of ours raises
        ``LibraryDamagedError`` and is left untouched, its -wal too), then bring the schema up to
        date, taking the write lock only when there is something to do."""
        self._inspect()
        try:
            con = self._connect()
        except sqlite3.Error as exc:
            raise self._opening_error(exc) from None
        try:
            if con.execute("PRAGMA user_version").fetchone()[0] != len(_MIGRATIONS):
                self._run_migrations(con)
            con.execute("PRAGMA journal_mode=WAL")  # persistent; set once the file is known to be ours
        except sqlite3.Error as exc:
            raise self._opening_error(exc) from None
        finally:
            con.close()

    def _inspect(self) -> None:
        if not self._db_path.is_file() or self._db_path.stat().st_size == 0:
            return
        try:
            con = sqlite3.connect(f"{self._db_path.resolve().as_uri()}?mode=ro", uri=True,
                                  timeout=self.busy_timeout_s)
        except sqlite3.Error as exc:
            raise self._opening_error(exc) from None
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise LibraryDamagedError("it holds another program's tables")
            if 0 < version <= len(_MIGRATIONS):
                columns = {r[1] for r in con.execute("PRAGMA table_info(clips)")}
                if not _COLUMNS <= columns:
                    raise LibraryDamagedError(f"its clips table lacks {', '.join(sorted(_COLUMNS - columns))}")
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise LibraryDamagedError(f"integrity check: {check}")
        except sqlite3.Error as exc:
            raise self._opening_error(exc) from None
        finally:
            con.close()

    def _run_migrations(self, con: sqlite3.Connection) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise ClipError(f"The voice library at {self.root} was made by a newer CSM Desktop. Update the app.")
            for i in range(version, len(_MIGRATIONS)):
                for statement in _MIGRATIONS[i].split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version={i + 1}")
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _opening_error(self, exc: sqlite3.Error) -> LibraryError:
        """On opening, a statement that fails for a schema reason ("table clips already exists",
        "no such table") means the file is someone else's or damaged, not that we are wrong."""
        error = self._library_error(exc)
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if isinstance(error, LibraryDamagedError) or (type(error) is LibraryError and code == sqlite3.SQLITE_ERROR):
            return LibraryDamagedError(str(exc))
        return error

    def _set_aside(self) -> Path:
        """Rename the database (with its -wal and -shm files, which belong to it) out of the way."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 0
        while True:
            aside = self.root / f"library.damaged-{stamp}{f'-{n}' if n else ''}.sqlite3"
            if not any(Path(f"{aside}{s}").exists() for s in ("", "-wal", "-shm")):
                break
            n += 1
        for suffix in ("-wal", "-shm", ""):
            src = Path(f"{self._db_path}{suffix}")
            if src.exists():
                src.rename(f"{aside}{suffix}")
        return aside

    def _hidden_rows(self) -> list[str]:
        problems = []
        with self._db() as con:
            for row in con.execute("SELECT * FROM clips"):
                try:
                    self._clip(row)
                except ClipError as exc:
                    problems.append(str(exc))
        return problems

    def _inside(self, folder: Path, name: object) -> Path:
        """``folder / name`` if that resolves to a file directly inside ``folder``."""
        if isinstance(name, str) and name:
            path = folder / name
            real = resolved(path)
            if real is not None and real.parent == folder.resolve():
                return path
        raise ClipError(f"{name!r} is not a file inside {folder}: the voice library opens and deletes only "
                        "its own files. Import the clip again.")

    def _clip(self, row: sqlite3.Row) -> Clip:
        """A row as a ``Clip``; ``ClipError`` if any stored value is unusable."""
        duration, audio_hash = row["duration"], row["audio_hash"]
        if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
            raise ClipError(f"Voice clip {row['id']!r} has a damaged duration ({duration!r}); import the clip again.")
        if not isinstance(audio_hash, str) or not _HASH.fullmatch(audio_hash):
            raise ClipError(f"Voice clip {row['id']!r} has a damaged audio hash; import the clip again.")
        return Clip(id=row["id"], name=str(row["name"]), path=self._inside(self.clips_dir, row["file"]),
                    duration=float(duration), transcript=str(row["transcript"]), speaker=row["speaker"],
                    audio_hash=audio_hash, warnings=clip_warnings(duration), **_consent(row))

    # ----- queries ------------------------------------------------------------------------------
    def clips(self) -> list[Clip]:
        """Every usable clip; rows with damaged values are left out (and named by ``notice``)."""
        clips = []
        with self._db() as con:
            for row in con.execute("SELECT * FROM clips ORDER BY created, name"):
                try:
                    clips.append(self._clip(row))
                except ClipError as exc:
                    log.warning("hidden voice clip: %s", exc)
        return clips

    def get(self, clip_id: str) -> Clip:
        with self._db() as con:
            row = con.execute("SELECT * FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            raise ClipError(f"Voice clip {clip_id} is not in the library (was it removed?).")
        return self._clip(row)

    # ----- changes ------------------------------------------------------------------------------
    def import_clip(self, path: str | Path, name: str | None = None, speaker: str | None = None,
                    transcript: str = "") -> Clip:
        """Import any readable audio file as a 24 kHz mono clip. Nothing is left behind on error.

        Raises:
            AudioFileError: not a regular file, empty, unreadable, or an absurd sample rate.
            ClipError: silence only, or longer than two minutes (told by the header, before decoding).
            LibraryError: the library's database is locked or cannot be written.
        """
        src = Path(path)
        info = probe_audio(src)
        if info.duration > MAX_S:
            raise ClipError(f"{src.name} is {info.duration:.0f} s long; clips may be at most {MAX_S:.0f} s. "
                            "Trim it to 6-12 s of speech.")
        decoded = load_audio(src, SAMPLE_RATE, max_seconds=MAX_S)
        audio = decoded.samples
        peak = float(audio.abs().max())
        if peak < SILENCE_PEAK:
            raise ClipError(f"{src.name} is silent. Choose a clip in which the voice can be heard.")
        if peak > 1.0:  # resampling or float sources may exceed full scale: scale, never clip
            audio = audio / peak * 0.99
        return self.add_audio(audio, name or src.stem, source=str(src), speaker=speaker, transcript=transcript,
                              warnings=decoded.warnings, label=src.name)

    def add_audio(self, audio: torch.Tensor, name: str, *, source: str = "", speaker: str | None = None,
                  transcript: str = "", warnings: list[str] | None = None, label: str | None = None) -> Clip:
        """Store 24 kHz mono ``audio`` ([T] float) as a new clip.

        Raises:
            DuplicateClipError: the library already holds the same audio (nothing is added).
            LibraryError: the library's database is locked or cannot be written.
        """
        clip_id = uuid.uuid4().hex
        file_name = f"{clip_id}.wav"
        dest = write_audio(self.clips_dir / file_name, audio, SAMPLE_RATE)
        audio_hash = hashlib.sha256(dest.read_bytes()).hexdigest()
        existing = self.find_by_hash(audio_hash)
        if existing is not None:
            dest.unlink(missing_ok=True)
            raise DuplicateClipError(existing, label or name)
        duration = audio.numel() / SAMPLE_RATE
        clip = Clip(id=clip_id, name=name, path=dest, duration=duration, transcript=transcript,
                    speaker=speaker, audio_hash=audio_hash, warnings=list(warnings or []) + clip_warnings(duration))
        self._insert(clip, file_name, source, label or name)
        return clip

    def adopt_file(self, path: str | Path, clip_id: str, name: str, transcript: str = "") -> Clip:
        """Bring in a clip file this library wrote elsewhere (a project's copy of it) under its own
        id, byte for byte, so its audio hash (and every cache and take keyed by it) stays the same.
        Returns the clip already here when the id, or the same audio, is known.

        Raises:
            AudioFileError, ClipError: not a usable 24 kHz clip. LibraryError: as ``import_clip``.
        """
        src = Path(path)
        if not _ID.fullmatch(clip_id):
            raise ClipError(f"{src.name}: {clip_id!r} is not a voice clip id.")
        try:
            return self.get(clip_id)
        except ClipError:
            pass
        info = probe_audio(src)
        if info.sample_rate != SAMPLE_RATE or info.channels != 1 or info.duration > MAX_S:
            raise ClipError(f"{src.name} is not a voice clip written by CSM Desktop (24 kHz mono, at most "
                            f"{MAX_S:.0f} s). Import the original recording instead.")
        data = src.read_bytes()
        audio_hash = hashlib.sha256(data).hexdigest()
        existing = self.find_by_hash(audio_hash)
        if existing is not None:
            return existing
        file_name = f"{clip_id}.wav"
        dest = self.clips_dir / file_name
        atomic_write(dest, lambda fh: fh.write(data))
        duration = load_audio(dest, SAMPLE_RATE, max_seconds=MAX_S).samples.numel() / SAMPLE_RATE
        clip = Clip(id=clip_id, name=name, path=dest, duration=duration, transcript=transcript,
                    audio_hash=audio_hash, warnings=clip_warnings(duration))
        self._insert(clip, file_name, str(src), src.name)
        return clip

    def _insert(self, clip: Clip, file_name: str, source: str, label: str) -> None:
        try:
            with self._db() as con:
                con.execute(
                    "INSERT INTO clips (id, name, file, duration, transcript, speaker, audio_hash, source, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (clip.id, clip.name, file_name, clip.duration, clip.transcript, clip.speaker, clip.audio_hash,
                     source, time.time()),
                )
        except LibraryError as exc:
            clip.path.unlink(missing_ok=True)
            raise type(exc)(f"{label} was not imported: {exc}") from None

    def find_by_hash(self, audio_hash: str) -> Clip | None:
        """The usable clip holding exactly this audio, if any."""
        with self._db() as con:
            rows = con.execute("SELECT * FROM clips WHERE audio_hash = ? ORDER BY created", (audio_hash,)).fetchall()
        for row in rows:
            try:
                return self._clip(row)
            except ClipError:
                continue
        return None

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
            with self._db() as con:
                cur = con.execute(f"UPDATE clips SET {', '.join(sets)} WHERE id = ?", (*values, clip_id))
            if cur.rowcount == 0:
                raise ClipError(f"Voice clip {clip_id} is not in the library (was it removed?).")
        return self.get(clip_id)

    def record_consent(self, clip_id: str, *, own_voice: bool = False, when: datetime | None = None) -> Clip:
        """Record that the user confirmed they may use this clip's voice (``own_voice``: it is
        their own), dated ``when`` (now by default). A clip keeps the first date it was given."""
        stamp = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")
        with self._db() as con:
            cur = con.execute("UPDATE clips SET consent_at = coalesce(consent_at, ?), own_voice = ? WHERE id = ?",
                              (stamp, int(own_voice), clip_id))
        if cur.rowcount == 0:
            raise ClipError(f"Voice clip {clip_id} is not in the library (was it removed?).")
        return self.get(clip_id)

    def remove(self, clip_id: str) -> None:
        """Forget a clip and delete its file; refused (nothing deleted) for a row whose file is
        not inside the clips folder."""
        clip = self.get(clip_id)
        with self._db() as con:
            con.execute("DELETE FROM clips WHERE id = ?", (clip_id,))
        clip.path.unlink(missing_ok=True)

    # ----- codes cache ----------------------------------------------------------------------------
    def codes(self, clip: Clip, encode, codec_identity: str) -> torch.Tensor:
        """Mimi codes of a clip, computed once per (audio, codec) and kept in ``cache/codes``."""
        if not _HASH.fullmatch(clip.audio_hash):
            raise ClipError(f"Voice clip {clip.name} has a damaged audio hash; import the clip again.")
        cache = self._inside(self.codes_dir, f"{clip.audio_hash[:32]}-{codec_identity}.pt")
        if cache.is_file():
            try:
                return torch.load(cache, weights_only=True)
            except (OSError, RuntimeError, EOFError):
                cache.unlink(missing_ok=True)  # a damaged cache entry is recomputed
        codes = encode(clip.load()).cpu()
        atomic_write(cache, lambda fh: torch.save(codes, fh))
        return codes
