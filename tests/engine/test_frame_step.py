"""The per-frame step: free of host synchronisation, lagged end check, speed-up modes and fallback."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.accel import resolve_accel
from csm_desktop.engine.step import EndWatch
from csm_desktop.errors import CsmError

TEXT = "Pretty good, pretty good."
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def _context():
    audio = torch.randn(1920 * 5, generator=torch.Generator().manual_seed(0)) * 0.1
    return [Segment(0, "Earlier words.", audio=audio)]


def test_accel_modes(monkeypatch):
    monkeypatch.delenv("CSM_DESKTOP_ACCEL", raising=False)
    assert resolve_accel("auto", CUDA) == "graph"
    assert resolve_accel(None, CPU) == "off" and resolve_accel("auto", torch.device("mps")) == "off"
    assert resolve_accel("graph", CPU) == "off"  # graphs are CUDA-only: eager elsewhere
    assert resolve_accel("compile", CPU) == "compile"
    monkeypatch.setenv("CSM_DESKTOP_ACCEL", "off")
    assert resolve_accel("graph", CUDA) == "off"
    monkeypatch.setenv("CSM_DESKTOP_ACCEL", "warp")
    with pytest.raises(CsmError, match="CSM_DESKTOP_ACCEL says 'warp'.*unset it"):
        resolve_accel("auto", CUDA)
    monkeypatch.delenv("CSM_DESKTOP_ACCEL")
    with pytest.raises(CsmError, match="Unknown speed-up mode 'turbo'"):
        resolve_accel("turbo", CPU)


def test_frame_step_traces_as_one_graph_without_host_syncs(tiny_folder):
    """A CUDA graph needs the frame to be one graph: torch.compile(fullgraph=True) refuses
    anything that reads a value back to the host (``.item()``, ``bool(tensor)``, data-dependent
    Python control flow). The trace is checked without inductor to keep this test quick."""
    gen = load_csm_1b("cpu", model=tiny_folder)
    for topk, seed in ((50, 3), (1, 0)):
        expected = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, topk=topk, seed=seed)
        step = gen._step
        step._runners[topk] = torch.compile(functools.partial(step._body, topk), fullgraph=True, dynamic=False,
                                            backend="eager")
        got = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, topk=topk, seed=seed)
        assert torch.equal(got, expected)


@pytest.fixture
def ends_at_frame(tiny_generator, monkeypatch):
    """Make the model's ``n``-th frame of each generation all zeros (the end of the audio)."""
    gen, state = tiny_generator, {"calls": 0, "end": None}
    original = gen.model.decode_frame

    def decode(*args):
        state["calls"] += 1
        frame = original(*args)
        return torch.zeros_like(frame) if state["calls"] == state["end"] else frame

    monkeypatch.setattr(gen.model, "decode_frame", decode)

    def arm(n):
        state["calls"], state["end"] = 0, n
        return state

    return arm


@pytest.mark.parametrize("lag", [0, 1, 2, 3])
def test_lagged_end_check_gives_the_same_audio(tiny_generator, ends_at_frame, monkeypatch, lag):
    gen = tiny_generator
    free = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=4)
    monkeypatch.setattr(gen, "_end_lag", lag)
    assert torch.equal(gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=4), free)

    state = ends_at_frame(7)
    codes = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=4)
    assert torch.equal(codes, free[:, :6])
    assert 7 <= state["calls"] <= 7 + lag  # at most `lag` frames made past the end, then dropped
    ends_at_frame(7)
    chunks = list(gen.stream(TEXT, 1, _context(), max_audio_length_ms=1600, seed=4))
    assert len(chunks) == 6


