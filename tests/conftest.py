"""Shared fixtures: every test runs with its own data/config folders and an offline hub."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# huggingface_hub reads these at import: no test may reach the real hub. Tests that serve a
# fake hub switch it back on for themselves (see tests/engine/test_hub.py).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    """No test touches the real home: data, config and the HF cache live under tmp_path."""
    monkeypatch.setenv("CSM_DESKTOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSM_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A tiny original-layout checkpoint (seed 0), written once per session."""
    from csm_desktop.engine.testing import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "csm-tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_generator(tiny_folder):
    from csm_desktop.engine import load_csm_1b

    return load_csm_1b("cpu", model=tiny_folder)


@pytest.fixture(params=["cpu", "mps-at-float32"])
def engine_policy(request):
    """None (the CPU's own policy), then the Mac's (MPS) policy at float32, run on the CPU: a test
    that takes this runs under both (they must give the same codes)."""
    if request.param == "cpu":
        return None
    import dataclasses

    import torch

    from csm_desktop.engine.policy import policy_for

    return dataclasses.replace(policy_for(torch.device("mps")), dtype=torch.float32)


@pytest.fixture(scope="session")
def upstream_folders(tmp_path_factory):
    """One tiny CSM made by transformers itself, saved twice by upstream tools: ``resaved`` (what
    ``save_pretrained`` writes) and ``sesame`` (the hub repository sesame/csm-1b, file for file)."""
    from fakes.csm_repo import build_sesame_repo, save_resaved, tiny_transformers_model

    model, tok = tiny_transformers_model(seed=0)
    root = tmp_path_factory.mktemp("upstream")
    return {"resaved": save_resaved(model, tok, root / "resaved"),
            "sesame": build_sesame_repo(model, tok, root / "csm-1b")}


@pytest.fixture
def fake_hub(upstream_folders, monkeypatch):
    """The tiny sesame/csm-1b repository served, gated, on 127.0.0.1 (token ``fakes.hub.TOKEN``),
    with huggingface_hub online and pointed at it for this test."""
    from fakes.hub import REPO, TOKEN, FakeHub, set_offline

    with FakeHub() as hub:
        hub.add_folder(REPO, upstream_folders["sesame"], token=TOKEN, gated=True)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        set_offline(monkeypatch, False)
        yield hub
    set_offline(monkeypatch, True)


@pytest.fixture(scope="session")
def speech():
    """Real speech for the take checks, made once by espeak-ng (24 kHz float32 arrays): ``line``
    with its text, the same voice on other sentences (``clips``), and another voice (``other``)."""
    from csm_desktop.dialogue import testing

    text = "We should leave before the rain starts, or we will be soaked by the time we get home."
    return {
        "text": text,
        "line": testing.espeak(text),
        "clips": [testing.espeak(s) for s in testing.SENTENCES[:3]],
        "other": testing.espeak(text, voice="en-us+f3", pitch=90),
    }


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory):
    """A random tiny Whisper converted by CTranslate2's converter: a faster-whisper model folder."""
    from csm_desktop.dialogue.testing import make_tiny_whisper

    return make_tiny_whisper(tmp_path_factory.mktemp("whisper") / "faster-whisper-tiny-test")


@pytest.fixture(scope="session")
def perth():
    """PerTh's watermarking network, loaded once for the whole run (import and weights take a few
    seconds): ``csm_desktop.dialogue.watermark`` with the network ready."""
    from csm_desktop.dialogue import watermark

    watermark._watermarker()
    return watermark
