"""The remote engine's wire format and request handlers, shared by ``csm-desktop serve``
(:mod:`csm_desktop.services.engine_server`), the Cerebrium deployment
(``packaging/cerebrium/main.py``) and the client (:mod:`csm_desktop.services.remote`).

Each function is ``POST {base}/{function}`` with a JSON body and a Bearer token; a plain answer
comes in Cerebrium's envelope ``{run_id, result, run_time_ms}``:

- ``health`` ``{}`` -> ``{status, protocol, model, sample_rate, frame_ms, max_seq_len, num_codebooks, codec}``
- ``encode_audio`` ``{audio_data}`` -> ``{codes, codec, frames}``: a voice clip's Mimi codes, so that
  the client sends each clip once and codes afterwards.
- ``generate_audio`` ``{text, speaker, context, max_audio_length_ms, temperature, topk, seed,
  return_codes}`` -> ``{audio_data, format: "wav", encoding: "base64", sample_rate,
  duration_seconds}`` plus ``{codes, codec}`` when ``return_codes``.
- ``stream_audio`` (same request) -> Server-Sent Events, one JSON object per ``data:`` line:
  ``{"type": "chunk", "audio": <base64 float32 little-endian>}`` as frames are decoded, then
  ``{"type": "done", codes, codec, sample_rate, duration_seconds}`` or
  ``{"type": "error", "error", "status_code"}``.

A context item is ``{speaker, text, audio_data}`` (base64 of any audio file: WAV, FLAC ...) or
``{speaker, text, codes, codec}`` (codes: base64 of little-endian uint16 ``[num_codebooks,
frames]``, row-major; ``codec`` names the Mimi weights that made them).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
import torch

from csm_desktop.audio import decode_audio
from csm_desktop.errors import AudioFileError, CsmError
from csm_desktop.redaction import redact

PROTOCOL = 2
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_TEXT_CHARS = 2_000
MAX_CONTEXT = 256
FUNCTIONS = ("health", "encode_audio", "generate_audio", "stream_audio")
CODEC_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class RequestError(Exception):
    """A request the handler refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ----- audio and codes on the wire ---------------------------------------------------------------
def encode_wav(audio: torch.Tensor, sample_rate: int, subtype: str = "FLOAT", format: str = "WAV") -> str:
    """Base64 of an audio file: 32-bit float WAV by default (lossless, what answers carry);
    ``format="FLAC", subtype="PCM_16"`` is the compact form for context audio."""
    buf = io.BytesIO()
    samples = audio.detach().cpu().float().numpy()
    if subtype != "FLOAT":
        samples = np.clip(samples, -1.0, 1.0)
    sf.write(buf, samples, sample_rate, format=format, subtype=subtype)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _b64(data: Any, name: str) -> bytes:
    if not isinstance(data, str):
        raise RequestError(422, f"'{name}' must be a base64 string.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"'{name}' is not base64-encoded.") from None


def decode_wav(data: Any, sample_rate: int, name: str = "audio_data") -> torch.Tensor:
    """Base64 audio (any format soundfile reads) -> mono float32 at ``sample_rate``."""
    raw = _b64(data, name)
    try:
        return decode_audio(io.BytesIO(raw), sample_rate, name)
    except AudioFileError as exc:
        raise RequestError(400, str(exc)) from None


def encode_codes(codes: torch.Tensor) -> str:
    """Codes ``[num_codebooks, frames]`` -> base64 of little-endian uint16, row-major."""
    array = codes.detach().to("cpu", torch.int32).numpy().astype("<u2")
    return base64.b64encode(array.tobytes()).decode("ascii")


def decode_codes(data: Any, num_codebooks: int, cardinality: int, max_frames: int, name: str = "codes") -> torch.Tensor:
    """The inverse of :func:`encode_codes`, with every value and the size checked."""
    raw = _b64(data, name)
    row = 2 * num_codebooks
    if not raw or len(raw) % row:
        raise RequestError(422, f"'{name}' must hold {num_codebooks} codes per frame (uint16).")
    frames = len(raw) // row
    if frames > max_frames:
        raise RequestError(422, f"'{name}' holds {frames} frames; at most {max_frames} fit the model.")
    array = np.frombuffer(raw, dtype="<u2").reshape(num_codebooks, frames)
    if int(array.max()) >= cardinality:
        raise RequestError(422, f"'{name}' holds a code past the codec's {cardinality} entries.")
    return torch.from_numpy(array.astype(np.int64))


def encode_pcm(chunk: torch.Tensor) -> str:
    return base64.b64encode(chunk.detach().cpu().float().numpy().astype("<f4").tobytes()).decode("ascii")


def decode_pcm(data: Any) -> torch.Tensor:
    raw = _b64(data, "audio")
    if len(raw) % 4:
        raise RequestError(422, "'audio' must hold float32 samples.")
    samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(samples).all():
        raise RequestError(422, "'audio' holds samples that are not numbers.")
    return torch.from_numpy(samples.copy())


# ----- what an engine offers the handlers ------------------------------------------------------
def engine_facts(engine) -> dict:
    """What the client needs to plan: the ``health`` answer (without the status)."""
    codec = getattr(engine, "codec", None)
    return {
        "protocol": PROTOCOL,
        "model": str(getattr(engine, "model_id", "")),
        "sample_rate": int(engine.sample_rate),
        "frame_ms": float(getattr(engine, "frame_ms", 80.0)),
        "max_seq_len": int(getattr(engine, "max_seq_len", 2048)),
        "num_codebooks": int(getattr(engine, "num_codebooks", 32)),
        "codec": getattr(engine, "codec_identity", None) if codec is not None else None,
        "test_model": bool(getattr(engine, "is_test_model", False)),
    }


def _cardinality(engine) -> int:
    return int(getattr(getattr(engine, "codec", None), "cardinality", 2048))


def _number(payload: dict, name: str, kind, default, low, high):
    value = payload.get(name, default)
    if value is None and default is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value))
            or (kind is int and int(value) != value)):
        raise RequestError(422, f"'{name}' must be a {'whole ' if kind is int else ''}number.")
    if not low <= value <= high:
        raise RequestError(422, f"'{name}' must be between {low} and {high}.")
    return kind(value)


