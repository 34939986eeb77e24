"""A speed-up that fails while being prepared falls back to eager frames without changing the audio."""

from __future__ import annotations

import torch

from csm_desktop.engine import load_csm_1b


def test_a_speed_up_failing_midway_leaves_the_frame_state_as_it_was(tiny_folder, monkeypatch):
    """Issue 12: a runner built lazily (top-k 20 was not prepared at load) whose compile fails on
    its second warm-up frame left the device position one ahead of the host's: other audio."""

    def flaky_compile(fn, **kwargs):
        calls = {"n": 0}

        def run():
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("inductor failed")
            return fn()

        return run

    eager = load_csm_1b("cpu", model=tiny_folder, accel="off")
    expected = eager.generate_codes("A line to say.", 0, max_audio_length_ms=800, topk=20, seed=4)
    monkeypatch.setattr(torch, "compile", flaky_compile)
    engine = load_csm_1b("cpu", model=tiny_folder, accel="compile", warm_up=False)
    assert engine.accel == "compile"
    codes = engine.generate_codes("A line to say.", 0, max_audio_length_ms=800, topk=20, seed=4)
    assert engine.accel == "off" and "inductor failed" in engine.accel_problem
    assert torch.equal(codes, expected)
