"""Broken model folders end in a CsmError that says what to do, never a torch error."""

from __future__ import annotations

import shutil

import pytest
from safetensors.torch import load_file, save_file

from csm_desktop.engine import load_csm_1b
from csm_desktop.errors import CheckpointError, DeviceError, ModelNotFoundError


@pytest.fixture
def folder(tiny_folder, tmp_path):
    return shutil.copytree(tiny_folder, tmp_path / "model")


def test_missing_weights_file(folder):
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="No CSM-1B weights were found"):
        load_csm_1b("cpu", model=folder)


def test_truncated_weights_file(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="Download the model again"):
        load_csm_1b("cpu", model=folder)


def test_missing_tensor(folder):
    tensors = load_file(folder / "model.safetensors")
    del tensors["backbone.layers.1.attn.q_proj.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="lack 1 weights"):
        load_csm_1b("cpu", model=folder)


def test_wrong_shapes(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors["projection.weight"] = tensors["projection.weight"][:, :10].contiguous()
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_csm_1b("cpu", model=folder)


def test_missing_tokenizer(folder):
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer.json"):
        load_csm_1b("cpu", model=folder)


def test_not_a_model_and_not_a_repo(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ModelNotFoundError):
        load_csm_1b("cpu", model=f)
    with pytest.raises(ModelNotFoundError):
        load_csm_1b("cpu", model="not a repo id")


def test_a_repository_id_is_for_the_services_loader():
    """The engine loads folders only: a hub id is answered with where to load it from, offline."""
    with pytest.raises(ModelNotFoundError, match="csm_desktop.services.models.load_csm_1b"):
        load_csm_1b("cpu", model="sesame/csm-1b")


def test_a_folder_without_codec_needs_moshis_mimi_file(folder, tmp_path):
    """Nothing is downloaded: a checkpoint without a codec loads with ``mimi=``, else says how."""
    mimi = tmp_path / "mimi"
    mimi.mkdir()
    for name in ("mimi.safetensors", "mimi_config.json"):  # a tiny stand-in for moshi's release file
        shutil.move(folder / name, mimi / name)
    with pytest.raises(CheckpointError, match="Mimi codec weights are missing.*services.models.load_csm_1b"):
        load_csm_1b("cpu", model=folder)
    with pytest.raises(CheckpointError, match="do not exist"):
        load_csm_1b("cpu", model=folder, mimi=tmp_path / "nowhere.safetensors")
    gen = load_csm_1b("cpu", model=folder, mimi=mimi / "mimi.safetensors", warm_up=False)
    assert gen.generate_codes("Hi.", 0, max_audio_length_ms=160, topk=1).shape == (32, 2)


def test_cuda_requested_without_gpu(tiny_folder):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        load_csm_1b("cuda", model=tiny_folder)
