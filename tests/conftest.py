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


@pytest.fixture
def fake_hub(tiny_folder, monkeypatch):
    """The tiny model served as the gated sesame/csm-1b on 127.0.0.1 (token ``fakes.hub.TOKEN``),
    with huggingface_hub online and pointed at it for this test."""
    from fakes.hub import REPO, TOKEN, FakeHub, set_offline

    with FakeHub() as hub:
        hub.add_folder(REPO, tiny_folder, token=TOKEN, gated=True)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        set_offline(monkeypatch, False)
        yield hub
    set_offline(monkeypatch, True)
