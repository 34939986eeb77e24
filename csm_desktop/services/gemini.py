"""Gemini (google-genai): draft a dialogue script, transcribe a voice clip.

The API key comes from :mod:`credentials`; ``GOOGLE_GEMINI_BASE_URL`` points the client
elsewhere (a proxy, or the tests' fake server). Every failure becomes a :class:`GeminiError`
that says what to do, with the key scrubbed from it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from csm_desktop.dialogue.drafting import Draft, DraftError, check_request, clean_draft
from csm_desktop.errors import Cancelled, CsmError
from csm_desktop.services.credentials import get_secret, redact

DEFAULT_MODEL = "gemini-2.5-flash"
INLINE_LIMIT_BYTES = 15 * 1024 * 1024  # larger clips go through the files API
MAX_RETRY_AFTER_S = 60.0
KEY_HELP = (
    "Create a key at https://aistudio.google.com/apikey and add it in Settings > Credentials, "
    "or set the environment variable GOOGLE_API_KEY."
)

_SCRIPT_SCHEMA = {
    "type": "object",
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"speaker": {"type": "string"}, "text": {"type": "string"}},
                "required": ["speaker", "text"],
            },
        }
    },
    "required": ["lines"],
}
_AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mp3", ".ogg": "audio/ogg",
                ".opus": "audio/ogg", ".m4a": "audio/aac", ".aac": "audio/aac"}


class GeminiError(CsmError):
    """Gemini could not do what was asked."""


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(timeouts, other transport errors) of whichever HTTP library google-genai uses
    (httpx, or its fork httpx2)."""
    timeouts: list[type] = []
    transport: list[type] = []
    for name in ("httpx2", "httpx"):
        try:
            lib = __import__(name)
        except ImportError:
            continue
        timeouts.append(lib.TimeoutException)
        transport.append(lib.TransportError)
    return tuple(timeouts), tuple(transport)


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    header = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    if header:
        try:
            return float(header)
        except ValueError:
            pass
    details = json.dumps(getattr(exc, "details", None) or {})
    match = re.search(r'"retryDelay":\s*"([\d.]+)s"', details)
    return float(match.group(1)) if match else None


