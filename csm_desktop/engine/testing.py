"""Tiny CSM checkpoints with random weights, in the real file formats.

They load with ``load_csm_1b(model=path)`` like the real model, which makes the whole engine
testable without the 6 GB download. Their output is noise: config.json says so, and the app
tells the user.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from csm_desktop.engine.checkpoint import checkpoint_name_map, half_to_interleaved
from csm_desktop.engine.codec import MIMI_CONFIG_FILE, MIMI_FILE
from csm_desktop.engine.config import TEST_MODEL_MARKER, CsmModelConfig, RopeScaling, TransformerConfig

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]
TEXT_VOCAB = 512
NUM_CODEBOOKS = 32
AUDIO_VOCAB = 2051  # Mimi's 2048 codes plus CSM's three extra rows, as in CSM-1B
_ROPE = RopeScaling(32.0, 1.0, 4.0, 8192)

TINY_CONFIG = CsmModelConfig(
    backbone=TransformerConfig(num_layers=2, num_heads=4, num_kv_heads=2, embed_dim=64, intermediate_dim=128,
                               max_seq_len=2048, rope_scaling=_ROPE),
    decoder=TransformerConfig(num_layers=2, num_heads=4, num_kv_heads=2, embed_dim=32, intermediate_dim=64,
                              max_seq_len=2048, rope_scaling=_ROPE),
    text_vocab_size=TEXT_VOCAB,
    audio_vocab_size=AUDIO_VOCAB,
    audio_num_codebooks=NUM_CODEBOOKS,
    layout="original",
)

_CORPUS = [
    "Hey, how are you doing? Pretty good, pretty good. I'm great, so happy to be speaking to you.",
    "The quick brown fox jumps over the lazy dog. A line of dialogue, then another one.",
    "What time is it? It's almost noon. Let's get lunch! Sure, where should we go?",
    "[0] [1] [2] [3] Numbers 0123456789 and punctuation: , . ; ! ? ' \" - ( )",
]


def tiny_mimi_config() -> dict:
    """moshi's Mimi config at a tiny width: same frame rate, 32 codebooks of 2048 codes."""
    from moshi.models import loaders

    cfg = copy.deepcopy(loaders._mimi_config)
    cfg["seanet"].update(dimension=32, n_filters=4)
    cfg["transformer"].update(d_model=32, num_heads=2, num_layers=1, dim_feedforward=64,
                              input_dimension=32, output_dimensions=[32])
    cfg["quantizer"].update(dimension=16, n_q=NUM_CODEBOOKS, input_dimension=32, output_dimension=32)
    return cfg


def _tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer)
    return tok


