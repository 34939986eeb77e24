"""Takes on disk: ``takes/<key>.wav`` plus ``<key>.json``, keyed by everything that made them;
a take made remotely also keeps the Mimi codes it was decoded from (``<key>.codes.npy``), so that
it goes up as context in codes, not audio. A checked take has its checks in ``<key>.check.json``
(:class:`~csm_desktop.dialogue.checks.TakeCheck`): written when the checks finish, after the take
itself, and validated when read; a take without one (or with a malformed one) is unchecked.

The take that is used (playback, export, context for later lines) is the stored audio trimmed to
``[trim_start_s, trim_end_s)`` of its record (:class:`TakeInfo`): leading silence and non-speech
past a natural tail are left out (:func:`~csm_desktop.dialogue.vad.trim_points`), while the file
keeps every sample the model made (:meth:`TakeStore.load_untrimmed`; the checks read that). The
trim points live in the take's own record, written with it, so a take is trimmed the moment it
counts as present, whether or not its checks have finished. A take's Mimi codes are for the
untrimmed audio; :meth:`TakeStore.codes` gives the frames that cover the used part (80 ms frames:
at most one frame more on each side), so context sent as codes is the trimmed take too.

A key is 24 lowercase hex digits and nothing else: keys come from files a person can edit
(``project.json``, a take's own ``.json``), so every path made from one is checked to be a
plain file name inside ``takes/`` before it is read or written.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from csm_desktop.audio import read_audio, write_audio
from csm_desktop.dialogue.checks import CheckError, TakeCheck
from csm_desktop.dialogue.vad import TrimPoints, cut
from csm_desktop.dialogue.project import TAKE_KEY
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, atomic_write_text, ensure_free_space, resolved
from csm_desktop.marker import AI_MARKER

KEY_LENGTH = 24
CHECK_SUFFIX = ".check.json"
MAX_CHECK_BYTES = 1_000_000
CODE_FRAME_S = 0.08  # one frame of Mimi codes: 12.5 a second
# Takes folders whose records are kept for takes_for (by folder: file name -> (inode, mtime,
# size) and the record read then); the least recently listed folder goes first.
_RECORDS_FOLDERS = 4
_records_cache: dict[str, dict[str, tuple[tuple[int, int, int], "TakeInfo | None"]]] = {}
_records_lock = threading.Lock()
_HEADER_BYTES = 4096  # room for a WAV header and the take's .json


class TakeError(CsmError):
    """A take that is named wrongly or lies outside the project's takes folder."""


def is_take_key(value: object) -> bool:
    """Whether ``value`` has the one form a take key has (what :func:`take_key` returns)."""
    return isinstance(value, str) and TAKE_KEY.fullmatch(value) is not None


