"""RemoteEngine against servers that misbehave at the byte level (found by review): raw sockets
on 127.0.0.1 that stall, reset, send damaged gzip, split line endings, or never stop streaming."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import torch

from csm_desktop.errors import GenerationCancelled, NetworkError
from csm_desktop.services import remote
from csm_desktop.services.engine_server import EngineServer
from csm_desktop.services.remote import RemoteEngine

TOKEN = "fault-token"
READY = {"protocol": 2, "codec": None, "num_codebooks": 32, "test_model": False, "model": "m",
         "sample_rate": 24_000, "frame_ms": 80.0, "max_seq_len": 2048}


class RawServer:
    """Accepts connections and hands each to ``serve(conn, request_bytes)``."""

    def __init__(self, serve) -> None:
        self.received: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._serve = serve
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            self.received.append(data)
            threading.Thread(target=self._serve, args=(conn, data), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _engine(url: str, **kw) -> RemoteEngine:
    engine = RemoteEngine(url, TOKEN, **kw)
    engine._learn(dict(READY))  # no health call: each test is about one exchange
    return engine


def test_stop_while_connecting_sends_nothing(monkeypatch):
    server = RawServer(lambda conn, data: time.sleep(30))
    original = http.client.HTTPConnection.connect

    def slow_connect(self):
        time.sleep(0.6)  # DNS, TCP and TLS on a slow network
        original(self)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", slow_connect)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    begin = time.monotonic()
    try:
        with pytest.raises(GenerationCancelled):
            _engine(server.url, timeout_s=20).generate("Hi.", 0, should_stop=stop.is_set)
        assert time.monotonic() - begin < 3
        time.sleep(0.3)
        assert server.received in ([], [b""])  # the request was never sent
    finally:
        server.close()


def test_a_reset_while_reading_an_error_is_a_network_error():
    def serve(conn, data):
        conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 1000\r\n\r\n{\"err")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # a reset, mid-body

    server = RawServer(serve)
    try:
        with pytest.raises(NetworkError, match="still busy or unavailable"):
            _engine(server.url, attempts=1).generate("Hi.", 0)
    finally:
        server.close()


def test_damaged_gzip_is_a_network_error():
    def serve(conn, data):
        body = b"this is not gzip at all"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        conn.close()

    server = RawServer(serve)
    try:
        with pytest.raises(NetworkError, match="damaged"):
            _engine(server.url).generate("Hi.", 0)
    finally:
        server.close()


class _Fed(remote._Response):
    """An answer whose bytes arrive in the chunks given."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._feed = chunks
        self.stopped = False

    def _chunks(self):
        yield from self._feed


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_events_survive_any_split_of_any_line_ending(ending):
    stream = b"".join(b"data: {\"n\": %d}" % n + ending + ending for n in range(3)) + b": keep-alive" + ending
    for size in (1, 2, 3, 7):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert [e["n"] for e in _Fed(chunks).events()] == [0, 1, 2], (ending, size)


class _EndlessEngine:
    sample_rate = 24_000
    model_id = "endless"

    def stream(self, text, speaker, context, **kw):
        for _ in range(10_000):
            yield torch.zeros(1920)


def test_a_stream_longer_than_the_line_may_be_is_cut_off():
    srv = EngineServer(_EndlessEngine(), TOKEN, port=0).start()
    try:
        engine = RemoteEngine(srv.url, TOKEN)
        with pytest.raises(NetworkError, match="more audio than the line may have"):
            for _ in engine.stream("Never ends.", 0, max_audio_length_ms=400):
                pass
    finally:
        srv.stop()
