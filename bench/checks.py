"""Take checks benchmark: the length-cap rule, VAD accuracy, fault detection, voice threshold, time.

    python bench/checks.py [--quick]

Everything runs on espeak-ng speech (several voices and rates) with faults built by
csm_desktop.dialogue.testing: a noise tail of 2-8 s (-45, -35 or -25 dBFS in turn), a murmur tail
of 2-8 s (-35, -30 or -25 dBFS; espeak-ng speech at about -20), a 3 s silence inside, the last
30 % cut, another espeak voice. Prints markdown tables for bench/RESULTS.md. The recognizer timed
is the tiny random Whisper the tests build (no real Whisper model can be downloaded here); the
words checks' detection is therefore not measured, only their cost.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csm_desktop.dialogue import checks, pacing, testing as T, vad  # noqa: E402
from csm_desktop.dialogue.voice import VoiceProfile  # noqa: E402

VOICES = [("en-us", 50), ("en-gb", 50), ("en-us+f3", 60), ("en+m3", 40), ("en-gb-scotland", 50)]
RATES = (90, 120, 150, 175, 210)
R = T.RATE


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def ms(values) -> str:
    """median / p95 of ``values``, or a dash when there are none (a silence inside has no one end)."""
    return f"{pct(values, 50):.0f} / {pct(values, 95):.0f}" if len(values) else "-"


def cap_rule(voices, rates, sentences) -> None:
    print("\n### Length cap from the text\n")
    print("| words/min | chars/s median | chars/s min | chars/s max | cap / duration, min | spans over the runaway limit |")
    print("|---|---|---|---|---|---|")
    for wpm in rates:
        cps, headroom, over = [], [], 0
        for (voice, pitch), text in itertools.product(voices, sentences):
            audio = T.espeak(text, voice=voice, wpm=wpm, pitch=pitch)
            start, end = T.speech_bounds(audio)
            cps.append(pacing.spoken_chars(text) / (end - start))
            headroom.append(pacing.text_cap_ms(text) / 1000 / (len(audio) / R))
            over += (end - start) > pacing.runaway_span_s(text)
        print(f"| {wpm} | {statistics.median(cps):.1f} | {min(cps):.1f} | {max(cps):.1f} | {min(headroom):.2f} | "
              f"{over} of {len(cps)} |")


def faults(voices, rates, sentences) -> tuple[list, list]:
    """(kind, audio, text, truth_end_s) for clean takes and every fault kind."""
    cases = []
    for n, ((voice, pitch), wpm, text) in enumerate(itertools.product(voices, rates, sentences)):
        clean = T.espeak(text, voice=voice, wpm=wpm, pitch=pitch)
        _, end = T.speech_bounds(clean)
        cases.append(("clean", clean, text, end, voice))
        for seconds in (2, 4, 8):
            noise_db, murmur_db = (-45, -35, -25)[n % 3], (-35, -30, -25)[n % 3]
            cases.append((f"noise tail {seconds} s", T.with_tail(clean, T.noise(seconds, noise_db, seed=n)), text, end,
                          voice))
            cases.append((f"murmur tail {seconds} s, {murmur_db} dBFS", T.with_tail(clean, T.murmur(seconds, murmur_db, seed=n)),
                          text, end, voice))
        if len(text.split()) >= 4:  # a one-word line has nowhere to put a silence inside
            cases.append(("3 s silence inside", T.with_inner_silence(clean, 3.0), text, None, voice))
        cut = T.with_end_cut(clean, 0.3)
        cases.append(("last 30 % cut", cut, text, len(cut) / R, voice))
    return cases


EXPECTED = {"noise tail": "runaway_tail", "murmur tail": "runaway_tail", "3 s silence inside": "long_silence",
            "last 30 % cut": "clipped_end"}


def detection(cases) -> None:
    print("\n### Fault detection (VAD and text length only; no recognizer)\n")
    print("| fault | takes | detected | end-of-speech error, median / p95 (ms) |")
    print("|---|---|---|---|")
    by_kind: dict[str, list] = {}
    false_alarms: dict[str, int] = {p: 0 for p in checks.PROBLEMS}
    clean_n = 0
    for kind, audio, text, truth_end, _voice in cases:
        result = checks.check_take(torch.from_numpy(audio), R, text)
        if kind == "clean":
            clean_n += 1
            for p in result.problems:
                false_alarms[p] += 1
        want = next((v for k, v in EXPECTED.items() if kind.startswith(k)), None)
        err = None if truth_end is None or result.speech_end_s is None else (result.speech_end_s - truth_end) * 1000
        by_kind.setdefault(kind, []).append((want in result.problems if want else not result.problems, err))
    for kind, rows in by_kind.items():
        errs = [abs(e) for _, e in rows if e is not None]
        hit = sum(ok for ok, _ in rows)
        label = "no problem (clean)" if kind == "clean" else "detected"
        print(f"| {kind} | {len(rows)} | {hit} ({100 * hit / len(rows):.0f} %) {'' if kind != 'clean' else label} | "
              f"{ms(errs)} |")
    print(f"\nFalse alarms on the {clean_n} clean takes, per problem: "
          + ", ".join(f"{p} {n}" for p, n in false_alarms.items()) + ".")


def voice_threshold(voices, sentences) -> None:
    print("\n### Voice similarity (Resemblyzer), espeak-ng voices\n")
    profiles = {v: VoiceProfile.from_clips([(T.espeak(s, voice=v, pitch=p), R) for s in sentences[:3]])
                for v, p in voices}
    same, diff = [], []
    for (v, p), text in itertools.product(voices, sentences[3:]):
        audio = T.espeak(text, voice=v, pitch=p, wpm=150)
        for other, profile in profiles.items():
            sim = profile.similarity(audio, R)
            if sim is not None:
                (same if other == v else diff).append(sim)
    print("| pairs | n | min | p5 | median | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    for name, xs in (("same voice", same), ("different voice", diff)):
        print(f"| {name} | {len(xs)} | {min(xs):.3f} | {pct(xs, 5):.3f} | {pct(xs, 50):.3f} | {pct(xs, 95):.3f} | "
              f"{max(xs):.3f} |")
    for thr in (0.70, 0.75, 0.80, 0.85, 0.90):
        print(f"- threshold {thr:.2f}: same voice flagged {sum(x < thr for x in same)}/{len(same)}, different voice "
              f"passed {sum(x >= thr for x in diff)}/{len(diff)}")


def timing(repeats: int) -> None:
    from csm_desktop.services.recognizers import WhisperRecognizer

    print("\n### Time per check of a 10 s take, CPU\n")
    text = " ".join(T.SENTENCES[4:9])
    audio = T.espeak(text)
    audio = np.concatenate([audio, np.zeros(max(0, 10 * R - len(audio)), np.float32)])[: 10 * R]
    take = torch.from_numpy(audio)
    profile = VoiceProfile.from_clips([(T.espeak(s), R) for s in T.SENTENCES[:3]])
    with tempfile.TemporaryDirectory() as tmp:
        recognizer = WhisperRecognizer(T.make_tiny_whisper(Path(tmp) / "tiny-whisper"))
        parts = {
            "VAD (silero-vad) + verdict": lambda: checks.check_take(take, R, text),
            "recognizer: tiny random Whisper (faster-whisper, int8)": lambda: recognizer.transcribe(take, R),
            "voice (Resemblyzer)": lambda: profile.similarity(take, R),
            "all three (check_take)": lambda: checks.check_take(take, R, text, recognizer=recognizer,
                                                                 voice_refs=profile),
        }
        print("| part | median (ms) | first call (ms) |")
        print("|---|---|---|")
        for name, run in parts.items():
            times = []
            for _ in range(repeats + 1):
                t0 = time.perf_counter()
                run()
                times.append((time.perf_counter() - t0) * 1000)
            print(f"| {name} | {statistics.median(times[1:]):.0f} | {times[0]:.0f} |")


def vad_accuracy(voices, rates, sentences) -> None:
    print("\n### Voice activity on clean speech (VAD boundary minus energy boundary, ms)\n")
    starts, ends = [], []
    for (voice, pitch), wpm, text in itertools.product(voices, rates, sentences):
        audio = T.espeak(text, voice=voice, wpm=wpm, pitch=pitch)
        s, e = T.speech_bounds(audio)
        act = vad.detect_speech(torch.from_numpy(audio), R)
        starts.append((act.speech_start_s - s) * 1000)
        ends.append((act.speech_end_s - e) * 1000)
    print("| boundary | n | min | p5 | median | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    for name, xs in (("speech start", starts), ("speech end", ends)):
        print(f"| {name} | {len(xs)} | {min(xs):.0f} | {pct(xs, 5):.0f} | {pct(xs, 50):.0f} | {pct(xs, 95):.0f} | "
              f"{max(xs):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few cases of each, to see the script works")
    args = parser.parse_args()
    voices, rates, sentences = (VOICES[:2], RATES[2:4], T.SENTENCES[:4]) if args.quick else \
        (VOICES, RATES, T.SENTENCES)
    print(f"## Take checks — {date.today()}\n")
    print(f"Machine: {platform.system()} {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}. Command: `python bench/checks.py{' --quick' if args.quick else ''}`. "
          f"{len(voices)} espeak-ng voices x {len(rates)} rates x {len(sentences)} sentences.")
    cap_rule(voices, rates, sentences)
    vad_accuracy(voices, rates, sentences)
    detection(faults(voices, rates[1:-1] if not args.quick else rates, sentences))
    voice_threshold(voices, T.SENTENCES if not args.quick else T.SENTENCES[:5])
    timing(1 if args.quick else 5)


if __name__ == "__main__":
    main()
