"""Watermark benchmark: how audible PerTh's watermark is, what it survives, what it costs.

    python bench/watermark.py [--clips 8] [--seconds 10]

Speech comes from espeak-ng (several voices, each clip about ``--seconds`` long, resampled to
the takes' 24 kHz). Each clip is watermarked as a take is (``dialogue.watermark.watermark``);
then the detector (PerTh's own, through ``dialogue.watermark.detect``) reads it after each
transformation. Prints a Markdown table for bench/RESULTS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csm_desktop.audio import SAMPLE_RATE, read_audio  # noqa: E402
from csm_desktop.dialogue import watermark as wm  # noqa: E402

VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029+f2", "en-us+m7", "en-gb+f4", "en-gb-x-rp"]
TEXT = ("The ferry leaves at half past seven, so pack the night before. Bring the blue map, the spare "
        "batteries, and something warm to wear on deck. If the weather turns, we will wait in the harbour "
        "cafe and read until the crossing opens again. Nobody minds a slow morning by the sea.")


def speech(voice: str, seconds: float, folder: Path) -> torch.Tensor:
    """An espeak-ng clip of about ``seconds`` (the text repeated or cut) at 24 kHz."""
    path = folder / f"{voice.replace('+', '_')}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(path), TEXT + " " + TEXT], check=True)
    audio = read_audio(path, SAMPLE_RATE)
    return audio[: int(seconds * SAMPLE_RATE)]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def snr_db(clean: np.ndarray, marked: np.ndarray, band: tuple[float, float] | None = None) -> float:
    """Signal to watermark ratio, over all frequencies or within ``band`` (Hz)."""
    noise = marked - clean
    if band is None:
        return float(10 * np.log10(np.sum(clean ** 2) / max(np.sum(noise ** 2), 1e-20)))
    freqs = np.fft.rfftfreq(clean.size, 1 / SAMPLE_RATE)
    inside = (freqs >= band[0]) & (freqs < band[1])
    power = lambda x: float(np.sum(np.abs(np.fft.rfft(x))[inside] ** 2))  # noqa: E731
    return float(10 * np.log10(power(clean) / max(power(noise), 1e-20)))


def encoded(audio: np.ndarray, fmt: str, subtype: str, **kwargs) -> tuple[np.ndarray, int, float]:
    """``audio`` through a file of ``fmt``/``subtype`` and back: the samples, the rate read back,
    and the file's bit rate in kbit/s."""
    buf = io.BytesIO()
    sf.write(buf, audio, SAMPLE_RATE, format=fmt, subtype=subtype, **kwargs)
    size = buf.tell()
    buf.seek(0)
    back, rate = sf.read(buf, dtype="float32")
    return back, rate, size * 8 / 1000 / (audio.size / SAMPLE_RATE)


def exported(audio: np.ndarray, folder: Path, lufs: float) -> np.ndarray:
    """``audio`` as a take of a one-line project, exported as the app exports (loudness
    normalisation to ``lufs``, 16-bit WAV), read back."""
    from csm_desktop.dialogue.export import ExportOptions, export_dialogue
    from csm_desktop.dialogue.project import Project
    from csm_desktop.dialogue.takes import TakeInfo, TakeStore

    project = Project.new("Alice: A line of the benchmark.")
    project.save(folder / f"p{time.monotonic_ns()}")
    store = TakeStore(project.takes_dir, SAMPLE_RATE)
    key = "ab" * 12
    store.save(TakeInfo(key, "A line of the benchmark.", "Alice", 0, 0, 0, audio.size / SAMPLE_RATE, 1),
               torch.from_numpy(audio))
    project.line(0).chosen_take = key
    out = folder / "export.wav"
    export_dialogue(project, store, out, ExportOptions(bit_depth="16", normalize_lufs=lufs))
    back, _ = sf.read(out, dtype="float32")
    return back


