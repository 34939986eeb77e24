"""Checkpoints written by transformers itself load, and speak as transformers does.

The fixtures come from transformers' own ``CsmForConditionalGeneration(...).save_pretrained``
(a re-saved checkpoint, like a fine-tune or the unsloth mirror) and a copy of the hub
repository sesame/csm-1b laid out file for file (see ``fakes/csm_repo.py``).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.checkpoint import folder_weights
from csm_desktop.engine.mimi_weights import moshi_config
from csm_desktop.engine.testing import transformers_inputs
from csm_desktop.errors import CheckpointError

transformers = pytest.importorskip("transformers")

CONTEXT_TEXT = "Hey, how are you doing?"
LINE_TEXT = "Pretty good, pretty good."
FRAMES = 8
INVALID = [2048, 2049, 2050]  # Mimi cannot decode these; our engine never samples them
TIED = "backbone_model.embed_tokens.embed_audio_tokens.weight"


def _hf(folder):
    return transformers.CsmForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()


def _context_audio(frame_size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frame_size * 6, generator=g) * 0.1


def _transformers_greedy(hf, ours, audio):
    """transformers' greedy codes, with the context audio encoded by the checkpoint's own Mimi."""
    codes = ours.encode_audio(audio)
    out = hf.generate(
        **transformers_inputs(hf, ours, CONTEXT_TEXT, audio, codes, LINE_TEXT, own_codec=True),
        max_new_tokens=FRAMES, do_sample=False, depth_decoder_do_sample=False,
        suppress_tokens=INVALID, depth_decoder_suppress_tokens=INVALID, return_dict_in_generate=True,
    )
    return out.sequences[0].T


def _ours_greedy(gen, audio):
    return gen.generate_codes(LINE_TEXT, 1, [Segment(0, CONTEXT_TEXT, audio=audio)],
                              max_audio_length_ms=FRAMES * 80, topk=1)


def test_resaved_checkpoint_stores_the_tied_embedding_once(upstream_folders):
    with safe_open(str(upstream_folders["resaved"] / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert TIED not in keys and "depth_decoder.model.embed_tokens.weight" in keys
    assert any(k.startswith("codec_model.") for k in keys)


@pytest.mark.parametrize("which", ["resaved", "sesame"])
def test_greedy_codes_equal_transformers_with_the_checkpoints_own_codec(upstream_folders, which):
    ours = load_csm_1b("cpu", model=upstream_folders[which])
    hf = _hf(upstream_folders["resaved"])
    audio = _context_audio(ours.codec.frame_size)
    expected = _transformers_greedy(hf, ours, audio)
    got = _ours_greedy(ours, audio)
    assert got.shape == (32, FRAMES)
    assert torch.equal(got, expected), "greedy codes differ from transformers"


def test_codec_inside_the_checkpoint_matches_transformers_mimi(upstream_folders):
    ours = load_csm_1b("cpu", model=upstream_folders["resaved"])
    mimi = _hf(upstream_folders["resaved"]).codec_model
    audio = _context_audio(ours.codec.frame_size, seed=3)
    with torch.inference_mode():
        expected_codes = mimi.encode(audio[None, None]).audio_codes[0]
        codes = ours.codec.encode(audio)
        assert torch.equal(codes, expected_codes)
        expected_audio = mimi.decode(codes[None]).audio_values[0, 0]
    decoded = ours.codec.decode(codes)
    scale = expected_audio.abs().max()
    # A wrong Q/K order in the codec's attention gives ~1e-4 of the peak here; float noise ~1e-7.
    assert (decoded - expected_audio).abs().max() <= 1e-5 * scale


def test_codec_inside_and_mimi_file_give_the_same_codes_and_audio(upstream_folders, tmp_path):
    """The same codec weights as moshi's own file format (mimi.safetensors) or inside the
    checkpoint (codec_model.*): same codes, same audio."""
    inside = load_csm_1b("cpu", model=upstream_folders["resaved"])
    folder = shutil.copytree(upstream_folders["resaved"], tmp_path / "with-mimi-file")
    save_file({k: v.contiguous() for k, v in inside.codec.mimi.state_dict().items()}, folder / "mimi.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "mimi_config.json").write_text(json.dumps(moshi_config(config["codec_config"])))
    from_file = load_csm_1b("cpu", model=folder)
    assert from_file.codec.identity != inside.codec.identity  # it did load the file
    audio = _context_audio(inside.codec.frame_size, seed=4)
    a, b = _ours_greedy(inside, audio), _ours_greedy(from_file, audio)
    assert torch.equal(a, b)
    assert torch.equal(inside.codec.decode(a), from_file.codec.decode(b))


def test_sesame_repository_loads_the_transformers_shards_with_their_codec(upstream_folders):
    chosen = folder_weights(upstream_folders["sesame"])
    assert chosen.layout == "transformers" and chosen.has_codec
    assert chosen.files == ("transformers-00001-of-00002.safetensors", "transformers-00002-of-00002.safetensors")
    assert chosen.index == "transformers.safetensors.index.json"


def test_original_layout_of_the_same_repository_gives_the_same_codes(upstream_folders, tmp_path):
    """What the first version downloaded (config.json naming transformers_weights, plus Sesame's
    model.safetensors) loads as the original layout, from the weights' own names."""
    repo = upstream_folders["sesame"]
    shards = load_csm_1b("cpu", model=repo)
    folder = tmp_path / "original-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        shutil.copy(repo / name, folder / name)
    save_file({k: v.contiguous() for k, v in shards.codec.mimi.state_dict().items()}, folder / "mimi.safetensors")
    config = json.loads((repo / "config.json").read_text())
    (folder / "mimi_config.json").write_text(json.dumps(moshi_config(config["codec_config"])))
    assert folder_weights(folder).layout == "original"
    original = load_csm_1b("cpu", model=folder)
    audio = _context_audio(shards.codec.frame_size, seed=5)
    assert torch.equal(_ours_greedy(shards, audio), _ours_greedy(original, audio))
    a = shards.generate_codes(LINE_TEXT, 0, max_audio_length_ms=800, seed=11)
    b = original.generate_codes(LINE_TEXT, 0, max_audio_length_ms=800, seed=11)
    assert torch.equal(a, b)


