"""Tiny CSM checkpoints made by the upstream tools, laid out as the real ones are.

* :func:`tiny_transformers_model`: transformers' own ``CsmForConditionalGeneration`` at a tiny
  size (its Mimi codec included), randomly initialised by transformers.
* :func:`save_resaved`: what ``save_pretrained`` writes (a fine-tune, a mirror such as
  ``unsloth/csm-1b``): one ``model.safetensors`` with the tied audio embedding stored once.
* :func:`build_sesame_repo`: the hub repository ``sesame/csm-1b`` file for file: a
  transformers ``config.json`` naming ``transformers_weights``, two ``transformers-*`` shards
  and their index (both tied embeddings, the codec as ``codec_model.*``), Sesame's original
  layout as ``model.safetensors`` and ``ckpt.pt`` made from the same weights, the tokenizer
  (a Llama-3 style post-processor), generation and preprocessor configs, the chat template,
  README and prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

BOS, EOS, AUDIO, AUDIO_EOS = "<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"
_CORPUS = [
    "Hey, how are you doing? Pretty good, pretty good. I'm great, so happy to be speaking to you.",
    "The quick brown fox jumps over the lazy dog. A line of dialogue, then another one.",
    "[0] [1] [2] [3] Numbers 0123456789 and punctuation: , . ; ! ? ' \" - ( )",
]
CHAT_TEMPLATE = (
    "{%- for message in messages %}{{ bos_token }}[{{ message['role'] }}]"
    "{%- for content in message['content'] %}{%- if content['type'] == 'text' %}{{ content['text'] }}"
    "{%- endif %}{%- endfor %}{{ eos_token }}{%- endfor %}"
)


def tiny_tokenizer():
    """A byte-level BPE tokenizer with Llama-3's special tokens and its ``bos $A eos`` post-processor,
    as transformers' fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=[BOS, EOS, AUDIO, AUDIO_EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, tok.token_to_id(BOS)), (EOS, tok.token_to_id(EOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=AUDIO)


def tiny_transformers_model(seed: int = 0):
    """transformers' CSM at a tiny size, random weights; heads scaled so greedy picks are far from ties."""
    from transformers import CsmConfig, CsmForConditionalGeneration

    tok = tiny_tokenizer()
    rope = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}
    config = CsmConfig(
        num_codebooks=32, vocab_size=2051, text_vocab_size=512, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=2048, rope_scaling=rope,
        bos_token_id=tok.convert_tokens_to_ids(BOS), pad_token_id=tok.convert_tokens_to_ids(AUDIO),
        audio_token_id=tok.convert_tokens_to_ids(AUDIO), audio_eos_token_id=tok.convert_tokens_to_ids(AUDIO_EOS),
        depth_decoder_config=dict(num_codebooks=32, backbone_hidden_size=64, vocab_size=2051, hidden_size=32,
                                  intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, head_dim=8, max_position_embeddings=33, rope_scaling=rope),
        codec_config=dict(model_type="mimi", hidden_size=32, num_filters=4, codebook_dim=16,
                          vector_quantization_hidden_dimension=16, num_hidden_layers=1, num_attention_heads=2,
                          num_key_value_heads=2, intermediate_size=64, upsample_groups=32, num_quantizers=32),
    )
    torch.manual_seed(seed)
    model = CsmForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(25.0)
        model.depth_decoder.codebooks_head.weight.mul_(25.0)
        for name, buf in model.codec_model.named_buffers():
            if name.endswith("embed_sum"):  # a fresh codebook is all zeros; a trained one is not
                buf.normal_()
        for name, param in model.codec_model.named_parameters():
            if name.endswith("layer_scale.scale"):  # let the codec's transformer matter
                param.fill_(1.0)
    return model, tok


def save_resaved(model, tok, folder: Path) -> Path:
    """``save_pretrained`` of the model and its tokenizer: a re-saved checkpoint."""
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _original_layout(tensors: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """The same weights in Sesame's names, Q/K rows in torchtune's interleaved order."""
    from csm_desktop.engine.checkpoint import checkpoint_name_map, half_to_interleaved
    from csm_desktop.engine.config import parse_config

    cfg_t = parse_config(config)
    cfg_o = type(cfg_t)(**{**cfg_t.__dict__, "layout": "original"})
    hf_names, orig_names = checkpoint_name_map(cfg_t), checkpoint_name_map(cfg_o)
    out = {}
    for ours, hf_name in hf_names.items():
        t = tensors[hf_name]
        if ours.endswith(("attn.q", "attn.k")):
            part = cfg_t.backbone if ours.startswith("backbone") else cfg_t.decoder
            t = half_to_interleaved(t, part.num_heads if ours.endswith("q") else part.num_kv_heads)
        out[orig_names[ours]] = t.contiguous()
    return out


def build_sesame_repo(model, tok, folder: Path) -> Path:
    """The files of the hub repository ``sesame/csm-1b``, at a tiny size."""
    from safetensors.torch import load_file, save_file
    from transformers import EncodecFeatureExtractor

    folder.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / (folder.name + ".staging")
    model.save_pretrained(staging)
    size = (staging / "model.safetensors").stat().st_size
    model.save_pretrained(staging, max_shard_size=int(size * 0.6))  # two shards, like the real one
    index = json.loads((staging / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) == 2, shards
    renamed = {s: s.replace("model-", "transformers-") for s in shards}
    per_shard = {s: load_file(staging / s) for s in shards}
    tensors_all = {k: v for tensors in per_shard.values() for k, v in tensors.items()}
    # The real shards hold both tied audio embeddings; save_pretrained keeps one.
    tied = "backbone_model.embed_tokens.embed_audio_tokens.weight"
    per_shard[shards[1]][tied] = tensors_all[tied] = tensors_all["depth_decoder.model.embed_tokens.weight"].clone()
    for old, new in renamed.items():
        save_file(per_shard[old], folder / new, metadata={"format": "pt"})
    weight_map = {k: renamed[v] for k, v in index["weight_map"].items()}
    weight_map[tied] = renamed[shards[1]]
    (folder / "transformers.safetensors.index.json").write_text(
        json.dumps({"metadata": index["metadata"], "weight_map": weight_map}, indent=2))

    config = json.loads((staging / "config.json").read_text())
    config["transformers_weights"] = "transformers.safetensors.index.json"
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "generation_config.json").write_text((staging / "generation_config.json").read_text())

    original = _original_layout(tensors_all, config)
    save_file(original, folder / "model.safetensors", metadata={"format": "pt"})
    torch.save({"model": original}, folder / "ckpt.pt")

    tok.save_pretrained(folder)
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24_000).save_pretrained(folder)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n## CSM 1B (tiny test copy)\n")
    (folder / "prompts").mkdir(exist_ok=True)
    t = np.arange(24_000) / 24_000
    for name, freq in (("conversational_a.wav", 180.0), ("read_speech_a.wav", 120.0)):
        sf.write(folder / "prompts" / name, 0.2 * np.sin(2 * np.pi * freq * t), 24_000)
    for p in staging.iterdir():
        p.unlink()
    staging.rmdir()
    return folder
