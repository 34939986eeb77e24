"""The per-device policy, and the Mac (MPS) path checked on the CPU: its choices are forced with
``policy=`` (float32: the same codes as the CPU's policy; float16: every value finite)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine import generator as generator_module
from csm_desktop.engine import step as step_module
from csm_desktop.engine.accel import resolve_accel
from csm_desktop.engine.model import Transformer
from csm_desktop.engine.policy import policy_for
from csm_desktop.engine.testing import make_tiny_checkpoint
from csm_desktop.errors import CsmError, DeviceError

TEXT = "Pretty good, pretty good."
MPS = torch.device("mps")  # a device object needs no Mac
MPS_POLICY = policy_for(MPS)
MPS_AT_FP32 = dataclasses.replace(MPS_POLICY, dtype=torch.float32)


def _context(frames: int = 80):
    audio = torch.randn(1920 * frames, generator=torch.Generator().manual_seed(0)) * 0.1
    return [Segment(0, "Earlier words.", audio=audio)]


def test_each_device_gets_its_policy(monkeypatch):
    monkeypatch.delenv("CSM_DESKTOP_ACCEL", raising=False)
    cuda = policy_for(torch.device("cuda"))
    assert (cuda.dtype, cuda.accel, cuda.end_lag, cuda.cache_writes, cuda.attend_round, cuda.gqa_fold,
            cuda.bool_mask) == (torch.bfloat16, "graph", 1, "index_copy", 0, False, False)
    assert (MPS_POLICY.dtype, MPS_POLICY.accel, MPS_POLICY.end_lag, MPS_POLICY.cache_writes) == (
        torch.float16, "off", 2, "slice")
    assert MPS_POLICY.attend_round == 256 and MPS_POLICY.gqa_fold and MPS_POLICY.bool_mask and MPS_POLICY.warm_up
    cpu = policy_for(torch.device("cpu"))
    assert (cpu.dtype, cpu.accel, cpu.end_lag, cpu.cache_writes, cpu.attend_round) == (torch.float32, "off", 0,
                                                                                       "index_copy", 0)
    assert MPS_POLICY.attended(1, 2048) == 256 and MPS_POLICY.attended(257, 2048) == 512
    assert MPS_POLICY.attended(2000, 2048) == 2048 and cpu.attended(300, 2048) == 300
    with pytest.raises(ValueError, match="eager"):
        dataclasses.replace(MPS_POLICY, accel="graph")


def test_compile_is_refused_on_mps(monkeypatch):
    monkeypatch.delenv("CSM_DESKTOP_ACCEL", raising=False)
    assert resolve_accel("graph", MPS) == "off" and resolve_accel("auto", MPS) == "off"
    with pytest.raises(CsmError, match="not offered on a Mac's GPU.*'auto' or 'off' in Settings"):
        resolve_accel("compile", MPS)
    with pytest.raises(CsmError, match="not offered on a Mac's GPU"):
        policy_for(MPS, "compile")
    monkeypatch.setenv("CSM_DESKTOP_ACCEL", "compile")
    with pytest.raises(CsmError, match="CSM_DESKTOP_ACCEL asks.*unset the variable"):
        resolve_accel("auto", MPS)
    assert resolve_accel("auto", torch.device("cpu")) == "compile"  # still offered where it is checked


def test_an_mps_out_of_memory_error_is_the_friendly_device_error():
    with pytest.raises(DeviceError, match="ran out of memory.*switch the device to CPU"), \
            generator_module._device_errors():
        raise RuntimeError("MPS backend out of memory (MPS allocated: 17.10 GB, other allocations: 1.2 GB, "
                           "max allowed: 18.13 GB). Tried to allocate 64.00 MB on private pool.")
    with pytest.raises(RuntimeError, match="shape mismatch"), generator_module._device_errors():
        raise RuntimeError("shape mismatch")  # other runtime errors stay as they are


@pytest.fixture(scope="module")
def transformers_folder(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-hf") / "csm-tiny", seed=3, format="transformers")


@pytest.mark.parametrize("layout", ["original", "transformers"])
def test_the_mps_policy_at_float32_gives_the_cpu_codes(tiny_folder, transformers_folder, layout):
    """Slice cache writes, GQA folded into rows, a boolean mask and a rounded attended length
    change how the work is laid out, not the result: greedy and seeded takes, streams and
    batches of candidates equal the CPU policy's (after the warm-up frames the MPS policy runs)."""
    folder = tiny_folder if layout == "original" else transformers_folder
    cpu = load_csm_1b("cpu", model=folder)
    mac = load_csm_1b("cpu", model=folder, policy=MPS_AT_FP32)
    assert set(mac._step._runners) == {50, 1}  # warmed up at load, as on a Mac
    assert mac._end_lag == 2 and cpu._end_lag == 0
    for topk, seed in ((1, 0), (50, 3), (20, 9)):
        a = cpu.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2400, topk=topk, seed=seed)
        b = mac.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2400, topk=topk, seed=seed)
        assert a.shape == (32, 30) and torch.equal(a, b), f"top-k {topk}, seed {seed}"
    chunks = list(mac.stream(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5))
    torch.testing.assert_close(torch.cat(chunks), cpu.generate(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5),
                               atol=1e-5, rtol=1e-4)
    batch = mac.generate_candidates(TEXT, 1, _context(), num_candidates=3, max_audio_length_ms=1200, seed=11)
    for c in batch:
        assert torch.equal(c.codes, cpu.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=c.seed))


