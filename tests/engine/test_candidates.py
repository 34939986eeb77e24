"""Best of N as one batch: ``Generator.generate_candidates`` (prefill once, then every frame step
runs all candidates together)."""

from __future__ import annotations

import pytest
import torch

from csm_desktop.engine import Candidate, Segment, load_csm_1b
from csm_desktop.errors import CsmError, GenerationCancelled

TEXT = "Pretty good, pretty good."


def _context(frames: int = 5):
    audio = torch.randn(1920 * frames, generator=torch.Generator().manual_seed(0)) * 0.1
    return [Segment(0, "Earlier words.", audio=audio)]


@pytest.fixture(scope="module")
def gen(tiny_folder):
    return load_csm_1b("cpu", model=tiny_folder)


def test_each_candidate_is_the_take_its_seed_samples_alone(tiny_folder, engine_policy):
    """Candidate i samples with seed + i: on the CPU (float32) the batch gives, bit for bit, the
    takes that generate_codes gives for those seeds one at a time (under the Mac's policy too)."""
    gen = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)
    cands = gen.generate_candidates(TEXT, 1, _context(), num_candidates=4, max_audio_length_ms=1600, seed=10)
    assert [c.seed for c in cands] == [10, 11, 12, 13]
    assert all(isinstance(c, Candidate) and c.codes.shape == (32, 20) and c.codes.dtype == torch.long for c in cands)
    assert len({tuple(c.codes.flatten().tolist()) for c in cands}) == 4  # different draws
    for c in cands:
        alone = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=c.seed)
        assert torch.equal(alone, c.codes), f"seed {c.seed}"


def test_greedy_candidates_are_all_the_greedy_take(gen):
    cands = gen.generate_candidates(TEXT, 1, _context(), num_candidates=3, max_audio_length_ms=800, topk=1)
    greedy = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, topk=1)
    assert all(torch.equal(c.codes, greedy) for c in cands)


def test_a_batch_leaves_single_takes_and_prompt_reuse_as_they_were(tiny_folder, engine_policy):
    """The batch has caches of its own: the batch-1 caches keep the prompt, and a line rendered
    after a batch equals the same line from a fresh engine."""
    ctx = _context(frames=80)  # a prompt of more than one 64-position prefill block
    gen = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)
    fresh = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)
    want = fresh.generate_codes(TEXT, 1, ctx, max_audio_length_ms=1200, seed=7)
    gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=400, seed=3)
    gen.generate_candidates(TEXT, 1, ctx, num_candidates=2, max_audio_length_ms=1200, seed=99)
    assert gen._step.prefilled[0] >= 64  # the batch prefilled through the batch-1 step, reusing its prompt
    assert torch.equal(gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=1200, seed=7), want)
    assert gen._step.prefilled[0] >= 64  # and the single take after it reused the prompt too


def test_each_candidate_ends_at_its_own_end_frame(gen, monkeypatch):
    """Row 1 says 'end of audio' (an all-zero frame) at its 6th frame, row 2 at its first: row 1
    is cut there; row 2, which ended at once, is generated alone (as its seed alone would be,
    where the patch below does not end it); the others run to the frame budget."""
    model = gen.model
    real = model.decode_frame
    calls = {"n": 0}

    def decode_frame(h, sample, vocab):
        codes = real(h, sample, vocab).clone()
        if codes.shape[0] > 1:  # the batch only
            calls["n"] += 1
            if calls["n"] >= 6:
                codes[1] = 0
            codes[2] = 0
        return codes

    monkeypatch.setattr(model, "decode_frame", decode_frame)
    cands = gen.generate_candidates(TEXT, 1, _context(), num_candidates=4, max_audio_length_ms=1600, seed=1)
    assert [c.codes.shape[1] for c in cands] == [20, 5, 20, 20]
    assert not (cands[0].codes == 0).all(dim=0).any()
    alone = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=cands[2].seed)
    assert torch.equal(cands[2].codes, alone)


