"""Exporting a rendered dialogue: mixdown (WAV/FLAC), per-line and per-speaker stems, SRT/WebVTT.

Everything streams to disk take by take, so memory does not grow with the dialogue's length;
every file is written atomically and carries the AI-generated-speech marker.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torchaudio.functional as AF

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.script import Pause, Utterance
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, atomic_write_text
from csm_desktop.marker import AI_MARKER

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
_SAMPLE_BYTES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}
_HEADER_BYTES = 4096  # a WAV header with its marker and title chunks, with room to spare
_BLOCK = 1 << 16  # samples of silence written at a time


class ExportError(CsmError):
    """The dialogue cannot be exported as asked."""


@dataclass
class Placement:
    line: int  # index among utterances
    speaker: str
    text: str
    key: str
    start: int  # samples
    length: int


@dataclass
class Timeline:
    sample_rate: int
    placements: list[Placement]
    total: int  # samples


@dataclass
class ExportOptions:
    format: str = "wav"  # wav or flac
    bit_depth: str = "16"  # 16, 24 or float (FLAC: 16 or 24)
    normalize_lufs: float | None = None  # e.g. -16.0
    line_stems_dir: Path | None = None
    speaker_stems_dir: Path | None = None
    subtitles: list[Path] = field(default_factory=list)  # .srt and/or .vtt


def build_timeline(project: Project, store: TakeStore) -> Timeline:
    """Where each chosen take sits in the mixdown (each take trimmed, as :meth:`TakeStore.load`
    gives it). The gap after a line is its own setting if set, else the ``[pause]`` directives
    that follow it, else the project's default gap."""
    items = project.script().items
    utterances = [i for i in items if isinstance(i, Utterance)]
    missing = [u.line for n, u in enumerate(utterances)
               if not project.line(n).chosen_take or not store.has(project.line(n).chosen_take or "")]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ExportError(f"Script lines {shown} have no take yet. Render them first, then export.")
    sr = store.sample_rate
    placements: list[Placement] = []
    cursor, n, pending_pause = 0, -1, 0
    for item in items:
        if isinstance(item, Pause):
            pending_pause += item.ms
            continue
        if not isinstance(item, Utterance):
            continue
        if n >= 0:
            gap = project.line(n).gap_after_ms
            if gap is None:
                gap = pending_pause if pending_pause else project.settings.default_gap_ms
            cursor += int(round(gap * sr / 1000))
        elif pending_pause:
            cursor += int(round(pending_pause * sr / 1000))
        pending_pause = 0
        n += 1
        key = project.line(n).chosen_take or ""
        length = store.used_length(key)  # the take as it is used: trimmed
        placements.append(Placement(n, item.speaker, item.text, key, cursor, length))
        cursor += length
    if pending_pause:
        cursor += int(round(pending_pause * sr / 1000))
    return Timeline(sr, placements, cursor)


def dialogue_gain(timeline: Timeline, store: TakeStore, target_lufs: float) -> float:
    """Gain that brings the speech to ``target_lufs`` (ITU-R BS.1770 loudness, combined over
    takes by energy), limited so that no sample clips."""
    energy, seconds, peak = 0.0, 0.0, 0.0
    for p in timeline.placements:
        audio = store.load(p.key)
        peak = max(peak, float(audio.abs().max()) if audio.numel() else 0.0)
        if audio.numel() < timeline.sample_rate // 2:
            continue
        lufs = float(AF.loudness(audio[None], timeline.sample_rate))
        if math.isfinite(lufs):
            duration = audio.numel() / timeline.sample_rate
            energy += duration * 10 ** (lufs / 10)
            seconds += duration
    if seconds == 0 or energy == 0:
        return 1.0
    current = 10 * math.log10(energy / seconds)
    gain = 10 ** ((target_lufs - current) / 20)
    return min(gain, 0.99 / peak) if peak > 0 else gain