class GeminiClient:
    def __init__(self, api_key: str | None = None, model: str = DEFAULT_MODEL, *, base_url: str | None = None,
                 timeout_s: float = 60.0) -> None:
        from google import genai
        from google.genai import types

        key = api_key or get_secret("google")
        if not key:
            raise GeminiError(f"No Google API key is set. {KEY_HELP}")
        self.model = model
        self._types = types
        self._client = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or None,
                timeout=int(timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    # ----- error handling ---------------------------------------------------------------------
    def _call(self, fn):
        """Run ``fn`` with our error mapping; a 429 is retried once after its retry-after delay."""
        from google.genai import errors

        timeouts, transport = _transport_errors()

        for attempt in (1, 2):
            try:
                return fn()
            except errors.APIError as exc:
                code, status = exc.code, str(exc.status or "")
                message = str(exc.message or "")
                if code == 429:
                    wait = _retry_after(exc)
                    if attempt == 1 and wait is not None and wait <= MAX_RETRY_AFTER_S:
                        time.sleep(wait)
                        continue
                    raise GeminiError("Gemini's quota for this key is used up for now. Wait a minute and try "
                                      "again, or check your plan at https://aistudio.google.com.") from None
                if code in (401, 403) or "API key" in message or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                    raise GeminiError(f"Gemini did not accept the API key. {KEY_HELP}") from None
                if code == 404:
                    raise GeminiError(f"Gemini has no model named {self.model!r}. Choose another model in Settings.") from None
                if code is not None and code >= 500:
                    raise GeminiError(f"Gemini had a server error (HTTP {code}). Try again in a moment.") from None
                raise GeminiError(redact(f"Gemini refused the request (HTTP {code}): {message}")) from None
            except timeouts:
                raise GeminiError("Gemini did not answer in time. Check your connection and try again.") from None
            except (*transport, OSError) as exc:
                raise GeminiError(redact(f"Gemini could not be reached ({type(exc).__name__}). "
                                         "Check your internet connection.")) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _text(response) -> str:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise GeminiError(f"Gemini declined this request for safety reasons ({feedback.block_reason}). "
                              "Rephrase it and try again.")
        candidates = getattr(response, "candidates", None) or []
        if candidates and str(getattr(candidates[0], "finish_reason", "")).endswith("SAFETY"):
            raise GeminiError("Gemini stopped its answer for safety reasons. Rephrase the request and try again.")
        text = getattr(response, "text", None)
        if not text or not text.strip():
            raise GeminiError("Gemini returned an empty answer. Try again.")
        return text.strip()

    # ----- features -----------------------------------------------------------------------------
    def draft_script(self, prompt: str, speakers: list[str] | None = None, *, max_lines: int = 30) -> str:
        """A dialogue in our script format (``Name: text`` lines), validated by our parser."""
        return self.draft(prompt, speakers, max_lines).text

    def draft(self, prompt: str, speakers: list[str] | None = None, lines: int = 12, *,
              should_stop: Callable[[], bool] | None = None) -> Draft:
        """A drafted dialogue of about ``lines`` lines, each parsed by the script parser; slips
        fixed and unusable lines left out (said in ``Draft.notes``, see dialogue/drafting.py). An
        answer with nothing usable is asked for once more. ``should_stop`` is checked between
        requests (a request itself cannot be interrupted).

        Raises: DraftError: a bad request (no prompt, a name that cannot be a speaker);
        GeminiError: Gemini failed or twice answered with nothing usable; Cancelled: stopped.
        """
        prompt, speakers = check_request(prompt, list(speakers or []), lines)
        types = self._types
        who = ", ".join(speakers) if speakers else "two or three speakers with short first names"
        instruction = (
            "You write natural spoken dialogue for a text-to-speech engine. Return JSON: a list of lines, "
            f"each with a speaker and the words they say. Speakers: {who}. Exactly {lines} lines. "
            "Each text is one spoken utterance on a single line: no stage directions, no markdown, "
            "no speaker names inside the text."
        )
        config = types.GenerateContentConfig(system_instruction=instruction, response_mime_type="application/json",
                                             response_schema=_SCRIPT_SCHEMA, temperature=0.9)
        problem = ""
        for attempt in (1, 2):
            if should_stop is not None and should_stop():
                raise Cancelled()
            contents = prompt if attempt == 1 else f"{prompt}\n\nYour previous answer was unusable. {problem} Follow the format exactly."
            response = self._call(lambda: self._client.models.generate_content(model=self.model, contents=contents,
                                                                                config=config))
            try:
                return clean_draft(self._lines_from_json(self._text(response)), speakers, lines)
            except (ValueError, DraftError) as exc:
                problem = str(exc)
        raise GeminiError(f"Gemini twice returned a script that could not be used. {problem} Try again, or rephrase the "
                          "request.")

    @staticmethod
    def _lines_from_json(text: str) -> list:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("The answer was not JSON.") from None
        lines = data.get("lines") if isinstance(data, dict) else None
        if not isinstance(lines, list) or not lines:
            raise ValueError("The answer had no lines.")
        return lines

    def transcribe(self, path: str | Path) -> str:
        """Plain-text transcript of a voice clip (inline when small, uploaded when large)."""
        types = self._types
        path = Path(path)
        mime = _AUDIO_TYPES.get(path.suffix.lower(), "audio/wav")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise GeminiError(f"{path.name} could not be read ({exc}).") from None
        if size <= INLINE_LIMIT_BYTES:
            audio = types.Part.from_bytes(data=path.read_bytes(), mime_type=mime)
        else:
            uploaded = self._call(lambda: self._client.files.upload(file=str(path), config={"mime_type": mime}))
            audio = types.Part.from_uri(file_uri=uploaded.uri, mime_type=uploaded.mime_type or mime)
        ask = ("Transcribe the speech in this audio exactly as spoken. Return only the words, as plain text "
               "on one line, with normal punctuation. No labels, no timestamps, no descriptions of sounds.")
        response = self._call(lambda: self._client.models.generate_content(model=self.model, contents=[ask, audio]))
        return " ".join(self._text(response).split())