def test_incomplete_shards_fall_back_or_say_what_is_missing(upstream_folders, tmp_path):
    repo = shutil.copytree(upstream_folders["sesame"], tmp_path / "repo")
    (repo / "transformers-00002-of-00002.safetensors").unlink()
    # Sesame's original weights are still there: they are used (without a codec inside).
    assert folder_weights(repo).files == ("model.safetensors",)
    (repo / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="transformers-00002-of-00002.safetensors, which is missing"):
        folder_weights(repo)


@pytest.mark.parametrize("value", ["../outside.safetensors", "/etc/passwd", 3, "pytorch_model.bin"])
def test_a_hostile_transformers_weights_entry_is_ignored(upstream_folders, tmp_path, value):
    repo = shutil.copytree(upstream_folders["sesame"], tmp_path / "repo")
    config = json.loads((repo / "config.json").read_text())
    config["transformers_weights"] = value
    (repo / "config.json").write_text(json.dumps(config))
    assert folder_weights(repo).files == ("model.safetensors",)


def test_an_index_pointing_outside_the_folder_is_refused(upstream_folders, tmp_path):
    repo = shutil.copytree(upstream_folders["sesame"], tmp_path / "repo")
    index = json.loads((repo / "transformers.safetensors.index.json").read_text())
    first = next(iter(index["weight_map"]))
    index["weight_map"][first] = "../../secret.safetensors"
    (repo / "transformers.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="invalid weight file"):
        folder_weights(repo)


def test_weights_that_are_not_csm_are_named(tmp_path, upstream_folders):
    folder = tmp_path / "llama"
    folder.mkdir()
    shutil.copy(upstream_folders["resaved"] / "config.json", folder / "config.json")
    save_file({"model.layers.0.self_attn.q_proj.weight": torch.zeros(2, 2)}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors holds no CSM weights"):
        folder_weights(folder)
