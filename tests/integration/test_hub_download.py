"""Model download into the HF cache against a fake hub: progress, cancel, resume, errors."""

from __future__ import annotations

from collections import namedtuple

import pytest

from csm_desktop.services.models import load_csm_1b
from csm_desktop.errors import CsmError, ModelAccessError, ModelNotFoundError, NetworkError
from csm_desktop.services import download as dl
from csm_desktop.services.model_source import plan_model
from fakes.hub import REPO, TOKEN, set_offline


def test_download_reports_bytes_and_lands_in_the_hf_cache(fake_hub, monkeypatch):
    files = plan_model(REPO, TOKEN)
    names = {f.name for f in files}
    assert {"config.json", "transformers.safetensors.index.json", "transformers-00001-of-00002.safetensors",
            "transformers-00002-of-00002.safetensors", "tokenizer.json"} <= names
    assert not names & {"model.safetensors", "ckpt.pt"}  # one copy of the weights
    total = sum(f.size for f in files)
    events = []
    folders = dl.download(files, TOKEN, on_progress=events.append)
    assert events[-1].done == total == events[-1].total
    dones = [e.done for e in events]
    assert dones == sorted(dones)
    assert all(auth == f"Bearer {TOKEN}" for _, path, auth in fake_hub.requests)
    assert (folders[REPO] / "transformers-00001-of-00002.safetensors").is_file()
    # huggingface_hub (and so the engine) finds the files offline
    set_offline(monkeypatch, True)
    gen = load_csm_1b("cpu", model=REPO)
    assert gen.generate_codes("Hi.", 0, max_audio_length_ms=160, topk=1).shape == (32, 2)


def test_cancel_keeps_partial_data_and_the_next_download_resumes(fake_hub, monkeypatch):
    files = plan_model(REPO, TOKEN)
    big = max(files, key=lambda f: f.size)
    seen = []

    def should_stop():
        return any(e.file == big.name and e.file_done > 0 for e in seen)

    with monkeypatch.context() as m:
        m.setattr(dl, "CHUNK", 64 * 1024)
        m.setattr(dl, "_report_interval_s", 0.0)  # report every chunk
        with pytest.raises(dl.DownloadCancelled, match="resumes"):
            dl.download(files, TOKEN, on_progress=seen.append, should_stop=should_stop)
    partial = big.partial
    kept = partial.stat().st_size
    assert 0 < kept < big.size
    fake_hub.ranges.clear()
    dl.download(files, TOKEN)
    assert fake_hub.ranges == [f"bytes={kept}-"]
    assert big.blob.stat().st_size == big.size and not partial.exists()


@pytest.mark.parametrize("gated", [True, False])
def test_refused_token(fake_hub, upstream_folders, gated):
    fake_hub.add_folder(REPO, upstream_folders["sesame"], token=TOKEN, gated=gated)
    with pytest.raises(ModelAccessError, match="accept its licence"):
        plan_model(REPO, "wrong")


def test_missing_repo_file_and_server_errors(fake_hub):
    files = plan_model(REPO, TOKEN)
    del fake_hub.repos[REPO].files["tokenizer.json"]
    with pytest.raises(ModelNotFoundError):
        dl.download(files, TOKEN)
    fake_hub.fail_status = 500
    with pytest.raises(NetworkError, match="HTTP 500"):
        plan_model(REPO, TOKEN)


def test_not_enough_disk_space(fake_hub, monkeypatch):
    files = plan_model(REPO, TOKEN)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: usage(10, 10, 1000))
    with pytest.raises(CsmError, match="GB are free"):
        dl.download(files, TOKEN)


def test_unreachable_hub(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    set_offline(monkeypatch, False)
    try:
        with pytest.raises(NetworkError, match="could not be reached"):
            plan_model(REPO, TOKEN)
    finally:
        set_offline(monkeypatch, True)


def test_offline_mode_is_said_as_such_not_as_a_disk_problem():
    """HF_HUB_OFFLINE (on in tests) makes huggingface_hub's session refuse with an OSError: it is
    the hub that cannot be reached, not the disk that failed."""
    with pytest.raises(NetworkError, match="could not be reached.*HF_HUB_OFFLINE"):
        plan_model(REPO, TOKEN)
