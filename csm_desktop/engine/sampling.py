"""Top-k sampling without host synchronisation."""

from __future__ import annotations

import torch


def sample_topk(
    logits: torch.Tensor, topk: int, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Sample ids ``[B]`` from logits ``[B, V]``; ``topk=1`` (or temperature 0) is greedy.

    Uses the exponential-race trick (argmax of p / Exp(1)) instead of ``torch.multinomial``,
    which would synchronise with the host.
    """
    if topk <= 1 or temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    kth = torch.topk(logits, min(topk, logits.shape[-1]), dim=-1).values[..., -1:]
    probs = torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
    race = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.argmax(probs / race, dim=-1)