@dataclass
class GenerateRequest:
    """A validated ``generate_audio`` / ``stream_audio`` request."""

    text: str
    speaker: int
    context: list = field(default_factory=list)  # Segments
    options: dict = field(default_factory=dict)  # max_audio_length_ms, temperature, topk, seed
    return_codes: bool = False


def _segment(engine, facts: dict, item: Any, i: int):
    from csm_desktop.engine.generator import Segment

    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise RequestError(422, f"context[{i}] must have 'speaker', 'text' and 'audio_data' or 'codes'.")
    if len(item["text"]) > MAX_TEXT_CHARS:
        raise RequestError(422, f"context[{i}].text is longer than {MAX_TEXT_CHARS} characters.")
    speaker = _number(item, "speaker", int, 0, 0, 1_000_000)
    if "codes" in item:
        if item.get("codec") != facts["codec"] or facts["codec"] is None:
            raise RequestError(409, f"context[{i}] holds codes of another codec ({str(item.get('codec'))[:64]!r}); "
                                    f"this engine's codec is {facts['codec']!r}. Send the audio instead.")
        codes = decode_codes(item["codes"], facts["num_codebooks"], _cardinality(engine), facts["max_seq_len"],
                             f"context[{i}].codes")
        return Segment(speaker=speaker, text=item["text"], codes=codes)
    if not isinstance(item.get("audio_data"), str):
        raise RequestError(422, f"context[{i}] must have 'speaker', 'text' and 'audio_data' or 'codes'.")
    return Segment(speaker=speaker, text=item["text"],
                   audio=decode_wav(item["audio_data"], engine.sample_rate, f"context[{i}].audio_data"))