def test_batch_sizes_share_one_cache_set_and_a_failed_allocation_changes_nothing(gen, tiny_folder, monkeypatch):
    """Batches of any size use the rows of one shared cache set (as big as the largest batch),
    and running out of memory while growing it leaves the engine as it was."""
    model = gen.model
    gen.generate_candidates(TEXT, 1, _context(), num_candidates=2, max_audio_length_ms=400, seed=1)
    gen.generate_candidates(TEXT, 1, _context(), num_candidates=3, max_audio_length_ms=400, seed=1)
    rows_before = model.batch_rows
    assert rows_before >= 3
    ptr = model._cache_sets[rows_before][0][0].untyped_storage().data_ptr()
    assert model._cache_sets[2][0][0].untyped_storage().data_ptr() == ptr  # views of one set

    real_zeros, made = torch.zeros, {"n": 0}

    def zeros(*args, **kwargs):
        if len(args) == 4 and args[0] == 8:  # the third KV cache of an 8-row set
            made["n"] += 1
            if made["n"] == 3:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_zeros(*args, **kwargs)

    monkeypatch.setattr(torch, "zeros", zeros)
    from csm_desktop.errors import DeviceError

    with pytest.raises(DeviceError, match="ran out of memory"):
        gen.generate_candidates(TEXT, 1, _context(), num_candidates=8, max_audio_length_ms=400, seed=1)
    monkeypatch.setattr(torch, "zeros", real_zeros)
    assert made["n"] == 3 and model.batch_rows == rows_before
    fresh = load_csm_1b("cpu", model=tiny_folder)
    want = fresh.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=4)
    assert torch.equal(gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=4), want)
    (c,) = [x for x in gen.generate_candidates(TEXT, 1, _context(), num_candidates=8, max_audio_length_ms=800,
                                               seed=4) if x.seed == 4]
    assert torch.equal(c.codes, want) and model.batch_rows == 8


def test_all_ended_at_once_retries_then_says_so(gen, monkeypatch):
    from csm_desktop.errors import EmptyAudioError

    model = gen.model
    real = model.decode_frame
    monkeypatch.setattr(model, "decode_frame", lambda h, sample, vocab: torch.zeros_like(real(h, sample, vocab)))
    with pytest.raises(EmptyAudioError, match="twice"):
        gen.generate_candidates(TEXT, 1, _context(), num_candidates=2, max_audio_length_ms=800, seed=1)


def test_stop_cancels_the_batch_and_the_engine_stays_usable(gen):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 4

    with pytest.raises(GenerationCancelled):
        gen.generate_candidates(TEXT, 1, _context(), num_candidates=2, max_audio_length_ms=4000, should_stop=stop)
    assert len(gen.generate_candidates(TEXT, 1, _context(), num_candidates=2, max_audio_length_ms=400)) == 2


@pytest.mark.parametrize("n", [0, 9, -1])
def test_candidate_count_out_of_range_is_refused(gen, n):
    with pytest.raises(CsmError, match="1 to 8"):
        gen.generate_candidates(TEXT, 1, _context(), num_candidates=n)


def test_one_candidate_is_a_plain_take(gen):
    (only,) = gen.generate_candidates(TEXT, 1, _context(), num_candidates=1, max_audio_length_ms=800, seed=5)
    assert torch.equal(only.codes, gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=5))


def test_a_second_stream_while_one_runs_is_refused_plainly(gen):
    """Two streams at once on one engine: the second is refused with the engine's message (not
    an assertion from inside Mimi's streaming state), and the first goes on unharmed."""
    first = gen.stream(TEXT, 1, _context(), max_audio_length_ms=800, seed=2)
    chunks = [next(first)]
    with pytest.raises(CsmError, match="already generating"):
        next(gen.stream(TEXT, 1, _context(), max_audio_length_ms=800, seed=3))
    chunks += list(first)
    assert len(chunks) == 10
