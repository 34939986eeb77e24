"""Cerebrium entry point: ``generate_audio`` runs CSM Desktop's engine on a serverless GPU.

Cerebrium calls ``generate_audio`` with the request's JSON fields as keyword arguments and
wraps the returned dict as ``{run_id, result, run_time_ms}``, the envelope ``csm-desktop
serve`` answers too. Secrets (dashboard): ``HF_TOKEN`` for the gated model; optional
``CSM_MODEL`` (default ``sesame/csm-1b``).
"""

from __future__ import annotations

import os

from csm_desktop.engine import load_csm_1b
from csm_desktop.services.remote import RequestError, handle_generate

# Loaded once per container, at import, so that a warm replica answers at once.
_engine = load_csm_1b(model=os.environ.get("CSM_MODEL", "sesame/csm-1b"), token=os.environ.get("HF_TOKEN"))


def generate_audio(text: str, speaker: int = 0, context: list | None = None, max_audio_length_ms: float = 10_000,
                   temperature: float = 0.9, topk: int = 50, seed: int | None = None) -> dict:
    payload = {"text": text, "speaker": speaker, "context": context or [], "max_audio_length_ms": max_audio_length_ms,
               "temperature": temperature, "topk": topk, "seed": seed}
    try:
        return handle_generate(_engine, payload)
    except RequestError as exc:
        return {"error": str(exc), "status": exc.status}
