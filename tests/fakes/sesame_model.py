"""Sesame's own CSM model structure (``models.py`` of SesameAILabs/csm) built from torchtune's
Llama-3.2 modules at a tiny size: its ``state_dict`` is the original checkpoint layout, names
and RoPE order as Sesame's tools write them."""

from __future__ import annotations

import torch
from torch import nn

TINY_BACKBONE = dict(num_layers=2, num_heads=4, num_kv_heads=2, embed_dim=64, max_seq_len=2048,
                     intermediate_dim=128, norm_eps=1e-5, rope_base=500_000, scale_factor=32)
TINY_DECODER = dict(num_layers=2, num_heads=4, num_kv_heads=2, embed_dim=32, max_seq_len=2048,
                    intermediate_dim=64, norm_eps=1e-5, rope_base=500_000, scale_factor=32)


def _transformer(args: dict) -> nn.Module:
    """As Sesame's ``_prepare_transformer``: no token embedding, no output head."""
    from torchtune.models.llama3_2 import llama3_2

    model = llama3_2(vocab_size=128_256, **args)
    model.tok_embeddings = nn.Identity()
    model.output = nn.Identity()
    return model


class SesameModel(nn.Module):
    def __init__(self, text_vocab_size: int = 512, audio_vocab_size: int = 2051, audio_num_codebooks: int = 32):
        super().__init__()
        self.backbone = _transformer(TINY_BACKBONE)
        self.decoder = _transformer(TINY_DECODER)
        bdim, ddim = TINY_BACKBONE["embed_dim"], TINY_DECODER["embed_dim"]
        self.text_embeddings = nn.Embedding(text_vocab_size, bdim)
        self.audio_embeddings = nn.Embedding(audio_vocab_size * audio_num_codebooks, bdim)
        self.projection = nn.Linear(bdim, ddim, bias=False)
        self.codebook0_head = nn.Linear(bdim, audio_vocab_size, bias=False)
        self.audio_head = nn.Parameter(torch.randn(audio_num_codebooks - 1, ddim, audio_vocab_size) * ddim**-0.5)
        self.config = {"backbone_flavor": "tiny", "decoder_flavor": "tiny",
                       "backbone_config": TINY_BACKBONE, "decoder_config": TINY_DECODER,
                       "text_vocab_size": text_vocab_size, "audio_vocab_size": audio_vocab_size,
                       "audio_num_codebooks": audio_num_codebooks}


def tiny_sesame_model(seed: int = 0) -> SesameModel:
    torch.manual_seed(seed)
    model = SesameModel().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".scale"):  # norms start at one: make each distinguishable
                p.add_(torch.randn_like(p) * 0.2)
    return model
