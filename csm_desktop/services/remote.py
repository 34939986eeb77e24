""":class:`RemoteEngine`: a :class:`~csm_desktop.dialogue.render.SpeechEngine` that generates on
``csm-desktop serve`` or a Cerebrium deployment of ``packaging/cerebrium`` (the wire format is
:mod:`csm_desktop.services.remote_protocol`).

Built for a serverless GPU: the first call may wait minutes while a replica boots (the wait is
announced, bounded by the deployment's grace period, and Stop interrupts it); 429/502/503
are retried with backoff, honouring ``Retry-After``, but only once the earlier attempt has
ended (a timed-out or broken exchange may still be running remotely, so it is never repeated;
a line that hit the time limit, 504, is not run again);
audio streams back as it is generated; voice clips and earlier lines go up as Mimi codes.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Sequence
from email.utils import parsedate_to_datetime

import torch

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.errors import CsmError, GenerationCancelled, NetworkError
from csm_desktop.redaction import redact, redact_url
from csm_desktop.services.remote_protocol import (
    CODEC_NAME,
    FUNCTIONS,
    MAX_BODY_BYTES,
    RequestError,
    decode_codes,
    decode_pcm,
    decode_wav,
    encode_codes,
    encode_wav,
)

# Cerebrium's response_grace_period in packaging/cerebrium/cerebrium.toml: how long a request may
# take there, first boot included, so the client waits as long.
DEFAULT_TIMEOUT_S = 900.0
CONNECT_TIMEOUT_S = 30.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
ATTEMPTS = 6
MAX_WAIT_S = 120.0
COLD_START_NOTICE_S = 3.0
COLD_START = "Starting a remote GPU (this can take a few minutes) …"
MAX_EVENT_BYTES = 16 * 1024 * 1024
_EOL = re.compile(rb"\r\n|\r|\n")
MAX_ANSWER_BYTES = 4 * MAX_BODY_BYTES


def base_url(url: str) -> str:
    """The deployment's base URL from what a user pastes: the base itself, or any function's URL
    (``…/generate_audio``, as the seed's README had it)."""
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CsmError(f"{redact_url(url)!r} is not a web address. The remote URL looks like "
                       "https://api.cerebrium.ai/v4/p-xxxxxxxx/csm-desktop (or http://127.0.0.1:8000 for serve).")
    head, _, last = url.rpartition("/")
    return head if last in FUNCTIONS and urllib.parse.urlsplit(head).netloc else url


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(MAX_WAIT_S, max(0.0, seconds)) if seconds == seconds else None


def _detail(raw: bytes) -> str:
    """The error message in an error answer: ``{error}``, or Cerebrium's ``{result: {error}}``."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return raw[:200].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        for holder in (body, body.get("result")):
            if isinstance(holder, dict):
                for name in ("error", "message", "detail"):
                    if isinstance(holder.get(name), str):
                        return holder[name][:500]
    return ""


class _Watch:
    """Interrupts a blocking exchange when ``should_stop()`` turns true (the socket is shut down,
    so a read waiting on a cold start returns at once), and announces a slow first answer. A
    Stop seen before the socket exists shuts it down the moment it is attached."""

    def __init__(self, sock: socket.socket | None, should_stop, notice: Callable[[], None] | None) -> None:
        self.stopped = False
        self._lock = threading.Lock()
        self._sock = sock  # http.client drops its own reference on Connection: close
        self._should_stop = should_stop
        self._notice = notice
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="csm-remote-watch", daemon=True)
        self._thread.start()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.stopped:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _run(self) -> None:
        start = time.monotonic()
        while not self._done.wait(0.1):
            if self._notice is not None and time.monotonic() - start > COLD_START_NOTICE_S:
                notice, self._notice = self._notice, None
                notice()
            if self._should_stop is not None and self._should_stop():
                with self._lock:
                    self.stopped = True
                    if self._sock is not None:
                        self._shut(self._sock)
                return

    def close(self) -> None:
        self._done.set()
        self._thread.join()


class RemoteEngine:
    """Generates on a remote server. ``on_status(text)`` hears about cold starts and retries
    (from the calling thread or a helper thread; it must not block)."""

    frame_ms = 80.0
    max_seq_len = 2048
    sample_rate = SAMPLE_RATE
    context_from_codes = True  # earlier lines go up as the codes the server returned for them

    def __init__(self, url: str, token: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 on_status: Callable[[str], None] | None = None, attempts: int = ATTEMPTS,
                 use_codes: bool = True, use_stream: bool = True) -> None:
        self.url = base_url(url)
        self.token = token
        self.timeout_s = timeout_s
        self.on_status = on_status
        self.attempts = max(1, attempts)
        self.use_codes = use_codes
        self.use_stream = use_stream
        self.info: dict | None = None
        self._stale = False  # the server said its codec changed (409): ask health again
        self._model_id = f"remote:{redact_url(self.url)}"  # for a server that does not say its model
        self.last_codes: torch.Tensor | None = None  # codes of the last streamed line, when sent
        self.bytes_sent = 0
        self.requests = 0

    def clone(self) -> RemoteEngine:
        """Another client of the same deployment, already connected when this one is: one
        request stream each, for rendering scenes on several replicas at once."""
        twin = RemoteEngine(self.url, self.token, timeout_s=self.timeout_s, on_status=self.on_status,
                            attempts=self.attempts, use_codes=self.use_codes, use_stream=self.use_stream)
        if self.info is not None:
            twin._learn(dict(self.info))
            twin._model_id = self._model_id
        return twin

    # ----- connection -----------------------------------------------------------------------------
    def connect(self, should_stop: Callable[[], bool] | None = None) -> dict:
        """Ask ``health`` (which also wakes a cold deployment) and learn the model's facts, once.
        A server without ``health`` (the first protocol) is used as it is."""
        if self.info is None or self._stale:
            self._learn(self._health(should_stop))
        return self.info

    def reconnect(self, should_stop: Callable[[], bool] | None = None) -> dict:
        """Ask again (a render starts: wake the deployment, which may have changed model or
        codec); the facts known so far stay in place until the new ones arrive."""
        self._learn(self._health(should_stop))
        return self.info

    @property
    def connected(self) -> bool:
        """Whether the facts are known and current (so that :attr:`model_id` needs no network)."""
        return self.info is not None and not self._stale

    def _health(self, should_stop) -> dict:
        try:
            answer = self._json(self._call("health", {}, should_stop, announce=True))
        except _NoFunction:
            self._check_first_protocol(should_stop)
            return {"protocol": 1, "codec": None, "test_model": False, "model": "",
                    "sample_rate": SAMPLE_RATE, "frame_ms": 80.0, "max_seq_len": 2048, "num_codebooks": 32}
        facts = answer.get("result", answer)
        if not isinstance(facts, dict):
            raise NetworkError("The remote engine's health answer is not a JSON object. Is the URL right?")
        return self._checked_facts(facts)

    def _learn(self, info: dict) -> None:
        if info["model"]:
            self._model_id = f"remote:{info['model']}"
        self.sample_rate, self.frame_ms, self.max_seq_len = info["sample_rate"], info["frame_ms"], info["max_seq_len"]
        self.info = info
        self._stale = False

    def _check_first_protocol(self, should_stop) -> None:
        """No ``health``: a deployment of the first protocol, or a wrong URL (a typo in the app's
        name answers 404 too). An empty request tells them apart without generating anything."""
        try:
            self._call("generate_audio", {"text": ""}, should_stop, announce=True).read_all()
        except _NoFunction:
            raise  # no generate_audio either: the URL is wrong
        except CsmError:
            pass  # answered (refused as a request, or failed on it): generate_audio is there

    @staticmethod
    def _checked_facts(facts: dict) -> dict:
        def number(name, kind, low, high, default):
            value = facts.get(name, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise NetworkError(f"The remote engine reported an impossible {name} ({str(value)[:40]}).")
            return kind(value)

        codec = facts.get("codec")
        model = facts.get("model")
        return {
            "protocol": number("protocol", int, 1, 1_000, 1),
            "model": model[:200] if isinstance(model, str) else "",
            "sample_rate": number("sample_rate", int, 8_000, 192_000, SAMPLE_RATE),
            "frame_ms": number("frame_ms", float, 1, 1_000, 80.0),
            "max_seq_len": number("max_seq_len", int, 16, 1_000_000, 2048),
            "num_codebooks": number("num_codebooks", int, 1, 256, 32),
            "codec": codec if isinstance(codec, str) and CODEC_NAME.fullmatch(codec) else None,
            "test_model": facts.get("test_model") is True,
        }

    @property
    def is_test_model(self) -> bool:
        """Whether the server runs the tiny test model (noise), as far as it said."""
        return bool(self.info and self.info.get("test_model"))

    @property
    def model_id(self) -> str:
        """``remote:<the server's model>``: part of every take's key, so it is learnt (with a
        :meth:`connect`) before it is first given out, and the same from any URL of the model."""
        self.connect()
        return self._model_id

    @property
    def codec_identity(self) -> str | None:
        """The server's Mimi weights, once connected and when it takes codes (else None)."""
        if not self.use_codes or self.info is None or self.info["protocol"] < 2:
            return None
        return self.info["codec"]

    def text_positions(self, text: str, speaker: int) -> int:
        # No tokenizer here: a conservative bound (Llama-3 averages ~4 characters a token).
        return len(f"[{speaker}]{text}".encode("utf-8")) // 2 + 2

    # ----- HTTP -----------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S)

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    def _call(self, function: str, payload: dict, should_stop=None, accept: str = "application/json",
              announce: bool = False):
        """POST one function; returns the open response of a 2xx answer (the caller reads and
        closes it). Retries what :meth:`_retryable` allows after waiting; maps the other errors to
        messages.
        ``announce``: a first answer slower than a few seconds is a cold start (said so)."""
        body = json.dumps(payload).encode()
        path = urllib.parse.urlsplit(self.url).path + "/" + function
        for attempt in range(1, self.attempts + 1):
            if should_stop is not None and should_stop():
                raise GenerationCancelled("Stopped while waiting for the remote engine.")
            conn = self._connection()
            watch = _Watch(None, should_stop, (lambda: self._status(COLD_START)) if announce else None)
            try:
                response, sock = self._exchange(conn, watch, path, body, accept)
                if response.status < 300:
                    return _Response(conn, sock, response, should_stop)
                try:
                    raw = response.read(64 * 1024)
                except (OSError, http.client.HTTPException):
                    raw = b""  # the status says enough
                finally:
                    response.close()
                    conn.close()
                if watch.stopped:
                    raise GenerationCancelled("Stopped while waiting for the remote engine.")
            finally:
                watch.close()
            if self._retryable(function, response.status) and attempt < self.attempts:
                wait = _retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = min(MAX_WAIT_S, 2.0 ** (attempt - 1)) * (0.75 + 0.5 * random.random())
                self._status(f"The remote engine is busy (HTTP {response.status}); trying again in "
                             f"{wait:.0f} s (attempt {attempt + 1} of {self.attempts}) …")
                self._sleep(wait, should_stop)
                continue
            self._refuse(function, response.status, _detail(raw))
        raise AssertionError("unreachable")

    def _exchange(self, conn: http.client.HTTPConnection, watch: _Watch, path: str, body: bytes, accept: str):
        """Connect, send, and wait for the answer's head; a Stop at any point ends it at once."""
        try:
            conn.connect()
        except OSError as exc:
            if watch.stopped:
                raise GenerationCancelled("Stopped while connecting to the remote engine.") from None
            if isinstance(exc, ssl.SSLError):
                raise NetworkError(f"The remote engine at {redact_url(self.url)} did not answer HTTPS "
                                   f"({exc.reason or exc}). If it is csm-desktop serve, its URL starts with "
                                   "http://.") from None
            raise NetworkError(f"The remote engine at {redact_url(self.url)} could not be reached "
                               f"({getattr(exc, 'reason', exc) or type(exc).__name__}). "
                               "Check the URL and your connection.") from None
        sock = conn.sock
        sock.settimeout(self.timeout_s)
        watch.attach(sock)
        if watch.stopped:  # pressed while connecting: nothing is sent
            conn.close()
            raise GenerationCancelled("Stopped while connecting to the remote engine.")
        try:
            conn.request("POST", path, body, {
                "Content-Type": "application/json", "Accept": accept, "Accept-Encoding": "identity",
                "Authorization": f"Bearer {self.token}"})
            self.bytes_sent += len(body)
            self.requests += 1
            return conn.getresponse(), sock
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if watch.stopped:
                raise GenerationCancelled("Stopped while waiting for the remote engine.") from None
            if isinstance(exc, TimeoutError):
                raise NetworkError(
                    f"The remote engine did not answer within {self.timeout_s:.0f} s. It may still be "
                    "starting or busy; try again in a few minutes.") from None
            # The request may be running remotely: sending it again could start it twice.
            raise NetworkError(f"The connection to the remote engine broke while it worked "
                               f"({type(exc).__name__}). Try again.") from None

    @staticmethod
    def _retryable(function: str, status: int) -> bool:
        """429 and 503 (nothing ran) and 502 (the replica went away: the line is lost, and the
        earlier attempt has ended) are tried again. 504 means the request ran into the time limit
        (response_grace_period): only a ``health`` call waiting out a cold start is tried again,
        never a line, which would only run as long again."""
        return status in (429, 502, 503) or (status == 504 and function == "health")

    @staticmethod
    def _sleep(seconds: float, should_stop) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if should_stop is not None and should_stop():
                raise GenerationCancelled("Stopped while waiting to try the remote engine again.")
            time.sleep(min(0.1, left))

    def _refuse(self, function: str, status: int, detail: str):
        where = redact_url(self.url)
        if status in (401, 403):
            raise NetworkError(f"The remote engine refused the API key (HTTP {status}). Check the URL and the key in "
                               "Settings > Credentials; for Cerebrium, use the API key (a JWT) from the dashboard's "
                               "API Keys page.")
        if status in (404, 405):
            raise _NoFunction(f"The remote engine at {where} has no function {function!r} (HTTP {status}). Check the "
                              "URL: it ends with the app's name, e.g. https://api.cerebrium.ai/v4/p-xxxxxxxx/csm-desktop.")
        if status == 413:
            raise NetworkError("The request was too large for the remote engine (HTTP 413). Use shorter or fewer "
                               "voice clips, or a shorter maximum line length.")
        if status == 409:
            self._stale = True  # the deployment changed under us: learn its codec again
            raise NetworkError(f"The remote engine changed (its codec differs): {detail} Render again.")
        if status in (400, 422):
            raise CsmError(redact(f"The remote engine refused the request: {detail or f'HTTP {status}'}"))
        if status == 504 and function != "health":
            raise NetworkError("The remote engine gave up on the line at its time limit (HTTP 504). Shorten the "
                               "line or its maximum length, or raise response_grace_period in cerebrium.toml.")
        if status in RETRY_STATUSES:
            raise NetworkError(f"The remote engine is still busy or unavailable after {self.attempts} tries "
                               f"(HTTP {status}). Try again in a few minutes, or raise max_replicas.")
        raise NetworkError(redact(f"The remote engine answered HTTP {status}: {detail or 'no detail'}"))

    @staticmethod
    def _json(response: _Response) -> dict:
        return _json_object(response.read_all(), "an answer")

    # ----- requests -------------------------------------------------------------------------------
    def encode_audio(self, audio: torch.Tensor, should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """Mimi codes of a voice clip, made by the server (cached by the voice library)."""
        info = self.connect(should_stop)
        payload = {"audio_data": encode_wav(audio, self.sample_rate, "PCM_16", "FLAC")}
        answer = self._json(self._call("encode_audio", payload, should_stop, announce=True))
        result = answer.get("result", answer)
        if not isinstance(result, dict) or result.get("codec") != info["codec"]:
            raise NetworkError("The remote engine's encode_audio answer is not for its own codec; render again.")
        return self._codes(result.get("codes"))

    def _codes(self, data) -> torch.Tensor:
        try:
            return decode_codes(data, self.info["num_codebooks"], 1 << 16, self.max_seq_len)
        except RequestError as exc:
            raise NetworkError(f"The remote engine sent codes that cannot be read ({exc}).") from None

    def _context_item(self, seg) -> dict:
        item = {"speaker": seg.speaker, "text": seg.text}
        codec = self.codec_identity
        if seg.codes is not None and codec is not None:
            item.update(codes=encode_codes(seg.codes), codec=codec)
        elif seg.audio is not None:  # 16-bit FLAC: a quarter of the 32-bit WAV it once was
            item["audio_data"] = encode_wav(seg.audio, self.sample_rate, "PCM_16", "FLAC")
        else:
            raise CsmError("The remote engine needs the audio of every context segment.")
        return item

    def _payload(self, text, speaker, context, max_audio_length_ms, temperature, topk, seed) -> dict:
        return {"text": text, "speaker": speaker, "max_audio_length_ms": max_audio_length_ms,
                "temperature": temperature, "topk": topk, "seed": seed,
                "return_codes": self.codec_identity is not None,
                "context": [self._context_item(s) for s in context]}

    def generate(self, text: str, speaker: int, context: Sequence = (), max_audio_length_ms: float = 10_000,
                 temperature: float = 0.9, topk: int = 50, seed: int | None = None,
                 should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """The whole line in one answer (``generate_audio``)."""
        self.connect(should_stop)
        payload = self._payload(text, speaker, context, max_audio_length_ms, temperature, topk, seed)
        if self.info["protocol"] < 2:
            payload.pop("return_codes")
        answer = self._json(self._call("generate_audio", payload, should_stop))
        result = answer.get("result", answer)
        audio = self._audio(result)
        codec = self.codec_identity
        self.last_codes = self._codes(result["codes"]) if "codes" in result and codec and result.get("codec") == codec \
            else None
        return audio

    def stream(self, text: str, speaker: int, context: Sequence = (), max_audio_length_ms: float = 10_000,
               temperature: float = 0.9, topk: int = 50, seed: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[torch.Tensor]:
        """Audio chunks as the server generates them (``stream_audio``); from a server of the
        first protocol, the whole line cut into 80 ms chunks. Returns quietly when stopped."""
        self.last_codes = None
        try:
            self.connect(should_stop)
            if self.info["protocol"] < 2 or not self.use_stream:
                audio = self.generate(text, speaker, context, max_audio_length_ms, temperature, topk, seed, should_stop)
                size = int(self.sample_rate * self.frame_ms / 1000)
                for start in range(0, audio.numel(), size):
                    if should_stop is not None and should_stop():
                        return
                    yield audio[start : start + size]
                return
            payload = self._payload(text, speaker, context, max_audio_length_ms, temperature, topk, seed)
            response = self._call("stream_audio", payload, should_stop, "text/event-stream", announce=True)
            # Never more than was asked for (a frame of slack): a faulty server cannot fill the memory.
            most = int((max_audio_length_ms + 2 * self.frame_ms) / 1000 * self.sample_rate)
            yield from self._events(response, should_stop, most)
        except GenerationCancelled:
            return

    def _audio(self, result) -> torch.Tensor:
        """The ``audio_data`` of a plain answer's result."""
        if not isinstance(result, dict) or not isinstance(result.get("audio_data"), str):
            raise NetworkError("The remote engine's answer has no audio_data.")
        try:
            return decode_wav(result["audio_data"], self.sample_rate)
        except RequestError:
            raise NetworkError("The remote engine sent audio that cannot be decoded.") from None

    def _events(self, response: _Response, should_stop, most_samples: int) -> Iterator[torch.Tensor]:
        if not response.content_type.startswith("text/event-stream"):  # a plain answer after all
            answer = self._json(response)
            yield self._audio(answer.get("result", answer))
            return
        codes: torch.Tensor | None = None
        samples = 0
        with response:
            for event in response.events():
                if should_stop is not None and should_stop():
                    return
                kind = event.get("type")
                if kind == "chunk":
                    try:
                        chunk = decode_pcm(event.get("audio"))
                    except RequestError as exc:
                        raise NetworkError(f"The remote engine sent audio that cannot be read ({exc}).") from None
                    samples += chunk.numel()
                    if samples > most_samples:
                        raise NetworkError("The remote engine sent more audio than the line may have. Try again.")
                    yield chunk
                elif kind == "done":
                    if "codes" in event and self.codec_identity and event.get("codec") == self.codec_identity:
                        codes = self._codes(event["codes"])
                    self.last_codes = codes
                    return
                elif kind == "error":
                    detail = str(event.get("error", ""))[:500]
                    status = event.get("status_code")
                    if status in (400, 422):
                        raise CsmError(redact(f"The remote engine refused the request: {detail}"))
                    if status == 409:
                        self._refuse("stream_audio", 409, detail)
                    raise NetworkError(redact(f"The remote engine failed: {detail or 'no detail'}"))
        if response.stopped:
            return
        raise NetworkError("The remote engine's stream ended before the line was finished. Try again.")


class _NoFunction(NetworkError):
    """The server has no such function (an older deployment, or a wrong URL)."""


class _Response:
    """An answer being read, still interruptible by ``should_stop``."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket, response: http.client.HTTPResponse,
                 should_stop) -> None:
        self._conn = conn
        self._sock = sock
        self._response = response
        self._should_stop = should_stop
        self.stopped = False
        self.content_type = (response.headers.get("Content-Type") or "").lower()
        encoding = (response.headers.get("Content-Encoding") or "identity").lower()
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._response.close()
        self._conn.close()

    def _chunks(self) -> Iterator[bytes]:
        watch = _Watch(self._sock, self._should_stop, None)
        try:
            while True:
                try:
                    raw = data = self._response.read1(65536)
                    if self._inflate is not None:
                        data = self._inflate.decompress(raw) if raw else self._inflate.flush()
                        if raw and not data:
                            continue  # compressed bytes that make no output yet
                except zlib.error:
                    raise NetworkError("The remote engine sent a damaged (gzip) answer. Try again.") from None
                except (OSError, http.client.HTTPException) as exc:
                    if watch.stopped:
                        break
                    if isinstance(exc, TimeoutError):
                        raise NetworkError(f"The remote engine stopped sending for {self._sock.gettimeout():.0f} s; "
                                           "try again.") from None
                    raise NetworkError(f"The connection to the remote engine broke ({type(exc).__name__}). "
                                       "Try again.") from None
                if not data:
                    break
                yield data
        finally:
            self.stopped = watch.stopped
            watch.close()

    def read_all(self) -> bytes:
        with self:
            parts, size = [], 0
            for data in self._chunks():
                size += len(data)
                if size > MAX_ANSWER_BYTES:
                    raise NetworkError("The remote engine's answer is far larger than any line; is the URL right?")
                parts.append(data)
            if self.stopped:
                raise GenerationCancelled("Stopped while the remote engine answered.")
            return b"".join(parts)

    def events(self) -> Iterator[dict]:
        """Server-Sent Events, each ``data:`` payload parsed as JSON (a JSON string holding JSON,
        as a platform may wrap what a generator yields, is unwrapped). Lines end in CR LF, LF or
        CR, wherever the chunks of the answer happen to split them."""
        pending = b""
        data: list[bytes] = []
        for chunk in self._chunks():
            pending += chunk
            while (end := _EOL.search(pending)) is not None:
                if end.group() == b"\r" and end.end() == len(pending):
                    break  # a CR at the end may be half of a CR LF: wait for the next chunk
                line, pending = pending[: end.start()], pending[end.end():]
                if line:
                    if line.startswith(b"data:"):
                        data.append(line[5:].removeprefix(b" "))
                    continue  # other fields and comments (keep-alives) carry nothing for us
                if data:
                    yield _json_object(b"\n".join(data), "an event", unwrap=True)
                    data = []
            if len(pending) + sum(map(len, data)) > MAX_EVENT_BYTES:
                raise NetworkError("The remote engine sent an event far larger than an audio chunk.")
        if pending.rstrip(b"\r").startswith(b"data:"):
            data.append(pending.rstrip(b"\r")[5:].removeprefix(b" "))
        if data:
            yield _json_object(b"\n".join(data), "an event", unwrap=True)


def _json_object(raw: bytes, what: str, unwrap: bool = False) -> dict:
    """``raw`` as a JSON object; ``unwrap``: a JSON string holding one is read too."""
    try:
        value = json.loads(raw)
        if unwrap and isinstance(value, str):
            value = json.loads(value)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise NetworkError(f"The remote engine sent {what} that is not a JSON object. Is the URL right?")
    return value
