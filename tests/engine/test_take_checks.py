"""Take checks with the real detector (silero-vad) and voice encoder (Resemblyzer) on real speech
(espeak-ng), one test a fault kind."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from csm_desktop.dialogue import testing as T
from csm_desktop.dialogue.checks import LONG_SILENCE_S, check_take
from csm_desktop.dialogue.vad import LEAD_PAD_S, NATURAL_TAIL_S, detect_speech, trim
from csm_desktop.dialogue.voice import VoiceProfile

R = T.RATE


def test_a_clean_take_has_no_problems(speech):
    check = check_take(torch.from_numpy(speech["line"]), R, speech["text"])
    start, end = T.speech_bounds(speech["line"])
    assert check.problems == [] and check.score == 1.0
    assert abs(check.speech_start_s - start) < 0.15 and -0.05 < check.speech_end_s - end < 0.25
    assert check.trailing_nonspeech_s < 0.5 and check.longest_silence_s < LONG_SILENCE_S
    assert check.duration_s == pytest.approx(len(speech["line"]) / R)


@pytest.mark.parametrize("tail", ["noise", "murmur"])
def test_a_tail_after_the_line_is_a_runaway_tail(speech, tail):
    extra = T.noise(4.0, -35.0) if tail == "noise" else T.murmur(4.0, -30.0)
    check = check_take(torch.from_numpy(T.with_tail(speech["line"], extra)), R, speech["text"])
    assert "runaway_tail" in check.problems and check.score <= 0.6


def test_a_runaway_tail_is_trimmed_but_the_take_is_kept_whole(speech):
    take = torch.from_numpy(T.with_tail(np.concatenate([np.zeros(R, np.float32), speech["line"]]), T.noise(3.0)))
    before = take.clone()
    trimmed, points = trim(take, R)
    activity = detect_speech(take, R)
    assert torch.equal(take, before)  # the caller's audio is not touched
    assert points.start_s == pytest.approx(activity.speech_start_s - LEAD_PAD_S)
    assert points.end_s == pytest.approx(activity.speech_end_s + NATURAL_TAIL_S)
    assert 0.8 < points.start_s < 1.1 and points.end_s < 1.0 + len(speech["line"]) / R
    assert trimmed.numel() == pytest.approx((points.end_s - points.start_s) * R, abs=2)
    assert float(trimmed[-1]) == 0.0  # faded out, no click


def test_a_silence_inside_is_a_long_silence(speech):
    check = check_take(torch.from_numpy(T.with_inner_silence(speech["line"], 3.0)), R, speech["text"])
    assert check.problems == ["long_silence"]
    assert check.longest_silence_s == pytest.approx(3.0, abs=0.3)


def test_a_take_cut_before_its_end_is_a_clipped_end(speech):
    check = check_take(torch.from_numpy(T.with_end_cut(speech["line"], 0.3)), R, speech["text"])
    assert "clipped_end" in check.problems
    assert check.trailing_nonspeech_s < 0.05


@pytest.mark.parametrize("audio", [np.zeros(3 * R, np.float32), T.noise(3.0, -50.0), np.zeros(10, np.float32)])
def test_a_take_without_speech_is_empty(audio):
    check = check_take(torch.from_numpy(audio), R, "Hello there.")
    assert check.problems == ["empty"] and check.score == 0.0
    assert check.speech_start_s is None and check.trim_end_s == 0.0


def test_any_rate_and_stereo_give_the_same_verdict(speech):
    import torchaudio.functional as AF

    line = torch.from_numpy(speech["line"])
    base = check_take(line, R, speech["text"])
    stereo = check_take(torch.stack([line, line]), R, speech["text"])
    at_44k = check_take(AF.resample(line, R, 44_100), 44_100, speech["text"])
    assert stereo.problems == at_44k.problems == base.problems == []
    assert at_44k.speech_end_s == pytest.approx(base.speech_end_s, abs=0.05)


def test_another_voice_scores_lower_than_the_speakers_own(speech):
    profile = VoiceProfile.from_clips([(c, R) for c in speech["clips"]])
    own = check_take(torch.from_numpy(speech["line"]), R, speech["text"], voice_refs=profile)
    other = check_take(torch.from_numpy(speech["other"]), R, speech["text"], voice_refs=profile)
    assert own.voice_similarity > other.voice_similarity
    assert own.score > other.score
    assert "voice_mismatch" not in own.problems and "voice_mismatch" in other.problems
    clips = check_take(torch.from_numpy(speech["line"]), R, speech["text"], voice_refs=[(c, R) for c in speech["clips"]])
    assert clips.voice_similarity == pytest.approx(own.voice_similarity, abs=1e-5)


def test_checks_run_from_several_threads_at_once(speech):
    """Checks run on a side pool beside rendering: the shared models must not mix passes."""
    takes = [speech["line"], T.with_inner_silence(speech["line"], 3.0)]
    alone = [check_take(torch.from_numpy(t), R, speech["text"]) for t in takes]
    results: dict[int, object] = {}

    def run(i):
        results[i] = check_take(torch.from_numpy(takes[i % 2]), R, speech["text"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(4)] == alone * 2