def parse_generate(engine, payload: Any) -> GenerateRequest:
    """Validate a generation request; every refusal is a :class:`RequestError` with its status."""
    if not isinstance(payload, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RequestError(422, "'text' is required: the words to speak.")
    if len(text) > MAX_TEXT_CHARS:
        raise RequestError(422, f"'text' is longer than {MAX_TEXT_CHARS} characters; split it into lines.")
    speaker = _number(payload, "speaker", int, 0, 0, 1_000_000)
    context = payload.get("context") or []
    if not isinstance(context, list):
        raise RequestError(422, "'context' must be a list of {speaker, text, audio_data}.")
    if len(context) > MAX_CONTEXT:
        raise RequestError(422, f"'context' has {len(context)} items; at most {MAX_CONTEXT} are accepted.")
    return_codes = payload.get("return_codes", False)
    if not isinstance(return_codes, bool):
        raise RequestError(422, "'return_codes' must be true or false.")
    options = dict(
        max_audio_length_ms=_number(payload, "max_audio_length_ms", float, 10_000, 80, 90_000),
        temperature=_number(payload, "temperature", float, 0.9, 0.0, 5.0),
        topk=_number(payload, "topk", int, 50, 1, 100_000),
        seed=_number(payload, "seed", int, None, 0, 2**63 - 1),
    )
    facts = engine_facts(engine)
    segments = [_segment(engine, facts, item, i) for i, item in enumerate(context)]
    return GenerateRequest(text, speaker, segments, options, return_codes)


# ----- handlers --------------------------------------------------------------------------------
def handle_health(engine) -> dict:
    return {"status": "ok", **engine_facts(engine)}


def handle_encode(engine, payload: Any) -> dict:
    """A voice clip -> its Mimi codes (the client caches them and sends codes from then on)."""
    if not isinstance(payload, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    facts = engine_facts(engine)
    if facts["codec"] is None or not hasattr(engine, "encode_audio"):
        raise RequestError(501, "This engine cannot encode audio; send context as audio_data.")
    audio = decode_wav(payload.get("audio_data"), engine.sample_rate)
    max_s = facts["max_seq_len"] * facts["frame_ms"] / 1000
    if audio.numel() / engine.sample_rate > max_s:
        raise RequestError(422, f"The clip is longer than the model's {max_s:.0f} s.")
    try:
        codes = engine.encode_audio(audio).cpu()
    except CsmError as exc:
        raise RequestError(422, str(exc)) from None
    return {"codes": encode_codes(codes), "codec": facts["codec"], "frames": int(codes.shape[-1])}


def _with_codes(result: dict, engine, codes: torch.Tensor | None) -> dict:
    if codes is not None:
        result.update(codes=encode_codes(codes), codec=engine_facts(engine)["codec"])
    return result


def handle_generate(engine, payload: Any) -> dict:
    """Validate a request, generate, and return the ``result`` object (audio as base64 WAV)."""
    request = parse_generate(engine, payload)
    codes = None
    try:
        if request.return_codes and hasattr(engine, "generate_codes") and hasattr(engine, "decode_codes"):
            codes = engine.generate_codes(request.text, request.speaker, request.context, **request.options)
            audio = engine.decode_codes(codes)
        else:
            audio = engine.generate(request.text, request.speaker, request.context, **request.options)
    except CsmError as exc:
        raise RequestError(422, str(exc)) from None
    result = {"audio_data": encode_wav(audio, engine.sample_rate), "format": "wav", "encoding": "base64",
              "sample_rate": engine.sample_rate, "duration_seconds": round(audio.numel() / engine.sample_rate, 3)}
    return _with_codes(result, engine, codes)


def stream_events(engine, request: GenerateRequest) -> Iterator[dict]:
    """The events of ``stream_audio`` for a validated request. Closing the iterator stops the
    generation within a frame (the client went away)."""
    samples = 0
    frames: list[torch.Tensor] = []
    try:
        if hasattr(engine, "stream_frames"):
            pairs = engine.stream_frames(request.text, request.speaker, request.context, **request.options)
        else:
            pairs = ((None, chunk) for chunk in
                     engine.stream(request.text, request.speaker, request.context, **request.options))
        try:
            for frame, chunk in pairs:
                if frame is not None:
                    frames.append(frame)
                samples += chunk.numel()
                yield {"type": "chunk", "audio": encode_pcm(chunk)}
        finally:
            close = getattr(pairs, "close", None)
            if close is not None:
                close()
    except CsmError as exc:
        yield {"type": "error", "error": redact(str(exc)), "status_code": 422}
        return
    codes = torch.stack(frames, dim=1).cpu() if frames and request.return_codes else None
    yield _with_codes({"type": "done", "sample_rate": engine.sample_rate,
                       "duration_seconds": round(samples / engine.sample_rate, 3)}, engine, codes)


def sse(event: dict) -> bytes:
    """One Server-Sent Event carrying a JSON object."""
    return f"data: {json.dumps(event)}\n\n".encode()
