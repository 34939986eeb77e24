"""The remote engine: one handler shared by ``csm-desktop serve`` (its HTTP server is
:mod:`csm_desktop.services.engine_server`) and the Cerebrium deployment, and
:class:`RemoteEngine`, the client the app renders with.

Request (``POST /generate_audio``, Bearer token)::

    {text, speaker, context: [{speaker, text, audio_data}], max_audio_length_ms, temperature, topk, seed}

Response, in Cerebrium's envelope::

    {run_id, result: {audio_data, format: "wav", encoding: "base64", sample_rate, duration_seconds}, run_time_ms}
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import soundfile as sf
import torch

from csm_desktop.audio import decode_audio
from csm_desktop.errors import AudioFileError, CsmError, NetworkError
from csm_desktop.redaction import redact, redact_url

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_TEXT_CHARS = 2_000


class RequestError(Exception):
    """A request the handler refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def encode_wav(audio: torch.Tensor, sample_rate: int) -> str:
    buf = io.BytesIO()
    sf.write(buf, audio.detach().cpu().numpy().astype(np.float32), sample_rate, format="WAV", subtype="FLOAT")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_wav(data: str, sample_rate: int) -> torch.Tensor:
    """Base64 audio (any format soundfile reads) -> mono float32 at ``sample_rate``."""
    try:
        return decode_audio(io.BytesIO(base64.b64decode(data, validate=True)), sample_rate, "audio_data")
    except (binascii.Error, ValueError):
        raise RequestError(400, "audio_data is not base64-encoded.") from None
    except AudioFileError as exc:
        raise RequestError(400, str(exc)) from None


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


def handle_generate(engine, payload: Any) -> dict:
    """Validate a request, generate, and return the ``result`` object (audio as base64 WAV)."""
    from csm_desktop.engine.generator import Segment

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
    segments = []
    for i, item in enumerate(context):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not isinstance(item.get("audio_data"), str):
            raise RequestError(422, f"context[{i}] must have 'speaker', 'text' and 'audio_data'.")
        segments.append(Segment(speaker=_number(item, "speaker", int, 0, 0, 1_000_000), text=item["text"],
                                audio=decode_wav(item["audio_data"], engine.sample_rate)))
    kwargs = dict(
        max_audio_length_ms=_number(payload, "max_audio_length_ms", float, 10_000, 80, 90_000),
        temperature=_number(payload, "temperature", float, 0.9, 0.0, 5.0),
        topk=_number(payload, "topk", int, 50, 1, 100_000),
        seed=_number(payload, "seed", int, None, 0, 2**63 - 1),
    )
    try:
        audio = engine.generate(text, speaker, segments, **kwargs)
    except CsmError as exc:
        raise RequestError(422, str(exc)) from None
    return {"audio_data": encode_wav(audio, engine.sample_rate), "format": "wav", "encoding": "base64",
            "sample_rate": engine.sample_rate, "duration_seconds": round(audio.numel() / engine.sample_rate, 3)}


class RemoteEngine:
    """A :class:`~csm_desktop.dialogue.render.SpeechEngine` that generates on a remote server
    (``csm-desktop serve`` or a Cerebrium deployment of ``packaging/cerebrium``)."""

    sample_rate = 24_000
    frame_ms = 80.0
    max_seq_len = 2048

    def __init__(self, url: str, token: str, timeout_s: float = 300.0) -> None:
        self.url = url.rstrip("/")
        if not self.url.endswith("/generate_audio"):
            self.url += "/generate_audio"
        self.token = token
        self.timeout_s = timeout_s
        self.model_id = f"remote:{redact_url(self.url)}"  # shown in the status bar

    def text_positions(self, text: str, speaker: int) -> int:
        # No tokenizer here: a conservative bound (Llama-3 averages ~4 characters a token).
        return len(f"[{speaker}]{text}".encode("utf-8")) // 2 + 2

    def _post(self, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except (ValueError, AttributeError):
                detail = ""
            if exc.code in (401, 403):
                raise NetworkError("The remote engine refused the token. Check the URL and the token in Settings.") from None
            if exc.code == 503:
                raise NetworkError("The remote engine is busy. Try again in a moment.") from None
            raise NetworkError(redact(f"The remote engine answered HTTP {exc.code}: {detail or exc.reason}")) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(f"The remote engine at {redact_url(self.url)} could not be reached ({reason}). "
                               "Check the URL and your connection.") from None
        except ValueError:
            raise NetworkError("The remote engine sent an answer that is not JSON. Is the URL right?") from None

    def generate(self, text: str, speaker: int, context: Sequence = (), max_audio_length_ms: float = 10_000,
                 temperature: float = 0.9, topk: int = 50, seed: int | None = None) -> torch.Tensor:
        payload = {
            "text": text, "speaker": speaker, "max_audio_length_ms": max_audio_length_ms,
            "temperature": temperature, "topk": topk, "seed": seed,
            "context": [{"speaker": s.speaker, "text": s.text, "audio_data": encode_wav(s.audio, self.sample_rate)}
                        for s in context],
        }
        if any(s.audio is None for s in context):
            raise CsmError("The remote engine needs the audio of every context segment.")
        answer = self._post(payload)
        result = answer.get("result", answer) if isinstance(answer, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("audio_data"), str):
            raise NetworkError("The remote engine's answer has no audio_data.")
        try:
            return decode_wav(result["audio_data"], self.sample_rate)
        except RequestError:
            raise NetworkError("The remote engine sent audio that cannot be decoded.") from None

    def stream(self, text: str, speaker: int, context: Sequence = (), max_audio_length_ms: float = 10_000,
               temperature: float = 0.9, topk: int = 50, seed: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[torch.Tensor]:
        """The whole line arrives at once; it is yielded in 80 ms chunks like the local engine's."""
        if should_stop is not None and should_stop():
            return
        audio = self.generate(text, speaker, context, max_audio_length_ms, temperature, topk, seed)
        size = int(self.sample_rate * self.frame_ms / 1000)
        for start in range(0, audio.numel(), size):
            if should_stop is not None and should_stop():
                return
            yield audio[start : start + size]