def take_key(parts: dict[str, Any]) -> str:
    """A stable hash of the inputs that determine a take."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:KEY_LENGTH]


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
    codec: str = ""  # the Mimi weights of <key>.codes.npy, when the take keeps its codes
    inputs: dict = field(default_factory=dict)  # what its key is a hash of (render.py): says why a line went stale
    watermark: str = ""  # "PerTh", or why the take has none ("" for takes made before watermarks)
    candidate: int = 0  # which of the line's best-of-N candidates it is (0: the only take, or the first)
    trim_start_s: float = 0.0  # the part that is used (see the module's docstring)
    trim_end_s: float | None = None  # None: to the end (no speech found, or stored before trimming)

    @property
    def trimmed(self) -> bool:
        return self.trim_start_s > 0 or self.trim_end_s is not None

    @property
    def used_seconds(self) -> float:
        """How long the used (trimmed) take is."""
        end = self.duration if self.trim_end_s is None else min(self.trim_end_s, self.duration)
        return max(0.0, end - self.trim_start_s)


class TakeStore:
    def __init__(self, folder: Path, sample_rate: int) -> None:
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        self._real: Path | None = None  # the folder with links followed, once it exists

    def _real_folder(self) -> Path | None:
        if self._real is None:
            real = resolved(self.folder)
            if real is not None and real.is_dir():  # kept once there: a folder made later is resolved then
                self._real = real
            return real
        return self._real

    def audio_path(self, key: str) -> Path:
        return self._file(key, ".wav")

    def has(self, key: str) -> bool:
        """Whether a usable take ``key`` is on disk (a malformed or outside one is not)."""
        try:
            return self.audio_path(key).is_file() and self._file(key, ".json").is_file()
        except TakeError:
            return False

    def info(self, key: str) -> TakeInfo | None:
        """The take's record; None when it is missing, malformed, or not the take asked for."""
        try:
            data = json.loads(self._file(key, ".json").read_text(encoding="utf-8"))
            info = TakeInfo(**data)
        except (OSError, ValueError, TypeError, RecursionError, TakeError):
            return None
        return info if info.key == key and _well_typed(info) else None

    def load(self, key: str) -> torch.Tensor:
        """The take as it is used: trimmed to its record's trim points (mono ``[T]``)."""
        audio = self.load_untrimmed(key)
        info = self.info(key)
        if info is None or not info.trimmed:
            return audio
        return cut(audio, self.sample_rate, self._points(info, audio.shape[-1]))

    def load_untrimmed(self, key: str) -> torch.Tensor:
        """The take's audio as the model made it (what the checks judge)."""
        return read_audio(self.audio_path(key), self.sample_rate)

    def used_length(self, key: str) -> int:
        """Samples of :meth:`load`'s audio, read from the file's header and the take's record."""
        total = int(sf.info(str(self.audio_path(key))).frames)
        info = self.info(key)
        if info is None or not info.trimmed:
            return total
        start, end = self._points(info, total).samples(self.sample_rate)
        start = min(max(0, start), total)
        return max(start, min(end, total)) - start

    def set_trim(self, key: str, points: TrimPoints) -> TakeInfo:
        """Record the part of take ``key`` that is used (a take stored before takes were trimmed)."""
        info = self.info(key)
        if info is None:
            raise TakeError(f"There is no take {key} to trim; render the line again.")
        info.trim_start_s, info.trim_end_s = points.start_s, points.end_s
        atomic_write_text(self._file(key, ".json"), json.dumps(asdict(info), indent=1, ensure_ascii=False))
        return info

    def _points(self, info: TakeInfo, total: int) -> TrimPoints:
        end = total / self.sample_rate if info.trim_end_s is None else info.trim_end_s
        return TrimPoints(info.trim_start_s, end)

    def save(self, info: TakeInfo, audio: torch.Tensor, codes: torch.Tensor | None = None) -> None:
        """Audio (and codes, when given with ``info.codec``) first, then the metadata that makes
        the take count as present; a take whose metadata could not be written is removed whole."""
        wav = self.audio_path(info.key)
        codes_file = self._file(info.key, ".codes.npy")
        self._file(info.key, CHECK_SUFFIX).unlink(missing_ok=True)  # it judged other audio
        ensure_free_space(wav, audio.numel() * 4 + _HEADER_BYTES)  # FLOAT samples
        write_audio(wav, audio, self.sample_rate, subtype="FLOAT", comment=AI_MARKER)
        try:
            codes_file.unlink(missing_ok=True)
            if codes is not None and info.codec:
                array = codes.to("cpu", torch.int32).numpy().astype("<u2")
                atomic_write(codes_file, lambda fh: np.save(fh, array, allow_pickle=False))
            else:
                info.codec = ""
            atomic_write_text(self._file(info.key, ".json"), json.dumps(asdict(info), indent=1, ensure_ascii=False))
        except BaseException:
            wav.unlink(missing_ok=True)
            codes_file.unlink(missing_ok=True)
            raise

    def save_check(self, key: str, check: TakeCheck) -> None:
        """Store the checks of take ``key`` (which must be on disk) beside it."""
        if not self.has(key):
            raise TakeError(f"There is no take {key} to store checks for; render the line again.")
        atomic_write_text(self._file(key, CHECK_SUFFIX), json.dumps(check.to_json(), indent=1, ensure_ascii=False))

    def check(self, key: str) -> TakeCheck | None:
        """The stored checks of take ``key``; None when it was not checked or the file is not a
        valid check (it is then as good as absent: check the take again)."""
        try:
            path = self._file(key, CHECK_SUFFIX)
            if path.stat().st_size > MAX_CHECK_BYTES:
                return None
            return TakeCheck.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError, TakeError, CheckError):
            return None

    def codes(self, key: str, codec: str | None) -> torch.Tensor | None:
        """The take's codes ``[num_codebooks, frames]`` when it kept them for ``codec``: the frames
        that cover its used (trimmed) part; None otherwise (no codes, another codec, or a file
        that is not what it should be)."""
        info = self.info(key)
        if info is None or not codec or info.codec != codec:
            return None
        try:
            path = self._file(key, ".codes.npy")
            if path.stat().st_size > 64 * max(1, info.frames) * 8 + _HEADER_BYTES:
                return None
            array = np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
        except (OSError, ValueError, TakeError):
            return None
        if array.ndim != 2 or array.dtype != np.dtype("<u2") or not 0 < array.shape[1] <= info.frames + 1:
            return None
        if info.trimmed:
            first = int(math.floor(info.trim_start_s / CODE_FRAME_S + 1e-6))
            last = int(math.ceil((info.trim_start_s + info.used_seconds) / CODE_FRAME_S - 1e-6))
            array = array[:, min(first, array.shape[1] - 1):max(first + 1, last)]
        return torch.from_numpy(array.astype(np.int64))

    def _file(self, key: str, suffix: str) -> Path:
        """``takes/<key><suffix>``, refused unless ``key`` is a take key and the file, links
        followed, is inside the takes folder."""
        if not is_take_key(key):
            raise TakeError(f"{str(key)[:40]!r} is not a take name (takes are named by {KEY_LENGTH} hex digits). "
                            "Choose the line's take again, or render it again.")
        path = self.folder / f"{key}{suffix}"
        folder = self._real_folder()
        # The name is a take key (no separator): only the file itself can lead elsewhere, so a
        # file that is no link is checked with one lstat, not a realpath of every component.
        real = resolved(path) if folder is None or path.is_symlink() else folder / path.name
        if real is None or folder is None or not real.is_relative_to(folder):
            raise TakeError(f"The take file {path} points outside the project's takes folder; it was not used. "
                            "Remove it and render the line again.")
        return path

    def delete(self, key: str) -> None:
        """Remove take ``key``: its record first (so a half-removed take never counts as
        present), then its audio and whatever else was kept beside it.

        Raises: TakeError: not a take of this folder, or a file that could not be removed.
        """
        for suffix in (".json", ".wav", ".codes.npy", ".check.json"):
            path = self._file(key, suffix)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise TakeError(f"Could not remove {path} ({exc.strerror or exc}). Check that you may change the "
                                "project folder, then delete the take again.") from None

    def takes_for(self, line_text: str, speaker: str) -> list[TakeInfo]:
        """Every take on disk for this text and speaker, oldest first.

        The takes panel asks at every move of the cursor, and a long session keeps thousands
        of takes: the records are read once and kept while their files are unchanged (one
        ``stat`` each), not parsed again per question."""
        found = []
        for info in self._records():
            if info.line_text == line_text and info.speaker == speaker and self.audio_path(info.key).is_file():
                found.append(replace(info))  # a copy: the kept record stays as read
        return sorted(found, key=lambda i: i.created)

    def _records(self) -> list[TakeInfo]:
        """The readable records of the takes folder (see :func:`_folder_records`)."""
        try:
            entries = [e for e in os.scandir(self.folder)
                       if e.name.endswith(".json") and not e.name.endswith(CHECK_SUFFIX)]
        except OSError:
            return []
        with _records_lock:
            kept = _records_cache.pop(str(self.folder), {})
        fresh: dict[str, tuple[tuple[int, int, int], TakeInfo | None]] = {}
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            old = kept.get(entry.name)
            fresh[entry.name] = old if old is not None and old[0] == stamp else (stamp, self.info(entry.name[:-5]))
        with _records_lock:
            _records_cache[str(self.folder)] = fresh  # only what is on disk now: gone takes are dropped
            while len(_records_cache) > _RECORDS_FOLDERS:
                _records_cache.pop(next(iter(_records_cache)))
        return [info for _, info in fresh.values() if info is not None]


_INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "line_text": str, "speaker": str, "csm_id": int, "variant": int, "seed": int,
    "duration": (int, float), "frames": int, "created": (int, float), "codec": str, "candidate": int,
    "trim_start_s": (int, float), "watermark": str,
}


def _well_typed(info: TakeInfo) -> bool:
    fields_ok = all(isinstance(getattr(info, name), kind) and not isinstance(getattr(info, name), bool)
                    for name, kind in _INFO_TYPES.items())
    return fields_ok and _trim_ok(info) and info.candidate >= 0 and isinstance(info.context, list) \
        and all(is_take_key(k) for k in info.context) and isinstance(info.inputs, dict)


def _trim_ok(info: TakeInfo) -> bool:
    start, end = info.trim_start_s, info.trim_end_s
    if not (math.isfinite(start) and start >= 0):
        return False
    return end is None or isinstance(end, (int, float)) and not isinstance(end, bool) and math.isfinite(end) \
        and end >= start
