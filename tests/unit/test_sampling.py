"""Graph-safe sampling: counter-based Gumbel noise and the top-k Gumbel-max pick."""

from __future__ import annotations

import math

import torch

from csm_desktop.engine.sampling import gumbel_noise, pick_codes, sampling_key


def _noise(key: int, pos: int, rows: int = 32, cols: int = 2048) -> torch.Tensor:
    return gumbel_noise(torch.tensor(key), torch.tensor([pos]), rows, cols)


def test_noise_is_a_function_of_key_and_position():
    a = _noise(123, 40)
    assert a.shape == (32, 2048) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, _noise(123, 40))
    assert not torch.equal(a, _noise(124, 40))
    assert not torch.equal(a, _noise(123, 41))


def test_noise_has_gumbel_statistics_and_no_correlation_between_frames():
    a, b = _noise(7, 100).flatten(), _noise(7, 101).flatten()  # 65,536 draws each
    euler_gamma, variance = 0.5772156649, math.pi**2 / 6
    assert abs(a.mean().item() - euler_gamma) < 0.03  # standard error 0.005
    assert abs(a.var().item() - variance) < 0.06
    r = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    assert abs(r) < 0.02
    shifted = torch.corrcoef(torch.stack([a[:-1], a[1:]]))[0, 1].item()  # neighbours within a frame
    assert abs(shifted) < 0.02


def test_pick_draws_from_the_tempered_top_k_distribution():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(40_000, 4)
    noise = _noise(99, 3, rows=40_000, cols=4)  # one independent draw per row
    for temperature in (1.0, 2.0):
        picks = pick_codes(logits, 3, torch.tensor(temperature), noise)
        freq = torch.bincount(picks, minlength=4).float() / picks.numel()
        expected = probs[:3] ** (1 / temperature)
        expected = torch.cat([expected / expected.sum(), torch.zeros(1)])
        assert freq[3] == 0, "a code outside the top k was drawn"
        torch.testing.assert_close(freq, expected, atol=0.01, rtol=0)


def test_greedy_ignores_noise():
    logits = torch.tensor([[0.1, 2.0, 1.9], [3.0, 0.0, 2.9]])
    noise = torch.tensor([[5.0, 0.0, 5.0], [0.0, 0.0, 9.0]])
    assert pick_codes(logits, 1, 0.9, noise).tolist() == [1, 0]
    assert pick_codes(logits, 50, 0.9, None).tolist() == [1, 0]
    assert pick_codes(logits, 3, torch.tensor(0.9), noise).tolist() == [2, 2]


def test_sampling_keys():
    assert sampling_key(5) == sampling_key(5)
    assert len({sampling_key(5), sampling_key(6), sampling_key(5, attempt=1), sampling_key(2**40 + 5)}) == 4
    assert all(0 <= sampling_key(s) < 2**32 for s in (0, 1, 2**31, 2**63 - 1, -3))
    assert sampling_key(None) != sampling_key(None)  # fresh randomness (fails once in 2**32 runs)


def test_greedy_ties_go_to_the_lowest_index_whatever_argmax_does(monkeypatch):
    """argmax promises no order among equal values (MPS reduces in its own order): greedy picks
    must not depend on it. Here argmax is made to prefer the last of the tied values."""

    def last_of_ties(self, dim=None, keepdim=False):
        flipped = self.flip(dim)
        return self.shape[dim] - 1 - torch.max(flipped, dim=dim, keepdim=keepdim).indices

    monkeypatch.setattr(torch.Tensor, "argmax", last_of_ties)
    logits = torch.tensor([[0.0, 3.0, 1.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0, 9.0]])
    assert pick_codes(logits.half(), 1, 1.0, None).tolist() == [1, 0, 4]
    assert pick_codes(logits, 50, 1.0, None).tolist() == [1, 0, 4]  # no noise: greedy too
    nan_row = torch.tensor([[float("nan"), 1.0, 0.0]])
    assert 0 <= int(pick_codes(nan_row, 1, 1.0, None)) < 3  # never an id past the vocabulary
