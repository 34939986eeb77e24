"""services.models.load_csm_1b with a hub repository id, against a fake hub on 127.0.0.1."""

from __future__ import annotations

import pytest
import torch

from csm_desktop.services.models import load_csm_1b
from csm_desktop.errors import ModelAccessError, NetworkError
from fakes.hub import REPO, TOKEN, set_offline


def test_download_sends_token_as_bearer_and_loads(fake_hub, upstream_folders):
    gen = load_csm_1b("cpu", model=REPO, token=TOKEN)
    local = load_csm_1b("cpu", model=upstream_folders["sesame"])
    file_requests = [r for r in fake_hub.requests if "/resolve/" in r[1]]
    assert file_requests, "nothing was downloaded"
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in fake_hub.requests)
    # the downloaded model is the served one
    a = gen.generate_codes("Hi.", 0, max_audio_length_ms=240, topk=1)
    b = local.generate_codes("Hi.", 0, max_audio_length_ms=240, topk=1)
    assert torch.equal(a, b)


@pytest.mark.parametrize("gated", [True, False])
def test_refused_download_explains_licence_and_token(fake_hub, upstream_folders, gated):
    fake_hub.add_folder(REPO, upstream_folders["sesame"], token=TOKEN, gated=gated)  # 403 GatedRepo or 401
    with pytest.raises(ModelAccessError) as info:
        load_csm_1b("cpu", model=REPO, token="hf_wrong")
    message = str(info.value)
    assert "accept its licence" in message and "token" in message
    assert f"huggingface.co/{REPO}" in message
    assert "hf_wrong" not in message


def test_no_token_for_gated_model(fake_hub):
    with pytest.raises(ModelAccessError):
        load_csm_1b("cpu", model=REPO, token=None)


def test_server_error_is_a_network_error(fake_hub):
    fake_hub.fail_status = 500
    with pytest.raises(NetworkError, match="500"):
        load_csm_1b("cpu", model=REPO, token=TOKEN)


def test_offline_uses_a_filled_cache(fake_hub, monkeypatch):
    load_csm_1b("cpu", model=REPO, token=TOKEN)
    seen = len(fake_hub.requests)
    set_offline(monkeypatch, True)
    gen = load_csm_1b("cpu", model=REPO, token=TOKEN)
    assert gen.generate_codes("Hi.", 0, max_audio_length_ms=160, topk=1).shape == (32, 2)
    assert len(fake_hub.requests) == seen  # nothing asked of the hub


def test_offline_with_empty_cache_says_what_to_do():
    with pytest.raises(NetworkError, match="local model folder"):
        load_csm_1b("cpu", model=REPO)