def test_the_mps_policy_at_float16_stays_finite_with_the_dtypes_it_promises(tiny_folder, monkeypatch):
    gen = load_csm_1b("cpu", model=tiny_folder, policy=MPS_POLICY)
    model = gen.model
    assert {p.dtype for p in model.parameters()} == {torch.float16}
    for t in (model.backbone, model.decoder):
        assert t.cos.dtype == t.sin.dtype == torch.float16 and t.causal.dtype == torch.bool
        for layer in t.layers:
            assert layer.attn.k_cache.dtype == layer.attn.v_cache.dtype == torch.float16
    assert {p.dtype for p in gen.codec.mimi.parameters()} == {torch.float32}  # Mimi stays float32
    assert model.audio_head.shape == (31, 2051, 32) and model.audio_head[4, :2048].is_contiguous()

    seen = {"hidden": 0, "logits": 0}

    def finite_output(module, args, out):
        assert out.dtype == torch.float16 and torch.isfinite(out).all()
        seen["hidden"] += 1

    for t in (model.backbone, model.decoder):
        t.register_forward_hook(finite_output)
    pick = step_module.pick_codes

    def finite_logits(logits, *args):
        assert logits.dtype == torch.float16 and torch.isfinite(logits).all()
        seen["logits"] += 1
        return pick(logits, *args)

    monkeypatch.setattr(step_module, "pick_codes", finite_logits)
    for topk in (1, 50):
        codes = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, topk=topk, seed=2)
        assert codes.shape[0] == 32 and 0 <= int(codes.min()) and int(codes.max()) < 2048
        assert torch.isfinite(gen.decode_codes(codes)).all()
    assert seen["logits"] >= 2 * 10 * 32 and seen["hidden"] > seen["logits"] // 32


def _attention_shapes(gen, monkeypatch, frames: int) -> set:
    shapes = set()
    sdpa = F.scaled_dot_product_attention

    def counting(q, k, v, attn_mask=None, **kwargs):
        shapes.add((tuple(q.shape), tuple(k.shape), tuple(v.shape), None if attn_mask is None else
                    (tuple(attn_mask.shape), attn_mask.dtype)))
        return sdpa(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    codes = gen.generate_codes(TEXT, 1, _context(frames=30), max_audio_length_ms=frames * 80, seed=1)
    monkeypatch.undo()
    assert codes.shape[1] == frames  # the whole budget was generated
    return shapes


def test_few_attention_shapes_over_200_frames_under_the_mps_policy(tiny_folder, monkeypatch):
    """MPS builds a graph per attention shape: the attended length is rounded to 256, so 200
    frames after a prompt meet a handful of shapes (the CPU policy meets one per frame). Float32
    here: the shapes do not depend on the dtype, and float16 matmuls are slow on a CPU."""
    mac = _attention_shapes(load_csm_1b("cpu", model=tiny_folder, policy=MPS_AT_FP32), monkeypatch, 200)
    assert len(mac) <= 8, sorted(mac)
    assert all(mask is not None and mask[1] == torch.bool for *_, mask in mac)  # the Metal kernel's mask type
    assert all(q[1] == k[1] for q, k, *_ in mac)  # GQA folded: as many query rows' heads as key heads
    cpu = _attention_shapes(load_csm_1b("cpu", model=tiny_folder), monkeypatch, 200)
    assert len(cpu) > 200


def test_a_model_switches_its_mask_type_with_its_policy(tiny_folder):
    from csm_desktop.engine.checkpoint import load_model

    model = load_model(tiny_folder, torch.device("cpu"), torch.float32)
    t: Transformer = model.backbone
    additive = t.causal.clone()
    model.use_policy(MPS_AT_FP32)
    assert t.causal.dtype == torch.bool and torch.equal(t.causal, additive == 0)
    model.use_policy(policy_for(torch.device("cpu")))
    assert torch.equal(t.causal, additive)


def test_unmasked_decode_gives_the_cpu_codes_with_no_mask_on_single_positions(tiny_folder, monkeypatch):
    """The variant bench/mac.py times (torch-mps-unmasked): decode calls read exactly the filled
    positions with no mask, prompt blocks stay masked; at float32 the codes are the CPU policy's."""
    variant = dataclasses.replace(MPS_AT_FP32, unmasked_decode=True)
    cpu = load_csm_1b("cpu", model=tiny_folder)
    mac = load_csm_1b("cpu", model=tiny_folder, policy=variant)
    for topk, seed in ((1, 0), (50, 3)):
        a = cpu.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2400, topk=topk, seed=seed)
        b = mac.generate_codes(TEXT, 1, _context(), max_audio_length_ms=2400, topk=topk, seed=seed)
        assert torch.equal(a, b), f"top-k {topk}, seed {seed}"
    shapes = _attention_shapes(mac, monkeypatch, 40)
    single = [s for s in shapes if s[0][2] == mac.model.backbone.cfg.num_heads // mac.model.backbone.cfg.num_kv_heads]
    assert single and all(mask is None for *_, mask in single)  # one query position (folded rows): unmasked
    assert any(mask is not None for *_, mask in shapes)  # the prompt and the decoder's first step stay masked
