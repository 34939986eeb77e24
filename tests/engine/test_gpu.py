"""CUDA only: the graphed frame step against the same step run eagerly, on the tiny model."""

from __future__ import annotations

import functools

import pytest
import torch

from csm_desktop.engine import Segment, load_csm_1b

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

TEXT = "Pretty good, pretty good."
SETTINGS = ((50, 3), (1, 0), (20, 9))  # (top-k, seed)


def _context():
    audio = torch.randn(1920 * 5, generator=torch.Generator().manual_seed(0)) * 0.1
    return [Segment(0, "Earlier words.", audio=audio)]


@pytest.fixture(scope="module")
def engines(tiny_folder):
    graphed = load_csm_1b("cuda", model=tiny_folder)
    reference = load_csm_1b("cuda", model=tiny_folder, accel="off")
    step = reference._step
    for topk, _ in SETTINGS:  # the very frame the graph captured (whole cache, masked), run eagerly
        step._runners[topk] = functools.partial(step._body, topk)
    return graphed, reference


def test_auto_means_a_cuda_graph_with_lagged_end_check(engines):
    graphed, _ = engines
    assert graphed.accel == "graph" and graphed._step.fallback_reason is None
    assert graphed._end_lag == 1


def test_graph_replays_the_eager_frame_exactly(engines):
    graphed, reference = engines
    for topk, seed in SETTINGS:
        a = graphed.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2000, topk=topk, seed=seed)
        b = reference.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2000, topk=topk, seed=seed)
        assert torch.equal(a, b), f"top-k {topk}, seed {seed}"


def test_capturing_another_graph_mid_session_changes_nothing(engines):
    graphed, _ = engines
    before = graphed.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5)
    graphed._step.warm_up((7,))
    assert torch.equal(graphed.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5), before)


def test_stream_equals_generate_on_cuda(engines):
    graphed, _ = engines
    chunks = list(graphed.stream(TEXT, 1, _context(), max_audio_length_ms=1200, seed=3))
    batch = graphed.generate(TEXT, 1, _context(), max_audio_length_ms=1200, seed=3)
    assert all(c.numel() == 1920 for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), batch, atol=1e-4, rtol=1e-3)


def test_candidates_on_cuda_are_reproducible_and_end_like_single_takes(engines):
    """Best of N on the GPU: the batch step is captured as a graph of its own; the same seed gives
    the same candidates twice, and each candidate is a valid take (codes within the codebooks).
    Rounding differs between batch sizes in bf16, so candidates are not compared with single takes."""
    graphed, _ = engines
    a = graphed.generate_candidates(TEXT, 1, _context(), num_candidates=4, max_audio_length_ms=1200, seed=21)
    b = graphed.generate_candidates(TEXT, 1, _context(), num_candidates=4, max_audio_length_ms=1200, seed=21)
    assert graphed._batch_steps[4].accel == "graph" and graphed._batch_steps[4].fallback_reason is None
    assert [c.seed for c in a] == [21, 22, 23, 24]
    for x, y in zip(a, b):
        assert torch.equal(x.codes, y.codes)
        assert x.codes.shape[0] == 32 and int(x.codes.max()) < 2048 and int(x.codes.min()) >= 0
    single = graphed.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=21)
    again = graphed.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=21)
    assert torch.equal(single, again)  # the batch left the single-take graph and caches as they were
