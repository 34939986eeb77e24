"""Sesame's original layout, as Sesame's own model structure (torchtune modules) writes it:
every tensor name is found and the transformers agree with torchtune's, RoPE order included."""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from csm_desktop.engine.checkpoint import folder_weights, load_model
from fakes.sesame_model import tiny_sesame_model


def _saved(tmp_path, model):
    folder = tmp_path / "sesame-original"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(model.config))
    return folder


def test_torchtune_state_dict_loads_and_the_transformers_agree(tmp_path):
    sesame = tiny_sesame_model(seed=1)
    folder = _saved(tmp_path, sesame)
    assert folder_weights(folder).layout == "original"
    ours = load_model(folder, torch.device("cpu"), torch.float32)

    g = torch.Generator().manual_seed(2)
    with torch.inference_mode():
        x = torch.randn(1, 23, 64, generator=g)
        expected = sesame.backbone(x)  # causal without a mask or caches
        got = ours.backbone(x, torch.arange(23), 23)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

        y = sesame.projection(torch.randn(1, 5, 64, generator=g))
        torch.testing.assert_close(ours.decoder(y, torch.arange(5), 5), sesame.decoder(y), atol=1e-5, rtol=1e-5)

        h = torch.randn(1, 64, generator=g)
        torch.testing.assert_close(ours.codebook0_head(h), sesame.codebook0_head(h))
        torch.testing.assert_close(ours.audio_head, sesame.audio_head.transpose(1, 2))  # [N-1, V, D]
        tokens = torch.randint(0, 512, (7,), generator=g)
        torch.testing.assert_close(ours.text_embeddings(tokens), sesame.text_embeddings(tokens))
