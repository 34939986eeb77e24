"""Generator behaviour on a tiny real-architecture model."""

from __future__ import annotations

import pytest
import torch

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.errors import CsmError, EmptyAudioError, GenerationCancelled, PromptTooLongError

TEXT = "Hello there, how are you?"


def test_generate_returns_24khz_audio_frame_aligned(tiny_generator):
    gen = tiny_generator
    audio = gen.generate(TEXT, 0, max_audio_length_ms=800, seed=1)
    assert gen.sample_rate == 24_000
    assert audio.ndim == 1 and audio.dtype == torch.float32
    assert audio.numel() == 10 * 1920  # 10 frames of 80 ms
    assert torch.isfinite(audio).all()


def test_codes_never_contain_undecodable_ids(tiny_generator):
    codes = tiny_generator.generate_codes(TEXT, 0, max_audio_length_ms=2000, topk=2051, temperature=5.0, seed=0)
    assert codes.shape == (32, 25)
    assert int(codes.max()) < 2048 and int(codes.min()) >= 0


def test_same_seed_same_codes_other_seed_other_codes(tiny_generator):
    a = tiny_generator.generate_codes(TEXT, 1, max_audio_length_ms=800, seed=7)
    b = tiny_generator.generate_codes(TEXT, 1, max_audio_length_ms=800, seed=7)
    c = tiny_generator.generate_codes(TEXT, 1, max_audio_length_ms=800, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_stream_joined_equals_generate(tiny_folder, engine_policy):
    gen = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)
    ctx = [Segment(0, "Earlier words.", audio=torch.randn(1920 * 5, generator=torch.Generator().manual_seed(0)) * 0.1)]
    chunks = list(gen.stream(TEXT, 1, ctx, max_audio_length_ms=1200, seed=3))
    batch = gen.generate(TEXT, 1, ctx, max_audio_length_ms=1200, seed=3)
    assert len(chunks) == 15 and all(c.numel() == 1920 for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), batch, atol=1e-5, rtol=1e-4)


@pytest.fixture
def frame_count(tiny_generator, monkeypatch):
    """Counts the frames the model generates."""
    calls = {"frames": 0}
    original = tiny_generator.model.decode_frame

    def counting(*args, **kwargs):
        calls["frames"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(tiny_generator.model, "decode_frame", counting)
    return calls


def test_stream_stops_within_one_frame_on_should_stop(tiny_generator, frame_count):
    gen, calls = tiny_generator, frame_count
    stop = {"now": False}
    received = 0
    for _ in gen.stream(TEXT, 0, max_audio_length_ms=4000, seed=1, should_stop=lambda: stop["now"]):
        received += 1
        if received == 3:
            stop["now"] = True
    assert received == 3
    assert calls["frames"] == 3  # nothing generated after the stop was asked for


def test_stream_stops_when_consumer_stops_iterating(tiny_generator, frame_count):
    gen, calls = tiny_generator, frame_count
    it = gen.stream(TEXT, 0, max_audio_length_ms=4000, seed=1)
    next(it), next(it)
    it.close()
    assert calls["frames"] == 2
    # the engine is free again
    assert gen.generate_codes(TEXT, 0, max_audio_length_ms=160, seed=1).shape == (32, 2)


def test_generate_codes_cancel_raises(tiny_generator):
    seen = {"n": 0}

    def should_stop():
        seen["n"] += 1
        return seen["n"] > 2

    with pytest.raises(GenerationCancelled):
        tiny_generator.generate_codes(TEXT, 0, max_audio_length_ms=4000, should_stop=should_stop)


def test_prompt_over_budget_says_by_how_much(tiny_generator):
    gen = tiny_generator
    codes = torch.randint(0, 2048, (32, 1990))
    ctx = [Segment(0, "A long clip.", codes=codes)]
    n_prompt = gen.prompt_length(TEXT, 1, ctx)
    frames = gen.max_frames(10_000)
    with pytest.raises(PromptTooLongError) as info:
        gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=10_000)
    assert info.value.excess == n_prompt + frames - 2048
    assert str(info.value.excess) in str(info.value)
    # exactly at the budget is fine
    fitting = [Segment(0, "A long clip.", codes=codes[:, : codes.shape[1] - info.value.excess])]
    assert gen.prompt_length(TEXT, 1, fitting) + frames == 2048


def _eos_first(gen, monkeypatch, empty_attempts):
    """Make the first ``empty_attempts`` first frames all-zero; record sampling settings."""
    original = gen.model.decode_frame
    state = {"first_frames": 0, "settings": []}

    def fake(last_h, sample, valid):
        frame = original(last_h, sample, valid)
        if len(state["settings"]) < 3 and state["first_frames"] < empty_attempts + 1:
            state["first_frames"] += 1
            step = gen._step
            state["settings"].append((pytest.approx(float(step.temperature)), step.topk))
            if state["first_frames"] <= empty_attempts:
                return torch.zeros_like(frame)
        return frame

    monkeypatch.setattr(gen.model, "decode_frame", fake)
    return state


def test_empty_first_frame_retries_with_lower_temperature(tiny_generator, monkeypatch):
    state = _eos_first(tiny_generator, monkeypatch, empty_attempts=1)
    codes = tiny_generator.generate_codes(TEXT, 0, max_audio_length_ms=400, temperature=1.2, topk=80, seed=2)
    assert codes.shape[1] == 5
    assert state["settings"][0] == (1.2, 80)
    assert state["settings"][1] == (0.7, 20)


def test_empty_output_twice_is_a_clear_error(tiny_generator, monkeypatch):
    _eos_first(tiny_generator, monkeypatch, empty_attempts=2)
    with pytest.raises(EmptyAudioError, match="Rephrase"):
        tiny_generator.generate(TEXT, 0, max_audio_length_ms=400, seed=2)


def test_bad_context_is_a_csm_error(tiny_generator):
    with pytest.raises(CsmError):
        tiny_generator.generate(TEXT, 0, [Segment(0, "no audio")], max_audio_length_ms=160)
    with pytest.raises(CsmError):
        tiny_generator.generate(TEXT, 0, [Segment(0, "stereo", audio=torch.zeros(2, 100))], max_audio_length_ms=160)
