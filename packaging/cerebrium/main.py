"""Cerebrium entry point: CSM Desktop's engine on a serverless GPU.

Cerebrium's default runtime calls each function below with the request's JSON fields as keyword
arguments and wraps a returned dict as ``{run_id, result, run_time_ms}`` (the envelope
``csm-desktop serve`` answers too); a ``status_code`` key sets the HTTP status. A generator
function (``stream_audio``) is answered as Server-Sent Events, one ``data:`` line per yield.
The functions and their fields: :mod:`csm_desktop.services.remote_protocol`.

Secrets (``cerebrium secrets add``): ``HF_TOKEN`` for the gated model, ``DISABLE_REQUEST_LOGS=true``
and ``DISABLE_RESPONSE_LOGS=true`` so that users' voices are not logged; optional ``CSM_MODEL``.
"""

from __future__ import annotations

import json
import logging
import os

from csm_desktop.errors import CsmError
from csm_desktop.redaction import install as install_redaction, redact
from csm_desktop.services.models import load_csm_1b
from csm_desktop.services.remote_protocol import (
    RequestError,
    handle_encode,
    handle_generate,
    handle_health,
    parse_generate,
    stream_events,
)
from csm_desktop.settings import DEFAULT_MODEL

install_redaction()
log = logging.getLogger("csm-desktop")

# Loaded once per replica, at import (deployment_initialization_timeout in cerebrium.toml covers
# the first download into /persistent-storage), so that a warm replica answers at once.
_engine = load_csm_1b(model=os.environ.get("CSM_MODEL") or DEFAULT_MODEL, token=os.environ.get("HF_TOKEN"))


def _answer(handler, *args) -> dict:
    try:
        return handler(_engine, *args)
    except RequestError as exc:
        return {"error": str(exc), "status_code": exc.status}
    except CsmError as exc:
        return {"error": redact(str(exc)), "status_code": 422}
    except Exception as exc:  # a message without the traceback's locals (they hold the request)
        message = redact(f"Generation failed: {type(exc).__name__}: {exc}")
        log.warning(message)
        return {"error": message, "status_code": 500}


def health() -> dict:
    """What the app asks first: the model's facts. Also wakes a cold deployment."""
    return handle_health(_engine)


def encode_audio(audio_data: str = "") -> dict:
    """A voice clip's Mimi codes, so that the app sends each clip once."""
    return _answer(lambda engine, data: handle_encode(engine, {"audio_data": data}), audio_data)


def generate_audio(text: str = "", speaker: int = 0, context: list | None = None, max_audio_length_ms: float = 10_000,
                   temperature: float = 0.9, topk: int = 50, seed: int | None = None,
                   return_codes: bool = False) -> dict:
    """The whole line at once (the seed's endpoint; a plain ``requests.post`` still works)."""
    payload = {"text": text, "speaker": speaker, "context": context or [], "max_audio_length_ms": max_audio_length_ms,
               "temperature": temperature, "topk": topk, "seed": seed, "return_codes": return_codes}
    return _answer(handle_generate, payload)


def stream_audio(text: str = "", speaker: int = 0, context: list | None = None, max_audio_length_ms: float = 10_000,
                 temperature: float = 0.9, topk: int = 50, seed: int | None = None, return_codes: bool = False):
    """The line as Server-Sent Events, one chunk per decoded 80 ms frame."""
    payload = {"text": text, "speaker": speaker, "context": context or [], "max_audio_length_ms": max_audio_length_ms,
               "temperature": temperature, "topk": topk, "seed": seed, "return_codes": return_codes}
    try:
        request = parse_generate(_engine, payload)
    except RequestError as exc:
        yield json.dumps({"type": "error", "error": str(exc), "status_code": exc.status})
        return
    try:
        for event in stream_events(_engine, request):
            yield json.dumps(event)
    except Exception as exc:
        message = redact(f"Generation failed: {type(exc).__name__}: {exc}")
        log.warning(message)
        yield json.dumps({"type": "error", "error": message, "status_code": 500})