def test_capture_failure_falls_back_to_eager(tiny_folder, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    gen = load_csm_1b("cpu", model=tiny_folder, accel="compile")
    assert gen.accel == "off" and "no compiler here" in gen._step.fallback_reason
    assert "generating without it" in caplog.text
    assert gen.generate_codes(TEXT, 0, max_audio_length_ms=400, seed=1).shape == (32, 5)


@pytest.mark.slow
def test_compiled_step_gives_the_same_codes(tiny_folder):
    """accel="compile" through inductor (a C++ compiler on CPU; about a minute on two cores)."""
    eager = load_csm_1b("cpu", model=tiny_folder, accel="off")
    compiled = load_csm_1b("cpu", model=tiny_folder, accel="compile", warm_up=False)
    assert compiled.accel == "compile"
    for topk, seed in ((50, 3), (50, 4)):
        a = eager.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, topk=topk, seed=seed)
        b = compiled.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, topk=topk, seed=seed)
        assert torch.equal(a, b)
    assert compiled.accel == "compile" and compiled._step.fallback_reason is None


def test_prompt_prefix_is_reused_and_gives_the_same_codes(tiny_folder, engine_policy):
    """Lines share their opening context (the voice clips), and a regenerated line shares all of
    it: those positions are not computed again, and the codes do not depend on whether they were."""
    audio = torch.randn(1920 * 150, generator=torch.Generator().manual_seed(1)) * 0.1  # 151 positions
    gen = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)
    ctx = [Segment(0, "A voice clip that opens every line's context.", codes=gen.encode_audio(audio))]
    n_prompt = gen.prompt_length(TEXT, 1, ctx)

    first = gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=800, seed=6)
    assert gen._step.prefilled == (0, n_prompt - 1)
    gen.generate_codes("Another line entirely.", 0, ctx + [Segment(1, TEXT, codes=first)],
                       max_audio_length_ms=800, seed=2)
    # The new prompt opens with the whole of the last one (its context grew by appending): all of
    # the last prompt's full blocks were kept.
    assert gen._step.prefilled[0] == (n_prompt - 1) // 64 * 64 >= 128
    again = gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=800, seed=6)
    assert gen._step.prefilled[0] == (n_prompt - 1) // 64 * 64  # only the last, partial block
    assert torch.equal(again, first)

    fresh = load_csm_1b("cpu", model=tiny_folder, policy=engine_policy)  # nothing cached: every block computed
    assert torch.equal(fresh.generate_codes(TEXT, 1, ctx, max_audio_length_ms=800, seed=6), first)
    other = [Segment(1, "Another clip first.", codes=ctx[0].codes)]
    fresh.generate_codes(TEXT, 1, other, max_audio_length_ms=800, seed=6)
    assert fresh._step.prefilled[0] == 0  # differs from the first position on


class _FakeMpsEvent:
    def record(self) -> None:
        pass

    def synchronize(self) -> None:
        pass


class _CopyTargets(TorchDispatchMode):
    """Records the byte offset, within its storage, of every copy_ destination."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.copy_.default:
            dst = args[0]
            self.offsets.append(dst.storage_offset() * dst.element_size())
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("rows", [1, 3])
def test_mps_end_flags_are_copied_to_aligned_host_memory(monkeypatch, rows):
    """PyTorch's MPS-to-CPU blit asserts a 4-byte-aligned destination ("Unaligned blit request"):
    a frame's flags must not land at byte p * rows of one shared bool buffer."""
    monkeypatch.setattr(torch.mps, "Event", _FakeMpsEvent)
    ended = torch.zeros(16, rows, dtype=torch.bool)
    ended[5, rows - 1] = True
    step = SimpleNamespace(device=torch.device("mps"), ended=ended)  # a CPU tensor stands in for the MPS one
    watch = EndWatch(step, lag=2)
    with _CopyTargets() as copies:
        for p in range(8):
            watch.push(p)
    assert len(copies.offsets) == 8
    assert all(offset % 4 == 0 for offset in copies.offsets), copies.offsets
    seen = {}
    while len(watch):
        p, flags = watch.pop()
        seen[p] = flags.tolist()
    assert seen[5][rows - 1] is True and not any(seen[4])
