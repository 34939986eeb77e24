"""A fake Cerebrium (gateway + default "Cortex" runtime) on 127.0.0.1, serving the real
``packaging/cerebrium/main.py`` as Cerebrium's documentation (2026) says the platform does:

- ``POST /v4/{project}/{app}/{function}``; a function is a public callable of ``main.py`` (a
  leading underscore keeps it private: 404).
- Authentication as ``cerebrium.toml`` sets it: ``disable_auth`` defaults to **true** (open);
  with ``false``, ``Authorization: Bearer <api key>`` is required (401 otherwise).
- The JSON body becomes keyword arguments; a returned dict comes back as ``{run_id, result,
  run_time_ms}``, with the HTTP status taken from the result's ``status_code``; an exception
  is a 500; a generator is answered as Server-Sent Events (``text/event-stream``, chunked, one
  ``data: <yielded>`` per item, gzip-encoded when the client accepts gzip, as the docs' example).
- Replicas: each boots by importing ``main.py`` afresh (so each has its own engine), taking
  ``cold_start_s`` more; ``replica_concurrency`` is 1 and at most ``max_replicas`` (from the
  toml) run; other requests queue until a replica is free or one is booted for them.
- A test can inject answers (``inject(502)``, ``inject(429, retry_after=1)``) and scale to zero.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import json
import threading
import time
import tomllib
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from fakes.loopback import LoopbackServer

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "cerebrium"
PROJECT = "p-1a2b3c4d"
API_KEY = "eyJhbGciOiJSUzI1NiJ9.fake-cerebrium-jwt.signature"


@dataclass
class Replica:
    module: object
    busy: bool = False
    served: int = 0


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    times: int = 1


@dataclass
class Call:
    function: str
    status: int
    replica: int | None = None
    body_bytes: int = 0


@dataclass
class FakeCerebrium:
    cold_start_s: float = 0.0
    config_path: Path = PACKAGING / "cerebrium.toml"
    main_path: Path = PACKAGING / "main.py"
    replicas: list[Replica] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    boots: int = 0

    def __post_init__(self) -> None:
        config = tomllib.loads(self.config_path.read_text())["cerebrium"]
        self.app = config["deployment"]["name"]
        self.disable_auth = config["deployment"].get("disable_auth", True)  # Cerebrium's default
        self.max_replicas = config["scaling"].get("max_replicas", 1)
        self._faults: list[Fault] = []
        self._lock = threading.Condition()
        self._names = itertools.count()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake._handle(self)

            def do_GET(self):
                fake._send(self, 405, {"message": "Use POST."})

        self.server = LoopbackServer(Handler)
        self.base = f"{self.server.url}/v4/{PROJECT}/{self.app}"

    def __enter__(self) -> FakeCerebrium:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    # ----- test controls -------------------------------------------------------------------------
    def inject(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls are answered ``status`` by the gateway before reaching a replica."""
        with self._lock:
            self._faults.append(Fault(status, retry_after, times))

    def scale_to_zero(self) -> None:
        """Idle replicas go away (the cooldown passed): the next call is a cold start."""
        with self._lock:
            self.replicas = [r for r in self.replicas if r.busy]

    def statuses(self, function: str | None = None) -> list[int]:
        return [c.status for c in self.calls if function is None or c.function == function]

    # ----- serving -------------------------------------------------------------------------------
    def _send(self, h, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _record(self, function: str, status: int, replica: int | None = None, size: int = 0) -> None:
        with self._lock:
            self.calls.append(Call(function, status, replica, size))

    def _boot(self) -> Replica:
        spec = importlib.util.spec_from_file_location(f"cerebrium_main_{next(self._names)}", self.main_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # loads the engine, as a replica's start does
        time.sleep(self.cold_start_s)
        return Replica(module)

    def _acquire(self) -> tuple[int, Replica]:
        with self._lock:
            while True:
                for i, replica in enumerate(self.replicas):
                    if not replica.busy:
                        replica.busy = True
                        return i, replica
                if len(self.replicas) < self.max_replicas:
                    placeholder = Replica(None, busy=True)
                    self.replicas.append(placeholder)
                    self.boots += 1
                    break
                self._lock.wait()
        booted = self._boot()
        with self._lock:
            placeholder.module = booted.module
            return self.replicas.index(placeholder), placeholder

    def _release(self, replica: Replica) -> None:
        with self._lock:
            replica.busy = False
            replica.served += 1
            self._lock.notify_all()

    def _handle(self, h) -> None:
        parts = h.path.split("?", 1)[0].strip("/").split("/")
        size = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(size)
        function = parts[-1] if len(parts) == 4 else ""
        if parts[:3] != ["v4", PROJECT, self.app] or len(parts) != 4 or function.startswith("_"):
            self._record(function, 404)
            return self._send(h, 404, {"message": "App or function not found"})
        if not self.disable_auth and h.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._record(function, 401)
            return self._send(h, 401, {"message": "Unauthorized"})
        with self._lock:
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.pop(0)
        if fault is not None:
            self._record(function, fault.status)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            return self._send(h, fault.status, {"message": "upstream unavailable"}, headers)
        try:
            kwargs = json.loads(raw or b"{}")
        except ValueError:
            self._record(function, 400)
            return self._send(h, 400, {"message": "Body is not JSON"})
        index, replica = self._acquire()
        try:
            func = getattr(replica.module, function, None)
            if not callable(func) or not isinstance(kwargs, dict):
                self._record(function, 404, index)
                return self._send(h, 404, {"message": "Function not found"})
            try:
                inspect.signature(func).bind(**kwargs)
            except TypeError as exc:
                self._record(function, 422, index)
                return self._send(h, 422, {"message": str(exc)})
            start = time.perf_counter()
            run_id = str(uuid.uuid4())
            if inspect.isgeneratorfunction(func):
                self._record(function, 200, index, size)
                return self._stream(h, func(**kwargs), "gzip" in (h.headers.get("Accept-Encoding") or ""))
            try:
                result = func(**kwargs)
            except Exception as exc:
                self._record(function, 500, index, size)
                return self._send(h, 500, {"run_id": run_id, "error": str(exc)})
            status = result.get("status_code", 200) if isinstance(result, dict) else 200
            self._record(function, status, index, size)
            self._send(h, status, {"run_id": run_id, "result": result,
                                   "run_time_ms": round((time.perf_counter() - start) * 1000, 2)})
        finally:
            self._release(replica)

    def _stream(self, h, items, gzip: bool) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        if gzip:
            h.send_header("Content-Encoding", "gzip")
        h.end_headers()
        packer = zlib.compressobj(wbits=31) if gzip else None
        try:
            for item in items:
                data = f"data: {item if isinstance(item, str) else json.dumps(item)}\n\n".encode()
                if packer is not None:
                    data = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()
            tail = packer.flush() if packer is not None else b""
            if tail:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(tail), tail))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client went away
        finally:
            items.close()  # stops the generation, as the runtime does when a client disconnects
            h.close_connection = True
