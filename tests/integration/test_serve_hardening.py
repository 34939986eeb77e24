"""``serve`` against clients that misbehave: bursts, stalls, trickles, lies about lengths, floods
of nesting, and clients that vanish. Each gets a prompt, small JSON answer or a timely cut-off."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import struct
import threading
import time

import pytest
import requests
import torch

from csm_desktop.services.engine_server import EngineServer
from fakes.engine import FakeEngine
from fakes.serve_client import (AUTH, TOKEN, connect, connection_threads, exchange, post, read_answer,
                                wait_closed, wait_for)

GOOD = json.dumps({"text": "Hello there.", "max_audio_length_ms": 400}).encode()


@pytest.fixture
def serve():
    servers = []

    def start(engine=None, **options):
        servers.append(EngineServer(engine or FakeEngine(), TOKEN, port=0, **options).start())
        return servers[-1]

    yield start
    for srv in servers:
        srv.stop()
    assert wait_for(lambda: connection_threads() == 0), "a connection thread outlived its server"


class _SlowEngine(FakeEngine):
    def generate(self, *args, **kwargs):
        time.sleep(0.05)
        return super().generate(*args, **kwargs)


@pytest.mark.parametrize("options", [{}, {"max_connections": 4}], ids=["defaults", "4-connections"])
def test_fifty_concurrent_requests_all_get_an_answer(serve, options):
    srv = serve(_SlowEngine(), **options)
    start = threading.Barrier(50)
    answers, failures = [], []

    def client():
        start.wait()
        try:
            r = requests.post(f"{srv.url}/generate_audio", data=GOOD, headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=30)
            answers.append((r.status_code, r.headers.get("Retry-After"), r.json()))
        except requests.RequestException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures and len(answers) == 50
    assert {status for status, _, _ in answers} <= {200, 503}
    busy = [(after, body) for status, after, body in answers if status == 503]
    assert busy and all(after == "2" and "busy" in body["error"] for after, body in busy)
    assert any(status == 200 for status, _, _ in answers)


def test_connection_threads_are_bounded_and_the_rest_get_503_at_once(serve):
    srv = serve(max_connections=4, timeout_s=5.0)
    held = [connect(srv) for _ in range(4)]  # silent clients, each holding a connection thread
    try:
        assert wait_for(lambda: connection_threads() == 4)
        begin = time.monotonic()
        status, headers, body = exchange(srv, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 503 and headers["Retry-After"] == "2" and "busy" in body["error"]
        assert time.monotonic() - begin < 2.5  # at once, not after a held connection's 5 s
        assert connection_threads() == 4
    finally:
        for sock in held:
            sock.close()
    assert wait_for(lambda: requests.get(f"{srv.url}/health", timeout=5).status_code == 200)


@pytest.mark.parametrize("sent", [
    b"",                                                   # half-open: connected, silent
    b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n",       # headers never finished
    post("/generate_audio", b'{"text": "Hel', length=1000),  # body shorter than its Content-Length
], ids=["silent", "headers-unfinished", "body-short"])
def test_a_stalled_client_is_cut_off_after_the_timeout_while_others_are_served(serve, sent):
    srv = serve(timeout_s=2.0)
    begin = time.monotonic()  # before connecting: the server's deadline may start at the connection
    with connect(srv) as stalled:
        stalled.sendall(sent)
        asked = time.monotonic()
        others = requests.post(f"{srv.url}/generate_audio", data=GOOD, headers={"Authorization": f"Bearer {TOKEN}"},
                               timeout=5)
        assert others.status_code == 200 and time.monotonic() - asked < 1.9  # not behind the stalled one
        if sent.endswith(b"Hel"):
            status, _, body = read_answer(stalled)
            assert status == 408 and "in time" in body["error"]
        wait_closed(stalled, 5)
        assert 1.9 < time.monotonic() - begin < 5.0
    assert wait_for(lambda: connection_threads() == 0, 5)


def test_a_slowloris_client_is_cut_off_at_the_deadline_not_per_byte(serve):
    srv = serve(timeout_s=1.0)
    request = b"GET /health HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"a" * 200  # 4.6 s at 20 ms a byte
    with connect(srv) as sock:
        begin = time.monotonic()
        try:
            for byte in request:
                sock.send(bytes([byte]))
                time.sleep(0.02)  # never idle for long: a per-read timeout alone would never fire
        except OSError:  # the server closed the connection under us
            pass
        wait_closed(sock, 5)
        assert time.monotonic() - begin < 3.5
    assert wait_for(lambda: connection_threads() == 0, 5)


@pytest.mark.parametrize("request_head, status", [
    (post("/nothing", b"", length=100_000_000), 404),
    (post("/generate_audio", b"", headers="", length=100_000_000), 401),
    (post("/generate_audio", b"", headers="Authorization: Bearer wrong\r\n", length=100_000_000), 401),
    (post("/generate_audio", b"", length=100_000_000), 413),
    (b"DELETE /health HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 405),
    (b"PUT /generate_audio HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 405),
], ids=["wrong-path", "no-token", "wrong-token", "too-large", "wrong-method", "put"])
def test_refusals_come_from_the_headers_before_any_body(serve, request_head, status):
    srv = serve(timeout_s=10.0)  # an answer that waited for the body would take 10 s
    begin = time.monotonic()
    answer, headers, body = exchange(srv, request_head)
    assert answer == status and time.monotonic() - begin < 5.0
    assert headers["Content-Type"] == "application/json" and body["error"]
    assert headers["Connection"] == "close"
    if status == 405:
        assert headers["Allow"] in ("GET, POST", "POST")


def test_a_real_client_sending_a_body_to_a_wrong_path_reads_the_404_not_a_reset(serve):
    srv = serve()
    r = requests.post(f"{srv.url}/elsewhere", data=b"x" * 8_000_000, timeout=10)
    assert r.status_code == 404 and "Not found" in r.json()["error"]


@pytest.mark.parametrize("head, status", [
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode() + b"Content-Length: abc\r\n\r\n", 400),
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode() + b"Content-Length: -5\r\n\r\n", 400),
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode() + b"Content-Length: \xb2\r\n\r\n", 400),
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode()
     + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode() + b"\r\n", 411),
    (b"POST /generate_audio HTTP/1.1\r\nHost: t\r\n" + AUTH.encode() + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", 411),
    (b"BREW /generate_audio HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    (b"hello\r\n\r\n", 400),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
], ids=["abc", "negative", "unicode-digit", "two-lengths", "no-length", "chunked", "unknown-method",
        "garbage", "long-line"])
def test_malformed_requests_get_a_json_error(serve, head, status):
    srv = serve()
    answer, headers, body = exchange(srv, head)
    assert answer == status and headers["Content-Type"] == "application/json" and body["error"]


@pytest.mark.parametrize("body, status, names", [
    (b"[" * 100_000 + b"]" * 100_000, 400, "nested"),
    (b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested"),
    (b"{not json", 400, "JSON"),
    (b"\xff\xfe garbage", 400, "JSON"),
    (b"[1, 2]", 400, "object"),
    (b'{"text": "hi", "speaker": ' + b"9" * 5000 + b"}", 400, "JSON"),
    (b'{"text": "hi", "speaker": 1e400}', 422, "speaker"),
    (b'{"text": "hi", "topk": NaN}', 422, "topk"),
    (b'{"text": "hi", "seed": 100000000000000000000000000000}', 422, "seed"),
    (b'{"text": "hi", "temperature": "hot"}', 422, "temperature"),
    (b'{"text": "hi", "context": {"a": 1}}', 422, "context"),
], ids=["nested", "nested-field", "malformed", "not-utf8", "not-object", "digits", "inf", "nan", "huge",
        "wrong-type", "context-type"])
def test_bad_bodies_are_refused_naming_the_problem(serve, body, status, names):
    srv = serve()
    answer, _, reply = exchange(srv, post("/generate_audio", body))
    assert answer == status and names in reply["error"]
    assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200


class _GateEngine(FakeEngine):
    """Holds generation until released, then returns 20 s of audio (a response of megabytes)."""

    def __init__(self):
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def generate(self, *args, **kwargs):
        self.entered.set()
        self.release.wait(10)
        return torch.zeros(24_000 * 20)


def test_a_client_that_vanishes_mid_response_is_one_log_line(serve, caplog):
    caplog.set_level(logging.DEBUG, logger="csm_desktop.services.engine_server")
    engine = _GateEngine()
    srv = serve(engine)
    sock = connect(srv)
    sock.sendall(post("/generate_audio", GOOD))
    assert engine.entered.wait(5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the answer's writes fail
    engine.release.set()

    def notes():
        return [r for r in caplog.records if r.name.startswith("csm_desktop") and r.levelno >= logging.INFO]

    assert wait_for(lambda: notes(), 5)
    assert wait_for(lambda: connection_threads() == 0, 5)
    assert len(notes()) == 1 and "went away" in notes()[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200


def test_health_without_the_token_says_only_that_the_server_is_up(serve):
    engine = FakeEngine()
    engine.model_id = "/home/someone/models/csm-1b"
    srv = serve(engine)
    assert requests.get(f"{srv.url}/health", timeout=5).json() == {"status": "ok"}
    wrong = requests.get(f"{srv.url}/health", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.json() == {"status": "ok"}
    full = requests.get(f"{srv.url}/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    assert full["model"] == engine.model_id and full["sample_rate"] == 24_000


def test_keep_alive_serves_several_requests_on_one_connection(serve):
    srv = serve()
    conn = http.client.HTTPConnection(*srv.httpd.server_address[:2], timeout=5)
    try:
        for _ in range(3):
            conn.request("POST", "/generate_audio", GOOD, {"Authorization": f"Bearer {TOKEN}"})
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["result"]["format"] == "wav"
            assert response.getheader("Connection") != "close"
        assert connection_threads() == 1
    finally:
        conn.close()
    assert wait_for(lambda: connection_threads() == 0, 2)


def test_expect_100_continue_is_granted_only_after_the_token_is_checked(serve):
    srv = serve()
    head = post("/generate_audio", b"").replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with connect(srv) as sock:
        sock.sendall(head.replace(AUTH.encode(), b""))
        assert sock.recv(64).startswith(b"HTTP/1.1 401 ")
    with connect(srv) as sock:
        sock.sendall(post("/generate_audio", GOOD).replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1)
                     .split(b"\r\n\r\n")[0] + b"\r\n\r\n")
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(GOOD)
        status, _, body = read_answer(sock)
        assert status == 200 and body["result"]["format"] == "wav"


def test_a_full_queue_answers_503_before_reading_the_body(serve):
    engine = _GateEngine()
    srv = serve(engine, queue_size=1, timeout_s=10.0)
    with connect(srv) as first:
        first.sendall(post("/generate_audio", GOOD))
        assert engine.entered.wait(5)
        begin = time.monotonic()
        status, headers, body = exchange(srv, post("/generate_audio", b"", length=50_000_000))
        assert status == 503 and headers["Retry-After"] == "2" and "busy" in body["error"]
        assert time.monotonic() - begin < 5.0
        engine.release.set()
        assert read_answer(first)[0] == 200
