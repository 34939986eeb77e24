"""The default model id through a fake hub holding sesame/csm-1b file for file (both layouts,
``transformers_weights`` in its config, Bearer token required): one copy of the weights is
downloaded, it speaks as transformers does, and it loads again offline from the cache."""

from __future__ import annotations

import shutil

import pytest
import torch

from csm_desktop.engine import Segment
from csm_desktop.services.models import load_csm_1b
from csm_desktop.engine.testing import transformers_inputs
from csm_desktop.services import download as dl
from csm_desktop.services import hub as hubsvc
from csm_desktop.services import models
from csm_desktop.services.model_source import plan_model
from fakes.hub import REPO, TOKEN, set_offline

transformers = pytest.importorskip("transformers")

SHARDS = {"transformers-00001-of-00002.safetensors", "transformers-00002-of-00002.safetensors"}
INVALID = [2048, 2049, 2050]


def _weights_served(hub, repo=REPO) -> dict[str, int]:
    return {k.split("/", 2)[2]: n for k, n in hub.served.items()
            if k.startswith(repo + "/") and k.endswith(".safetensors")}


def test_default_model_downloads_one_layout_and_speaks_like_transformers(fake_hub, upstream_folders, monkeypatch):
    repo = upstream_folders["sesame"]
    gen = load_csm_1b("cpu", model=REPO, token=TOKEN)

    # One copy of the weights, each byte once: the transformers shards (they carry the codec).
    served = _weights_served(fake_hub)
    assert set(served) == SHARDS
    assert all(served[name] == (repo / name).stat().st_size for name in SHARDS)
    assert not any(k.endswith(("/ckpt.pt", "/model.safetensors")) for k in fake_hub.served)
    assert not any("kyutai" in path for _, path, _ in fake_hub.requests)  # no second repository
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in fake_hub.requests)

    hf = transformers.CsmForConditionalGeneration.from_pretrained(upstream_folders["resaved"], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    audio = torch.randn(gen.codec.frame_size * 6, generator=g) * 0.1
    codes = gen.encode_audio(audio)
    expected = hf.eval().generate(
        **transformers_inputs(hf, gen, "Hey, how are you doing?", audio, codes, "Pretty good.", own_codec=True),
        max_new_tokens=8, do_sample=False, depth_decoder_do_sample=False, suppress_tokens=INVALID,
        depth_decoder_suppress_tokens=INVALID, return_dict_in_generate=True).sequences[0].T
    got = gen.generate_codes("Pretty good.", 1, [Segment(0, "Hey, how are you doing?", audio=audio)],
                             max_audio_length_ms=640, topk=1)
    assert torch.equal(got, expected)

    # A complete cache is used as it is, without asking the hub (fast starts, no surprise updates).
    seen = len(fake_hub.requests)
    load_csm_1b("cpu", model=REPO, token=TOKEN)
    assert len(fake_hub.requests) == seen

    # Offline, from the cache: nothing asked of the hub, same model.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    set_offline(monkeypatch, True)
    again = load_csm_1b("cpu", model=REPO)
    assert len(fake_hub.requests) == seen
    assert torch.equal(again.generate_codes("Pretty good.", 1, [Segment(0, "Hey, how are you doing?", audio=audio)],
                                            max_audio_length_ms=640, topk=1), expected)


def test_app_download_plans_the_same_files_and_says_the_size_first(fake_hub, upstream_folders, monkeypatch):
    repo = upstream_folders["sesame"]
    files = plan_model(REPO, TOKEN)
    names = {f.name for f in files}
    assert SHARDS <= names and "transformers.safetensors.index.json" in names
    assert not names & {"model.safetensors", "ckpt.pt", "mimi.safetensors"}
    assert not any(n.startswith("prompts/") or n.endswith(".jinja") for n in names)
    assert dl.total_bytes(files) == sum((repo / n).stat().st_size for n in names)
    assert not _weights_served(fake_hub)  # planning read no weights
    dl.download(files, TOKEN)
    assert set(_weights_served(fake_hub)) == SHARDS
    set_offline(monkeypatch, True)
    load_csm_1b("cpu", model=REPO)  # the engine finds what the app downloaded


def test_a_resaved_mirror_is_chosen_from_its_header(fake_hub, upstream_folders):
    """A single model.safetensors (a fine-tune or mirror): its layout and codec are read from the
    safetensors header with a range request, so no separate Mimi download is planned."""
    fake_hub.add_folder("someone/csm-1b-mirror", upstream_folders["resaved"], token=TOKEN)
    files = plan_model("someone/csm-1b-mirror", TOKEN)
    assert {f.repo_id for f in files} == {"someone/csm-1b-mirror"}
    served = _weights_served(fake_hub, "someone/csm-1b-mirror")
    size = (upstream_folders["resaved"] / "model.safetensors").stat().st_size
    assert 0 < served["model.safetensors"] < size  # the header only
    gen = load_csm_1b("cpu", model="someone/csm-1b-mirror", token=TOKEN)
    assert gen.generate_codes("Hi.", 0, max_audio_length_ms=160, topk=1).shape == (32, 2)


def test_original_layout_only_repository_adds_moshis_codec(fake_hub, upstream_folders, tiny_folder, tmp_path,
                                                           monkeypatch):
    """A repository with only Sesame's original layout and no codec: the plan adds moshi's Mimi
    release file from its own repository, and loading by name fetches that file through the same
    downloader and hands it to the engine (which downloads nothing itself)."""
    folder = tmp_path / "orig"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_folder / name, folder / name)
    fake_hub.add_folder("someone/csm-original", folder, token=TOKEN)
    mimi = tmp_path / "mimi"
    mimi.mkdir()
    shutil.copy(tiny_folder / "mimi.safetensors", mimi / hubsvc.MIMI_RELEASE_FILE)  # a tiny stand-in
    fake_hub.add_folder(hubsvc.MIMI_REPO, mimi)
    files = plan_model("someone/csm-original", TOKEN)
    assert (hubsvc.MIMI_REPO, hubsvc.MIMI_RELEASE_FILE) in {(f.repo_id, f.name) for f in files}
    assert "model.safetensors" in {f.name for f in files}

    # The engine gets the fetched release file as mimi=; the tiny stand-in needs its size beside it.
    handed = []

    def load_folder(device, *, mimi, **kwargs):
        handed.append(mimi)
        return real_load_folder(device, mimi=tiny_folder / "mimi.safetensors", **kwargs)

    real_load_folder = models.load_folder
    monkeypatch.setattr(models, "load_folder", load_folder)
    gen = models.load_csm_1b("cpu", model="someone/csm-original", token=TOKEN, warm_up=False)
    assert handed[0].name == hubsvc.MIMI_RELEASE_FILE
    assert handed[0].read_bytes() == (mimi / hubsvc.MIMI_RELEASE_FILE).read_bytes()
    assert gen.model_id == "someone/csm-original"
    seen = len(fake_hub.requests)
    set_offline(monkeypatch, True)
    models.load_csm_1b("cpu", model="someone/csm-original", warm_up=False)  # both from the cache
    assert handed[1] == handed[0] and len(fake_hub.requests) == seen


def test_moshis_release_file_is_named_as_moshi_names_it():
    from moshi.models import loaders

    assert (hubsvc.MIMI_REPO, hubsvc.MIMI_RELEASE_FILE) == (loaders.DEFAULT_REPO, loaders.MIMI_NAME)