def _random_weights(cfg: CsmModelConfig, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Weights in our pre-fusion names, Q/K in rotate-half order."""
    def normal(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def linear(out_dim, in_dim, gain=1.0):
        return normal(out_dim, in_dim, std=gain / in_dim**0.5)

    w: dict[str, torch.Tensor] = {}
    bdim, ddim, v = cfg.backbone.embed_dim, cfg.decoder.embed_dim, cfg.audio_vocab_size
    w["text_embeddings.weight"] = normal(cfg.text_vocab_size, bdim, std=1.0)
    w["audio_embeddings.weight"] = normal(v * cfg.audio_num_codebooks, bdim, std=1.0)
    w["projection.weight"] = linear(ddim, bdim)
    # Heads with a wide spread keep greedy choices far from ties.
    w["codebook0_head.weight"] = linear(v, bdim, gain=4.0)
    w["audio_head"] = normal(cfg.audio_num_codebooks - 1, ddim, v, std=4.0 / ddim**0.5)
    for part, t in (("backbone", cfg.backbone), ("decoder", cfg.decoder)):
        hd, dim = t.attn_head_dim, t.embed_dim
        w[f"{part}.norm.weight"] = 1 + normal(dim, std=0.1)
        for i in range(t.num_layers):
            p = f"{part}.layers.{i}"
            w[f"{p}.attn_norm.weight"] = 1 + normal(dim, std=0.1)
            w[f"{p}.mlp_norm.weight"] = 1 + normal(dim, std=0.1)
            w[f"{p}.attn.q"] = linear(t.num_heads * hd, dim)
            w[f"{p}.attn.k"] = linear(t.num_kv_heads * hd, dim)
            w[f"{p}.attn.v"] = linear(t.num_kv_heads * hd, dim)
            w[f"{p}.attn.wo.weight"] = linear(dim, t.num_heads * hd)
            w[f"{p}.mlp.gate"] = linear(t.intermediate_dim, dim)
            w[f"{p}.mlp.up"] = linear(t.intermediate_dim, dim)
            w[f"{p}.mlp.w2.weight"] = linear(dim, t.intermediate_dim)
    return w


def _hf_transformer(t: TransformerConfig, max_positions: int) -> dict:
    r = t.rope_scaling
    return {
        "hidden_size": t.embed_dim,
        "intermediate_size": t.intermediate_dim,
        "num_hidden_layers": t.num_layers,
        "num_attention_heads": t.num_heads,
        "num_key_value_heads": t.num_kv_heads,
        "max_position_embeddings": max_positions,
        "rms_norm_eps": t.norm_eps,
        "rope_theta": t.rope_base,
        "rope_scaling": None if r is None else {
            "rope_type": "llama3", "factor": r.factor, "low_freq_factor": r.low_freq_factor,
            "high_freq_factor": r.high_freq_factor,
            "original_max_position_embeddings": r.original_max_position_embeddings,
        },
        "head_dim": t.attn_head_dim,
        "hidden_act": "silu",
    }


def _torchtune_args(t: TransformerConfig) -> dict:
    assert t.rope_scaling is not None
    return {
        "num_layers": t.num_layers, "num_heads": t.num_heads, "num_kv_heads": t.num_kv_heads,
        "embed_dim": t.embed_dim, "max_seq_len": t.max_seq_len, "intermediate_dim": t.intermediate_dim,
        "norm_eps": t.norm_eps, "rope_base": t.rope_base, "scale_factor": t.rope_scaling.factor,
    }


def _config_json(cfg: CsmModelConfig, fmt: str, tok) -> dict:
    note = {TEST_MODEL_MARKER: True, "_comment": "csm-desktop tiny test model: random weights, its output is noise"}
    if fmt == "original":
        return {
            "backbone_flavor": "tiny-backbone", "decoder_flavor": "tiny-decoder",
            "backbone_config": _torchtune_args(cfg.backbone), "decoder_config": _torchtune_args(cfg.decoder),
            "text_vocab_size": cfg.text_vocab_size, "audio_vocab_size": cfg.audio_vocab_size,
            "audio_num_codebooks": cfg.audio_num_codebooks, **note,
        }
    depth = _hf_transformer(cfg.decoder, cfg.audio_num_codebooks + 1)
    depth.update(model_type="csm_depth_decoder_model", num_codebooks=cfg.audio_num_codebooks,
                 backbone_hidden_size=cfg.backbone.embed_dim, vocab_size=cfg.audio_vocab_size)
    return {
        "architectures": ["CsmForConditionalGeneration"],
        "model_type": "csm",
        **_hf_transformer(cfg.backbone, cfg.backbone.max_seq_len),
        "num_codebooks": cfg.audio_num_codebooks,
        "vocab_size": cfg.audio_vocab_size,
        "text_vocab_size": cfg.text_vocab_size,
        "bos_token_id": tok.token_to_id("<|begin_of_text|>"),
        "pad_token_id": tok.token_to_id("<|AUDIO|>"),
        "audio_token_id": tok.token_to_id("<|AUDIO|>"),
        "audio_eos_token_id": tok.token_to_id("<|audio_eos|>"),
        "codebook_pad_token_id": cfg.audio_vocab_size - 1,
        "codebook_eos_token_id": 0,
        "tie_codebooks_embeddings": True,
        "depth_decoder_config": depth,
        # A small transformers Mimi so that transformers can instantiate the model quickly;
        # our engine uses mimi.safetensors (moshi's format) instead.
        "codec_config": {"model_type": "mimi", "hidden_size": 32, "num_filters": 4, "codebook_dim": 16,
                         "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
                         "intermediate_size": 64, "head_dim": 16, "num_quantizers": cfg.audio_num_codebooks,
                         "codebook_size": 2048, "upsample_groups": 32},
        **note,
    }


def _tiny_mimi_state(seed: int) -> dict[str, torch.Tensor]:
    from moshi.models import loaders
    from moshi.quantization.core_vq import EuclideanCodebook

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mimi = loaders.get_mimi(None, mimi_config=tiny_mimi_config(), device="cpu", num_codebooks=NUM_CODEBOOKS)
        # A fresh codebook is all zeros (it would encode everything to code 0): give it
        # random centroids, as a trained one has.
        for module in mimi.modules():
            if isinstance(module, EuclideanCodebook):
                module.embedding_sum.normal_()
                module.cluster_usage.fill_(1.0)
                module._initialized.fill_(1.0)
    return {k: v.detach().contiguous().clone() for k, v in mimi.state_dict().items()}


def make_tiny_checkpoint(path: str | Path, seed: int = 0, format: str = "original") -> Path:
    """Write a complete tiny model folder (config, weights, tokenizer, Mimi) and return it.

    Args:
        path: folder to create (or fill).
        seed: the same seed gives the same model in either format.
        format: ``"original"`` (Sesame's layout) or ``"transformers"`` (CsmConfig layout).
    """
    if format not in ("original", "transformers"):
        raise ValueError(f"format must be 'original' or 'transformers', not {format!r}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = TINY_CONFIG
    g = torch.Generator().manual_seed(seed)
    ours = _random_weights(cfg, g)
    layout_cfg = CsmModelConfig(**{**cfg.__dict__, "layout": format})
    names = checkpoint_name_map(layout_cfg)
    tensors = {}
    for name, tensor in ours.items():
        if format == "original" and name.endswith(("attn.q", "attn.k")):
            t = cfg.backbone if name.startswith("backbone") else cfg.decoder
            tensor = half_to_interleaved(tensor, t.num_heads if name.endswith("q") else t.num_kv_heads)
        tensors[names[name]] = tensor.contiguous()
    if format == "transformers":  # tied to the backbone's audio embeddings
        tensors["depth_decoder.model.embed_tokens.weight"] = ours["audio_embeddings.weight"].clone()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})

    tok = _tiny_tokenizer()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg.backbone.max_seq_len,
    }, indent=2))
    (folder / "config.json").write_text(json.dumps(_config_json(cfg, format, tok), indent=2))
    save_file(_tiny_mimi_state(seed), str(folder / MIMI_FILE))
    (folder / MIMI_CONFIG_FILE).write_text(json.dumps(tiny_mimi_config(), indent=2))
    return folder


class ContextCodesCodec(torch.nn.Module):
    """Stands in for transformers' codec in oracle comparisons: it hands back the codes our Mimi
    made for the context, so that both language models see identical audio tokens."""

    def __init__(self, codes: torch.Tensor, frame_size: int) -> None:
        super().__init__()
        self.codes, self.frame_size = codes, frame_size

    def encode(self, audio):
        import types

        return types.SimpleNamespace(audio_codes=self.codes[None])

    def get_audio_codes_mask(self, mask):
        frames = mask.sum(-1) // self.frame_size
        return torch.arange(self.codes.shape[1], device=mask.device)[None] < frames[:, None]


def transformers_inputs(hf, generator, context_text: str, audio: torch.Tensor, codes: torch.Tensor,
                        line_text: str, device="cpu", *, own_codec: bool = False) -> dict:
    """``CsmForConditionalGeneration.generate`` inputs for one context segment (speaker 0, with
    ``audio`` whose codes are ``codes``) and a line for speaker 1, tokenised as our engine does.
    Installs :class:`ContextCodesCodec` on ``hf`` unless ``own_codec`` (then transformers encodes
    the audio with the checkpoint's own Mimi)."""
    tok = generator.tokenizer
    ids = (tok.encode_segment(context_text, 0) + [hf.config.audio_token_id] * codes.shape[1]
           + [hf.config.audio_eos_token_id] + tok.encode_segment(line_text, 1))
    ids = torch.tensor([ids], device=device)
    if not own_codec:
        hf.codec_model = ContextCodesCodec(codes.to(device), generator.codec.frame_size)
    # attention_mask must be explicit: the audio placeholder id doubles as the pad id.
    return dict(input_ids=ids, attention_mask=torch.ones_like(ids), input_values=audio[None, None].to(device),
                input_values_cutoffs=torch.tensor([[audio.numel()]], device=device))
