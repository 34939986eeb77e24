"""Mimi in pieces: MPS before macOS 15.1 refuses a convolution output over 65536 samples, so
long audio is encoded and decoded in pieces that must give the whole call's result; and context
audio is never encoded inside the decoder's streaming block."""

from __future__ import annotations

import pytest
import torch

from csm_desktop.engine import Segment
from csm_desktop.engine.codec import MimiCodec


@pytest.fixture
def codec(tiny_generator):
    codec = tiny_generator.codec
    yield codec
    codec.max_call_frames = None


def test_mps_codec_calls_stay_under_the_mps_convolution_limit(codec):
    on_mps = MimiCodec(codec.mimi, torch.device("mps"), "x")  # nothing moves: the device is only read
    assert on_mps.max_call_frames is not None
    assert on_mps.max_call_frames * on_mps.frame_size <= 1 << 16
    assert MimiCodec(codec.mimi, torch.device("cpu"), "x").max_call_frames is None


def test_decoding_in_pieces_gives_the_whole_decode(codec, monkeypatch):
    codes = torch.randint(0, codec.cardinality, (codec.num_codebooks, 13))
    whole = codec.decode(codes)
    calls = []
    decode = codec.mimi.decode
    monkeypatch.setattr(codec.mimi, "decode", lambda c: calls.append(c.shape[-1]) or decode(c))
    codec.max_call_frames = 4
    pieces = codec.decode(codes)
    assert calls == [4, 4, 4, 1]
    assert pieces.shape == whole.shape
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=0)


def test_encoding_in_pieces_gives_the_whole_encode(codec, speech, monkeypatch):
    """Compared before quantising: the tiny test Mimi's random codebooks give one code for
    everything, so equal codes alone would prove nothing."""
    audio = torch.from_numpy(speech["line"][: codec.frame_size * 11 + 100])
    latents, lengths = [], []
    quantize = codec.mimi.quantizer.encode
    monkeypatch.setattr(codec.mimi.quantizer, "encode", lambda emb: latents.append(emb.clone()) or quantize(emb))
    whole_codes = codec.encode(audio)
    whole = latents.pop()
    encode = codec.mimi.encode
    monkeypatch.setattr(codec.mimi, "encode", lambda x: lengths.append(x.shape[-1]) or encode(x))
    codec.max_call_frames = 4
    codes = codec.encode(audio)
    assert lengths == [4 * codec.frame_size] * 3
    assert torch.equal(codes, whole_codes) and codes.shape[-1] == 12
    torch.testing.assert_close(torch.cat(latents, -1), whole, atol=1e-5, rtol=0)
    assert not codec.mimi.is_streaming


def test_stream_encodes_context_audio_before_mimi_streams(tiny_generator, speech, monkeypatch):
    gen = tiny_generator
    streaming_at_encode = []
    encode = gen.codec.encode
    monkeypatch.setattr(gen.codec, "encode",
                        lambda audio: streaming_at_encode.append(gen.codec.mimi.is_streaming) or encode(audio))
    clips = [torch.from_numpy(c[: gen.codec.frame_size * 6]) for c in speech["clips"][:2]]
    context = [Segment(0, "First clip.", audio=clips[0]), Segment(1, "Second clip.", audio=clips[1])]
    chunks = list(gen.stream("Hello there.", 0, context, max_audio_length_ms=400, seed=3))
    assert chunks
    assert streaming_at_encode == [False, False]
