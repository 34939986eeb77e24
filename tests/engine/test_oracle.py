"""Our engine against transformers' CsmForConditionalGeneration on the same tiny weights."""

from __future__ import annotations

import pytest
import torch

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.testing import make_tiny_checkpoint, transformers_inputs

transformers = pytest.importorskip("transformers")

CONTEXT_TEXT = "Hey, how are you doing?"
LINE_TEXT = "Pretty good, pretty good."
FRAMES = 8
INVALID = [2048, 2049, 2050]  # Mimi cannot decode these; our engine never samples them


def _pair(tmp_path, seed):
    ours = load_csm_1b("cpu", model=make_tiny_checkpoint(tmp_path / "orig", seed=seed))
    hf_folder = make_tiny_checkpoint(tmp_path / "hf", seed=seed, format="transformers")
    hf = transformers.CsmForConditionalGeneration.from_pretrained(hf_folder, dtype=torch.float32).eval()
    return ours, hf


def _context(gen, seed):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(gen.codec.frame_size * 6, generator=g) * 0.1
    return audio, gen.encode_audio(audio)


def _hf_generate(hf, ours, audio, codes):
    return hf.generate(
        **transformers_inputs(hf, ours, CONTEXT_TEXT, audio, codes, LINE_TEXT),
        max_new_tokens=FRAMES,
        do_sample=False,
        depth_decoder_do_sample=False,
        suppress_tokens=INVALID,
        depth_decoder_suppress_tokens=INVALID,
        return_dict_in_generate=True,
        output_logits=True,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_codes_and_logits_match_transformers(tmp_path, seed):
    ours, hf = _pair(tmp_path, seed)
    audio, codes = _context(ours, seed)
    context = [Segment(speaker=0, text=CONTEXT_TEXT, audio=audio)]

    expected = _hf_generate(hf, ours, audio, codes)
    got = ours.generate_codes(LINE_TEXT, 1, context, max_audio_length_ms=FRAMES * 80, topk=1)

    assert got.shape == (32, FRAMES)
    assert torch.equal(got, expected.sequences[0].T), "greedy codes differ from transformers"

    # Backbone logits for every frame, teacher-forced with the shared codes.
    model = ours.model
    tokens, mask = ours.build_prompt(LINE_TEXT, 1, context)
    with torch.inference_mode():
        h = model.backbone_step(model.embed_prompt(tokens[None], mask[None]), torch.arange(len(tokens)), len(tokens))
        for i in range(FRAMES):
            logits = model.codebook0_head(h)[0]
            torch.testing.assert_close(logits, expected.logits[i][0], atol=1e-4, rtol=0)
            p = len(tokens) + i
            h = model.backbone_step(model.embed_frame(got[:, i][None]), torch.tensor([p]), p + 1)


@pytest.mark.parametrize("seed", [0, 3])
def test_depth_decoder_logits_match_transformers(tmp_path, seed):
    ours, hf = _pair(tmp_path, seed)
    model = ours.model
    g = torch.Generator().manual_seed(seed)
    last_h = torch.randn(1, model.cfg.backbone.embed_dim, generator=g)
    forced = torch.randint(0, 2048, (32,), generator=g)

    recorded = []

    def teacher(logits, codebook):
        recorded.append(logits[0])
        return forced[codebook : codebook + 1]

    with torch.inference_mode():
        model.decode_frame(last_h, teacher, 2048)
        hf_logits = hf.depth_decoder(
            input_ids=torch.cat([torch.zeros(1, dtype=torch.long), forced[:-1]])[None],
            backbone_last_hidden_state=last_h,
        ).logits[0]  # [31, V]: codebooks 1..31
    assert len(recorded) == 32
    for i in range(1, 32):
        torch.testing.assert_close(recorded[i], hf_logits[i - 1, :2048], atol=1e-4, rtol=0)


def test_both_layouts_give_identical_codes(tmp_path):
    orig = load_csm_1b("cpu", model=make_tiny_checkpoint(tmp_path / "o", seed=5))
    hf_layout = load_csm_1b("cpu", model=make_tiny_checkpoint(tmp_path / "t", seed=5, format="transformers"))
    audio, _ = _context(orig, 5)
    ctx = [Segment(0, CONTEXT_TEXT, audio=audio)]
    a = orig.generate_codes(LINE_TEXT, 1, ctx, max_audio_length_ms=800, topk=1)
    b = hf_layout.generate_codes(LINE_TEXT, 1, ctx, max_audio_length_ms=800, topk=1)
    assert torch.equal(a, b)
    # and with sampling, for the same seed
    a = orig.generate_codes(LINE_TEXT, 1, ctx, max_audio_length_ms=800, seed=11)
    b = hf_layout.generate_codes(LINE_TEXT, 1, ctx, max_audio_length_ms=800, seed=11)
    assert torch.equal(a, b)