def _write_track(path: Path, timeline: Timeline, placements: Iterable[Placement], store: TakeStore,
                 fmt: str, subtype: str, gain: float) -> Path:
    """One time-aligned track of ``timeline.total`` samples holding ``placements``. A WAV's
    size is known before it is written, so a disk without room for it is reported at once."""

    def write(fh):
        with sf.SoundFile(fh, "w", samplerate=timeline.sample_rate, channels=1, format=fmt.upper(),
                          subtype=subtype) as out:
            out.comment = AI_MARKER
            out.title = path.stem
            cursor = 0
            for p in placements:
                _silence(out, p.start - cursor)
                audio = store.load(p.key).numpy() * gain
                if subtype.startswith("PCM"):
                    audio = np.clip(audio, -1.0, 1.0)
                out.write(audio.astype(np.float32))
                cursor = p.start + p.length
            _silence(out, timeline.total - cursor)

    size = timeline.total * _SAMPLE_BYTES[subtype] + _HEADER_BYTES if fmt == "wav" else None  # FLAC: unknown
    return atomic_write(path, write, size_hint=size)


def _silence(out: sf.SoundFile, samples: int) -> None:
    block = np.zeros(_BLOCK, dtype=np.float32)
    while samples > 0:
        n = min(samples, _BLOCK)
        out.write(block[:n])
        samples -= n


def _timestamp(samples: int, sr: int, sep: str) -> str:
    ms = round(samples * 1000 / sr)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles_text(timeline: Timeline, kind: str) -> str:
    """SRT or WebVTT cues, one per line, with the speaker's name."""
    sr = timeline.sample_rate
    if kind == "vtt":
        out = ["WEBVTT", "", f"NOTE {AI_MARKER}", ""]
        for p in timeline.placements:
            out += [f"{_timestamp(p.start, sr, '.')} --> {_timestamp(p.start + p.length, sr, '.')}",
                    f"<v {p.speaker}>{p.text}", ""]
        return "\n".join(out)
    out = []
    for n, p in enumerate(timeline.placements, start=1):
        out += [str(n), f"{_timestamp(p.start, sr, ',')} --> {_timestamp(p.start + p.length, sr, ',')}",
                f"{p.speaker}: {p.text}", ""]
    return "\n".join(out)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "speaker"


def export_dialogue(project: Project, store: TakeStore, output: str | Path, options: ExportOptions | None = None,
                    on_progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the mixdown (and the stems and subtitles asked for). Returns the files written."""
    opts = options or ExportOptions()
    fmt = opts.format.lower()
    if fmt not in ("wav", "flac"):
        raise ExportError(f"Export format {opts.format!r} is not supported: choose WAV or FLAC.")
    subtype = SUBTYPES.get(str(opts.bit_depth))
    if subtype is None or (fmt == "flac" and subtype == "FLOAT"):
        raise ExportError(f"Bit depth {opts.bit_depth!r} is not available for {fmt.upper()}: choose 16 or 24"
                          + (" or float." if fmt == "wav" else "."))
    timeline = build_timeline(project, store)
    gain = dialogue_gain(timeline, store, opts.normalize_lufs) if opts.normalize_lufs is not None else 1.0
    report = on_progress or (lambda _msg: None)
    written: list[Path] = []
    output = Path(output)
    report(f"Writing {output.name}")
    written.append(_write_track(output, timeline, timeline.placements, store, fmt, subtype, gain))
    if opts.line_stems_dir is not None:
        width = len(str(len(timeline.placements)))
        for p in timeline.placements:
            name = f"{p.line + 1:0{width}d}_{_safe(p.speaker)}.{fmt}"
            report(f"Writing line stem {name}")
            written.append(_write_track(Path(opts.line_stems_dir) / name, timeline, [p], store, fmt, subtype, gain))
    if opts.speaker_stems_dir is not None:
        for speaker in dict.fromkeys(p.speaker for p in timeline.placements):
            name = f"{_safe(speaker)}.{fmt}"
            report(f"Writing speaker stem {name}")
            mine = [p for p in timeline.placements if p.speaker == speaker]
            written.append(_write_track(Path(opts.speaker_stems_dir) / name, timeline, mine, store, fmt, subtype, gain))
    for sub in opts.subtitles:
        sub = Path(sub)
        kind = sub.suffix.lower().lstrip(".")
        if kind not in ("srt", "vtt"):
            raise ExportError(f"Subtitles must be .srt or .vtt, not {sub.name}.")
        report(f"Writing {sub.name}")
        written.append(atomic_write_text(sub, subtitles_text(timeline, kind)))
    return written
