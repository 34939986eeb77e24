"""Loading by name (the command line's path) and ``fetch_repo`` go through the one downloader:
byte progress, resume of a partial blob with a Range request, and a complete cache used with
the hub stopped. Caches and partial files are laid out by huggingface_hub's own tools."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from csm_desktop.errors import ModelNotFoundError, NetworkError
from csm_desktop.services import download as dl
from csm_desktop.services.model_source import model_files, resolve_model_folder
from csm_desktop.services.models import load_csm_1b
from fakes.hub import REPO, TOKEN, Repo, set_offline

WHISPER = "someone/faster-whisper-tiny"
WHISPER_FILES = {"config.json": b'{"alignment_heads": []}', "model.bin": bytes(range(256)) * 2048,
                 "tokenizer.json": b"{}", "vocabulary.txt": b"a\nb\n", "README.md": b"# tiny"}
WHISPER_PATTERNS = ["config.json", "model.bin", "tokenizer.json", "vocabulary.*"]


def _cache() -> Path:
    """This test's cache (huggingface_hub's own default was read at its import: pass this)."""
    return Path(os.environ["HF_HUB_CACHE"])


def _hf_partial(repo_id: str, name: str, data: bytes) -> None:
    """A partial file where huggingface_hub leaves one: ``blobs/<etag>.incomplete``, the etag as
    huggingface_hub reads it from the hub."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import repo_folder_name

    meta = get_hf_file_metadata(hf_hub_url(repo_id, name, endpoint=os.environ["HF_ENDPOINT"]), token=TOKEN)
    blobs = _cache() / repo_folder_name(repo_id=repo_id, repo_type="model") / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{meta.etag}.incomplete").write_bytes(data)


def test_loading_by_repo_id_reports_byte_progress(fake_hub, monkeypatch):
    monkeypatch.setattr(dl, "CHUNK", 64 * 1024)
    monkeypatch.setattr(dl, "_report_interval_s", 0.0)  # report every chunk
    events = []
    folder = resolve_model_folder(REPO, TOKEN, on_progress=events.append)
    chosen = model_files(REPO, TOKEN)
    total = sum((folder / n).stat().st_size for n in chosen.names)
    assert events and events[-1].done == events[-1].total == total
    assert [e.done for e in events] == sorted(e.done for e in events)
    big = max(chosen.names, key=lambda n: (folder / n).stat().st_size)
    assert any(e.file == big and 0 < e.file_done < e.file_size for e in events)  # within a file, not per file
    assert {e.file for e in events} == set(chosen.names)


def test_a_partial_blob_left_by_huggingface_hub_is_resumed(fake_hub, upstream_folders):
    big = "transformers-00001-of-00002.safetensors"
    data = (upstream_folders["sesame"] / big).read_bytes()
    kept = len(data) // 3
    _hf_partial(REPO, big, data[:kept])
    fake_hub.served.clear()
    folder = resolve_model_folder(REPO, TOKEN)
    assert f"bytes={kept}-" in fake_hub.ranges
    assert fake_hub.served[f"{REPO}/{big}"] == len(data) - kept  # only the rest was sent
    assert (folder / big).read_bytes() == data
    assert not list((folder.parents[1] / "blobs").glob("*.incomplete"))


def test_a_cache_filled_by_huggingface_hub_loads_with_the_hub_stopped(fake_hub, monkeypatch):
    from huggingface_hub import snapshot_download

    snapshot_download(REPO, token=TOKEN, endpoint=fake_hub.url, cache_dir=_cache())  # the owner's tool
    fake_hub.server.stop()
    asked = len(fake_hub.requests)
    events = []
    gen = load_csm_1b("cpu", model=REPO, token=TOKEN, on_progress=events.append, warm_up=False)  # online mode
    assert gen.generate_codes("Hi.", 0, max_audio_length_ms=160, topk=1).shape == (32, 2)
    set_offline(monkeypatch, True)
    load_csm_1b("cpu", model=REPO, warm_up=False)
    assert events == [] and len(fake_hub.requests) == asked


def test_a_download_by_name_is_found_again_with_the_hub_stopped(fake_hub):
    folder = resolve_model_folder(REPO, TOKEN)
    fake_hub.server.stop()
    assert resolve_model_folder(REPO, TOKEN) == folder


def test_fetch_repo_fetches_the_matching_files_with_progress_then_from_the_cache(fake_hub, monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    fake_hub.repos[WHISPER] = Repo(dict(WHISPER_FILES))
    events = []
    folder = dl.fetch_repo(WHISPER, WHISPER_PATTERNS, on_progress=events.append)
    assert {p.name for p in folder.iterdir()} == set(WHISPER_FILES) - {"README.md"}
    assert (folder / "model.bin").read_bytes() == WHISPER_FILES["model.bin"]
    assert events[-1].done == events[-1].total == sum(len(v) for k, v in WHISPER_FILES.items() if k != "README.md")
    assert try_to_load_from_cache(WHISPER, "vocabulary.txt", cache_dir=_cache()) == str(folder / "vocabulary.txt")  # HF finds it
    fake_hub.server.stop()
    asked = len(fake_hub.requests)
    assert dl.fetch_repo(WHISPER, WHISPER_PATTERNS) == folder
    set_offline(monkeypatch, True)
    assert dl.fetch_repo(WHISPER, WHISPER_PATTERNS) == folder
    assert len(fake_hub.requests) == asked
    with pytest.raises(NetworkError, match="HF_HUB_OFFLINE"):
        dl.fetch_repo(WHISPER, ["README.md"])  # not in the cache, and the hub may not be asked


def test_fetch_repo_names_a_file_the_repository_lacks(fake_hub):
    fake_hub.repos[WHISPER] = Repo(dict(WHISPER_FILES))
    with pytest.raises(ModelNotFoundError, match="preprocessor_config.json"):
        dl.fetch_repo(WHISPER, ["model.bin", "preprocessor_config.json"])
    assert not any(path.endswith("/model.bin") for _, path, _ in fake_hub.requests)  # nothing fetched


def test_the_command_line_prints_the_download_progress(fake_hub, monkeypatch, tmp_path, capsys):
    from csm_desktop.cli import main

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    out = tmp_path / "hi.wav"
    assert main(["say", "Hi.", "--model", REPO, "--max-ms", "160", "--device", "cpu", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    chosen = model_files(REPO, TOKEN)
    for name in chosen.names:
        assert f"  {name} (" in err
    assert out.is_file()