def transformations(folder: Path) -> list[tuple[str, object]]:
    """(name, function of marked audio -> (audio, rate, note))."""
    def same(a):
        return a, SAMPLE_RATE, None

    def wav16(a):
        back, rate, _ = encoded(a, "WAV", "PCM_16")
        return back, rate, None

    def flac(a):
        back, rate, _ = encoded(a, "FLAC", "PCM_16")
        return back, rate, None

    def mp3(level):
        def run(a):
            back, rate, kbps = encoded(a, "MP3", "MPEG_LAYER_III", compression_level=level, bitrate_mode="CONSTANT")
            return back, rate, ("kbit/s", kbps)
        return run

    def opus(level):
        def run(a):
            back, rate, kbps = encoded(a, "OGG", "OPUS", compression_level=level)
            return back, rate, ("kbit/s", kbps)
        return run

    def gain(g):
        def run(a):
            out = a * g
            clipped = float(np.mean(np.abs(out) > 1.0)) * 100
            return np.clip(out, -1.0, 1.0), SAMPLE_RATE, ("% of samples clipped", clipped)
        return run

    def trim(start_s):
        def run(a):
            i = int(start_s * SAMPLE_RATE)
            return a[i:i + 3 * SAMPLE_RATE], SAMPLE_RATE, None
        return run

    def loudness(lufs):
        def run(a):
            return exported(a, folder, lufs), SAMPLE_RATE, None
        return run

    return [
        ("as stored (float WAV)", same),
        ("export (export_dialogue): -16 LUFS, 16-bit WAV", loudness(-16.0)),
        ("export (export_dialogue): -23 LUFS, 16-bit WAV", loudness(-23.0)),
        ("16-bit WAV", wav16),
        ("FLAC (16-bit)", flac),
        ("MP3, libsndfile level 0.5", mp3(0.5)),
        ("MP3, libsndfile level 0.9", mp3(0.9)),
        ("Opus, libsndfile level 0.5", opus(0.5)),
        ("Opus, libsndfile level 0.9", opus(0.9)),
        ("gain 0.5x", gain(0.5)),
        ("gain 0.7x", gain(0.7)),
        ("gain 1.5x", gain(1.5)),
        ("gain 2x (clipped at full scale)", gain(2.0)),
        ("trimmed to 3 s (start)", trim(0.0)),
        ("trimmed to 3 s (from 4 s)", trim(4.0)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=len(VOICES), help=f"speech clips, 1 to {len(VOICES)}")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip (s)")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed (apt-get install espeak-ng).")
    voices = VOICES[: max(1, min(args.clips, len(VOICES)))]
    folder = Path(tempfile.mkdtemp(prefix="wm-bench-"))
    os.environ.setdefault("CSM_DESKTOP_DATA_DIR", str(folder / "data"))

    t = time.perf_counter()
    wm.detect(np.zeros(SAMPLE_RATE, dtype=np.float32) + 1e-3, SAMPLE_RATE)  # loads the network
    load_s = time.perf_counter() - t
    clips = [speech(v, args.seconds, folder).numpy() for v in voices]
    marked, snrs, low_snrs, high_snrs, mark_s, detect_s, clean_conf = [], [], [], [], [], [], []
    for clip in clips:
        t = time.perf_counter()
        out = wm.watermark(clip, SAMPLE_RATE)
        mark_s.append((time.perf_counter() - t) / (clip.size / SAMPLE_RATE) * 10)
        marked.append(out)
        snrs.append(snr_db(clip, out))
        low_snrs.append(snr_db(clip, out, (0, 2000)))
        high_snrs.append(snr_db(clip, out, (2000, SAMPLE_RATE / 2)))
        t = time.perf_counter()
        wm.detect(out, SAMPLE_RATE)
        detect_s.append((time.perf_counter() - t) / (clip.size / SAMPLE_RATE) * 10)
        clean_conf.append(wm.detect(clip, SAMPLE_RATE).confidence)

    n = len(clips)
    seconds = np.mean([c.size for c in clips]) / SAMPLE_RATE
    print(f"## Watermark (PerTh implicit, resemble-perth 1.0.1) — {date.today().isoformat()}\n")
    print(f"Machine: {platform.system()} {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads; torch {torch.__version__}, soundfile "
          f"{sf.__version__} (libsndfile {sf.__libsndfile_version__}). Command: `python bench/watermark.py "
          f"--clips {args.clips} --seconds {args.seconds:g}`.\n")
    print(f"Speech: {n} espeak-ng clips ({', '.join(voices)}) of {seconds:.1f} s each at 24 kHz, the same "
          "text. Detection threshold 0.5 (PerTh's).\n")
    print("| | median | min | max |\n|---|---|---|---|")
    print(f"| SNR of the watermark (dB, clean vs marked) | {np.median(snrs):.1f} | {min(snrs):.1f} | {max(snrs):.1f} |")
    for label, values in (("below 2 kHz, where PerTh writes", low_snrs), ("above 2 kHz", high_snrs)):
        print(f"| SNR {label} (dB) | {np.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    print(f"| CPU time to watermark 10 s of audio (s) | {np.median(mark_s):.3f} | {min(mark_s):.3f} | "
          f"{max(mark_s):.3f} |")
    print(f"| CPU time to detect in 10 s of audio (s) | {np.median(detect_s):.3f} | {min(detect_s):.3f} | "
          f"{max(detect_s):.3f} |")
    print(f"| confidence on the unmarked clips (false alarm above 0.5) | {np.median(clean_conf):.3f} | "
          f"{min(clean_conf):.3f} | {max(clean_conf):.3f} |")
    print(f"\nLoading the network once per process (import and weights): {load_s:.1f} s. Times are per call on "
          "a 10 s clip (the first call of each kind is the max: it warms up).\n")
    print("| after | detected | confidence median | min | note |\n|---|---|---|---|---|")
    for name, fn in transformations(folder):
        confs, figures, unit = [], [], ""
        for audio in marked:
            out, rate, figure = fn(audio)
            confs.append(wm.detect(np.asarray(out, dtype=np.float32), rate).confidence)
            if figure is not None:
                unit = figure[0]
                figures.append(figure[1])
        found = sum(c >= wm.THRESHOLD for c in confs)
        note = f"{min(figures):.2f} to {max(figures):.2f} {unit}" if figures else ""
        print(f"| {name} | {found}/{n} | {np.median(confs):.3f} | {min(confs):.3f} | {note} |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
