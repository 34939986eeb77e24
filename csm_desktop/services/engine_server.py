"""``csm-desktop serve``: the remote engine's functions (:mod:`csm_desktop.services.remote_protocol`)
over HTTP: ``POST /generate_audio``, ``/stream_audio`` (Server-Sent Events), ``/encode_audio``
and ``/health`` (also ``GET``), as a Cerebrium deployment of ``packaging/cerebrium`` offers them.

Hardened for a LAN, not only for loopback:

- a request is routed and authenticated from its headers alone; its body is read only after;
- every socket read and write has a deadline (headers, body and answer), so a half-open or a
  trickling (slowloris) client is cut off instead of holding a thread;
- connection threads are bounded; beyond them a connection gets a prompt 503 with Retry-After
  from the accepting thread, and the listen backlog is deep enough that a burst queues instead
  of being reset;
- every refusal is a small JSON ``{"error": ...}``; a client that goes away is one log line.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import selectors
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from csm_desktop.errors import CsmError
from csm_desktop.redaction import redact
from csm_desktop.services.remote_protocol import (
    MAX_BODY_BYTES,
    RequestError,
    handle_encode,
    handle_generate,
    handle_health,
    parse_generate,
    sse,
    stream_events,
)

log = logging.getLogger(__name__)

# Beyond the base timeout a client must move at least this many bytes a second.
MIN_TRANSFER_RATE = 256 * 1024
RETRY_AFTER_S = 2
ROUTES = {"/health": ("GET", "POST"), "/generate_audio": ("POST",), "/stream_audio": ("POST",),
          "/encode_audio": ("POST",)}


def _json_response(status: int, reason: str, body: dict, headers: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Content-Type": "application/json",
                                                  "Content-Length": str(len(data)), **headers}.items())
    return f"HTTP/1.1 {status} {reason}\r\n{head}\r\n".encode("latin-1") + data


BUSY = "The server is busy; try again shortly."
BUSY_RESPONSE = _json_response(503, "Service Unavailable", {"error": BUSY},
                               {"Retry-After": str(RETRY_AFTER_S), "Connection": "close"})


class _DeadlineReader(io.RawIOBase):
    """Socket reads that share one deadline: a client trickling a byte at a time gains nothing."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client was too slow")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _Closer:
    """Closes answered connections politely: stop writing, then read and drop what the client still
    sends until it closes or ``seconds`` pass. Closing with unread data would send a reset, and a
    client still sending its body would see that reset instead of our answer."""

    def __init__(self, seconds: float, most: int = 256) -> None:
        self._seconds = seconds
        self._most = most
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._incoming: list[tuple[socket.socket, float]] = []
        self._count = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="csm-serve-closer", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        with self._lock:
            if self._stopped or self._count >= self._most:
                sock.close()
                return
            self._count += 1
            self._incoming.append((sock, time.monotonic() + self._seconds))
        self._wake()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:  # the wake-up pipe is full: the thread is awake anyway
            pass

    def _drop(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        sock.close()
        with self._lock:
            self._count -= 1

    def _run(self) -> None:
        while True:
            with self._lock:
                incoming, self._incoming = self._incoming, []
                stopped = self._stopped
            for sock, deadline in incoming:
                self._selector.register(sock, selectors.EVENT_READ, deadline)
            if stopped:
                for key in list(self._selector.get_map().values()):
                    key.fileobj.close()
                self._selector.close()
                self._wake_w.close()
                return
            for key, _ in self._selector.select(timeout=0.25):
                if key.fileobj is self._wake_r:
                    self._wake_r.recv(4096)
                    continue
                try:
                    if key.fileobj.recv(65536):
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self._drop(key.fileobj)
            now = time.monotonic()
            for key in list(self._selector.get_map().values()):
                if key.data is not None and key.data < now:
                    self._drop(key.fileobj)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # so that even a garbled request line gets headers
    server_version = "csm-desktop"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.app: EngineServer = self.server.app
        self.linger = False
        self.rfile.close()  # replaced by one whose reads share a deadline
        self.reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:
            self.close_connection = True
            log.info("%s went away: %s", self.address_string(), type(exc).__name__)

    def handle_one_request(self) -> None:
        self.reader.deadline = time.monotonic() + self.app.timeout_s
        super().handle_one_request()

    def handle_expect_100(self) -> bool:
        return True  # granted in _read_json, once the route and the token are checked

    def address_string(self) -> str:
        return "%s:%s" % self.client_address[:2]

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s %s", self.address_string(), fmt % args)

    def log_error(self, fmt: str, *args) -> None:
        log.info("%s %s", self.address_string(), fmt % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self._reply(code, {"error": message or self.responses.get(code, ("Error",))[0]})

    def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        if status >= 400:  # the body may be unread: close, after letting the client finish sending
            self.close_connection = True
            self.linger = True
        self.connection.settimeout(self.app.timeout_s + len(data) / MIN_TRANSFER_RATE)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        methods = ROUTES.get(path)
        try:
            if methods is None:
                raise RequestError(404, "Not found. Use POST /generate_audio, /stream_audio, /encode_audio or /health.")
            if self.command not in methods:
                self._reply(405, {"error": f"Use {' or '.join(methods)} {path}."}, {"Allow": ", ".join(methods)})
                return
            authorised = hmac.compare_digest(self.headers.get("Authorization", "").encode(),
                                             f"Bearer {self.app.token}".encode())
            if path == "/health" and self.command == "GET":
                self._reply(200, self.app.health(authorised))
                return
            if not authorised:
                self._reply(401, {"error": "Missing or wrong Bearer token."}, {"WWW-Authenticate": "Bearer"})
                return
            if self.app.busy and path != "/health":  # no need to read a body that would wait in vain
                raise RequestError(503, BUSY)
            payload = self._read_json()
            if path == "/stream_audio":
                self._stream(payload)
                return
            status, body = self.app.call(path.lstrip("/"), payload)
        except RequestError as exc:
            status, body = exc.status, {"error": str(exc)}
        self._reply(status, body, {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _route

    def _stream(self, payload: Any) -> None:
        """Answer with Server-Sent Events, one chunk per decoded frame; a refusal found before
        generating is a plain JSON error with its status, as for ``generate_audio``."""
        events, leave = self.app.stream(payload)  # RequestError here: nothing sent yet
        self.close_connection = True
        chunked = self.request_version != "HTTP/1.0"  # an HTTP/1.0 client reads to the close
        try:
            self.connection.settimeout(self.app.timeout_s)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in events:
                data = sse(event)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            events.close()  # a client that went away stops the generation
            leave()

    def _read_json(self) -> Any:
        if "Transfer-Encoding" in self.headers:
            raise RequestError(411, "Send the body with a Content-Length; chunked bodies are not accepted.")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise RequestError(411, "A Content-Length header is required.")
        value = lengths[0].strip()
        if len(lengths) > 1 or not (value.isascii() and value.isdigit()):
            raise RequestError(400, "Content-Length must be one whole number of bytes.")
        length = int(value)
        if length > self.app.max_body:
            raise RequestError(413, f"The request is larger than {self.app.max_body // (1024 * 1024)} MB.")
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        self.reader.deadline = time.monotonic() + self.app.timeout_s + length / MIN_TRANSFER_RATE
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(408, "The request body did not arrive in time.") from None
        if len(body) < length:
            raise RequestError(400, "The request body is shorter than its Content-Length.")
        try:
            return json.loads(body)
        except RecursionError:
            raise RequestError(400, "The request body is nested too deeply to be a request.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"The request body is not valid JSON ({exc}).") from None


class _HTTPServer(HTTPServer):
    """Threads a connection, at most ``max_connections`` at once; beyond them a prompt 503."""

    def __init__(self, app: EngineServer, address: tuple[str, int], max_connections: int) -> None:
        self.app = app
        self.request_queue_size = max(128, 4 * max_connections)
        self._slots = threading.BoundedSemaphore(max_connections)
        self.closer = _Closer(seconds=2.0)
        try:
            super().__init__(address, _Handler)
        except BaseException:
            self.closer.stop()
            raise

    def process_request(self, request: socket.socket, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            return self._refuse(request)
        try:
            threading.Thread(target=self._serve_connection, args=(request, client_address),
                             name="csm-serve-connection", daemon=True).start()
        except RuntimeError:  # no thread to be had
            self._slots.release()
            self._refuse(request)

    def _refuse(self, request: socket.socket) -> None:
        try:
            request.setblocking(False)
            request.send(BUSY_RESPONSE)  # small: a fresh socket's send buffer takes it whole
        except OSError:
            pass
        self.closer.add(request)

    def _serve_connection(self, request: socket.socket, client_address) -> None:
        handler = None
        try:
            handler = self.RequestHandlerClass(request, client_address, self)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            if handler is not None and handler.linger:
                self.closer.add(request)
            else:
                self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        log.exception("Serving %s failed.", client_address)

    def server_close(self) -> None:
        super().server_close()
        self.closer.stop()


class EngineServer:
    """``csm-desktop serve``: the handler over HTTP, one generation at a time, bounded queue."""

    def __init__(self, engine, token: str, host: str = "127.0.0.1", port: int = 8000, *, queue_size: int = 4,
                 max_body: int = MAX_BODY_BYTES, timeout_s: float = 20.0, max_connections: int = 32) -> None:
        if not token:
            raise CsmError("The server needs a token: set CSM_SERVER_TOKEN.")
        self.engine = engine
        self.token = token
        self.max_body = max_body
        self.queue_size = queue_size
        self.timeout_s = timeout_s
        self._gpu = threading.Lock()
        self._waiting = 0
        self._count_lock = threading.Lock()
        self.httpd = _HTTPServer(self, (host, port), max_connections)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"

    def health(self, authorised: bool) -> dict:
        """Without the token only that the server is up: no model names, no local paths."""
        if not authorised:
            return {"status": "ok"}
        return {**handle_health(self.engine), "waiting": self._waiting}

    @property
    def busy(self) -> bool:
        """Whether the generation queue is full."""
        return self._waiting >= self.queue_size

    def _enter(self) -> None:
        with self._count_lock:
            if self.busy:
                raise RequestError(503, BUSY)
            self._waiting += 1

    def _leave(self) -> None:
        with self._count_lock:
            self._waiting -= 1

    def call(self, function: str, payload: Any) -> tuple[int, dict]:
        """A plain function (``generate_audio``, ``encode_audio``, ``health``): status and body."""
        if function == "health":
            return 200, {"run_id": uuid.uuid4().hex, "result": handle_health(self.engine), "run_time_ms": 0.0}
        handler = {"generate_audio": handle_generate, "encode_audio": handle_encode}[function]
        start = time.perf_counter()
        try:
            self._enter()
        except RequestError as exc:
            return exc.status, {"error": str(exc)}
        try:
            with self._gpu:
                result = handler(self.engine, payload)
        except RequestError as exc:
            return exc.status, {"error": str(exc)}
        except Exception as exc:  # never leak a traceback or a secret to the client
            return 500, {"error": self._failure(exc)}
        finally:
            self._leave()
        return 200, {"run_id": uuid.uuid4().hex, "result": result,
                     "run_time_ms": round((time.perf_counter() - start) * 1000, 1)}

    def generate(self, payload: Any) -> tuple[int, dict]:
        return self.call("generate_audio", payload)

    @staticmethod
    def _failure(exc: BaseException) -> str:
        message = redact(f"Generation failed: {type(exc).__name__}: {exc}")
        log.warning(message)
        return message

    def stream(self, payload: Any):
        """The events of one ``stream_audio`` request. The request is validated (and a place in
        the queue taken) before this returns, so a refusal can still be a plain HTTP error."""
        request = parse_generate(self.engine, payload)
        self._enter()
        left = False

        def leave() -> None:  # once, whether or not the events were ever read
            nonlocal left
            if not left:
                left = True
                self._leave()

        def events():
            try:
                with self._gpu:
                    yield from stream_events(self.engine, request)
            except Exception as exc:  # the answer has begun: the failure is the last event
                yield {"type": "error", "error": self._failure(exc), "status_code": 500}
            finally:
                leave()

        return events(), leave

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)  # stop() waits up to one interval

    def start(self) -> EngineServer:
        threading.Thread(target=self.serve_forever, name="csm-serve", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop listening (after :meth:`serve_forever` has returned, or when it never ran)."""
        self.httpd.server_close()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.close()
