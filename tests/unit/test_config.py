"""Reading both config layouts, and what a broken model folder says."""

from __future__ import annotations

import json

import pytest

from csm_desktop.engine.config import parse_config, read_config
from csm_desktop.errors import CheckpointError

SESAME_ORIGINAL = {"audio_num_codebooks": 32, "audio_vocab_size": 2051, "backbone_flavor": "llama-1B",
                   "decoder_flavor": "llama-100M", "text_vocab_size": 128256}


def test_original_flavors_give_csm_1b_sizes():
    cfg = parse_config(SESAME_ORIGINAL)
    assert cfg.layout == "original"
    assert (cfg.backbone.num_layers, cfg.backbone.embed_dim, cfg.backbone.num_heads, cfg.backbone.num_kv_heads) == (16, 2048, 32, 8)
    assert (cfg.decoder.num_layers, cfg.decoder.embed_dim, cfg.decoder.num_heads, cfg.decoder.num_kv_heads) == (4, 1024, 8, 2)
    assert cfg.backbone.rope_scaling.factor == 32 and cfg.backbone.rope_scaling.original_max_position_embeddings == 8192
    assert cfg.backbone.max_seq_len == 2048


def test_transformers_layout_reads_every_size():
    data = {"model_type": "csm", "hidden_size": 96, "intermediate_size": 200, "num_hidden_layers": 3,
            "num_attention_heads": 6, "num_key_value_heads": 3, "max_position_embeddings": 1024,
            "rope_theta": 10000, "rms_norm_eps": 1e-6, "text_vocab_size": 300, "vocab_size": 2051, "num_codebooks": 32,
            "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
                             "original_max_position_embeddings": 512},
            "depth_decoder_config": {"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 2,
                                     "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 33}}
    cfg = parse_config(data)
    assert cfg.layout == "transformers"
    assert cfg.backbone.embed_dim == 96 and cfg.backbone.max_seq_len == 1024 and cfg.backbone.norm_eps == 1e-6
    assert cfg.backbone.rope_scaling.factor == 8 and cfg.backbone.rope_base == 10000
    assert cfg.decoder.embed_dim == 48 and cfg.decoder.rope_scaling is None


@pytest.mark.parametrize("data, match", [
    ({"backbone_flavor": "llama-9B", "decoder_flavor": "llama-100M", "text_vocab_size": 1,
      "audio_vocab_size": 1, "audio_num_codebooks": 1}, "unknown backbone flavor"),
    ({"model_type": "csm", "hidden_size": 64}, "missing or has a malformed field"),
    ({"model_type": "llama"}, "Is this a CSM-1B model folder"),
])
def test_bad_configs_explain(data, match):
    with pytest.raises(CheckpointError, match=match):
        parse_config(data)


def test_folder_problems(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="could not be read as JSON"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="JSON object"):
        read_config(tmp_path)
