"""``serve`` and RemoteEngine end to end on 127.0.0.1, with the tiny model and with fakes."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
import soundfile as sf
import torch

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.errors import NetworkError
from csm_desktop.services.engine_server import EngineServer
from csm_desktop.services.remote import RemoteEngine
from csm_desktop.services.remote_protocol import encode_wav

TOKEN = "server-test-token"


@pytest.fixture
def server(tiny_generator):
    srv = EngineServer(tiny_generator, TOKEN, port=0).start()
    yield srv
    srv.stop()


def _payload(**extra):
    clip = 0.1 * torch.sin(torch.arange(24_000) / 24_000 * 2 * torch.pi * 220)
    return {"text": "Hello from the server.", "speaker": 1, "max_audio_length_ms": 400, "temperature": 0.9,
            "topk": 50, "seed": 3, "context": [{"speaker": 0, "text": "Earlier words.", "audio_data": encode_wav(clip, 24_000)}],
            **extra}


def test_cerebrium_style_client_works_unchanged(server):
    endpoint = f"{server.url}/generate_audio"
    response = requests.post(endpoint, json=_payload(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"run_id", "result", "run_time_ms"}
    result = body["result"]
    assert result["format"] == "wav" and result["encoding"] == "base64" and result["sample_rate"] == 24_000
    audio, rate = sf.read(io.BytesIO(base64.b64decode(result["audio_data"])))
    assert rate == 24_000 and len(audio) == 5 * 1920
    assert result["duration_seconds"] == pytest.approx(0.4)
    assert server.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer nope"}, 401),
                                             ({"Authorization": TOKEN}, 401)])
def test_token_is_required(server, headers, status):
    r = requests.post(f"{server.url}/generate_audio", json=_payload(), headers=headers)
    assert r.status_code == status and "token" in r.json()["error"]


def test_bad_requests(server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server.url}/generate_audio"
    assert requests.post(url, data=b"{not json", headers=auth).status_code == 400
    assert requests.post(url, json=[1, 2], headers=auth).status_code == 400
    assert requests.post(url, json={"speaker": 0}, headers=auth).status_code == 422
    assert requests.post(url, json={"text": "  "}, headers=auth).status_code == 422
    r = requests.post(url, json=_payload(temperature="hot"), headers=auth)
    assert r.status_code == 422 and "temperature" in r.json()["error"]
    bad_ctx = _payload(context=[{"speaker": 0, "text": "x", "audio_data": "!!notbase64"}])
    assert requests.post(url, json=bad_ctx, headers=auth).status_code == 400
    assert requests.get(f"{server.url}/health").json()["status"] == "ok"
    assert requests.get(f"{server.url}/nothing").status_code == 404


def test_body_over_the_limit_is_413(tiny_generator):
    srv = EngineServer(tiny_generator, TOKEN, port=0, max_body=1000).start()
    try:
        r = requests.post(f"{srv.url}/generate_audio", json=_payload(), headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 413
    finally:
        srv.stop()


class _BlockingEngine:
    sample_rate = 24_000
    model_id = "blocking"

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, text, speaker, context, **kw):
        self.entered.set()
        self.release.wait(30)
        return torch.zeros(1920)


def test_one_generation_at_a_time_and_503_when_the_queue_is_full():
    engine = _BlockingEngine()
    srv = EngineServer(engine, TOKEN, port=0, queue_size=1).start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=requests.post(
            f"{srv.url}/generate_audio", json={"text": "a"}, headers=auth)))
        t.start()
        assert engine.entered.wait(10)
        busy = requests.post(f"{srv.url}/generate_audio", json={"text": "b"}, headers=auth)
        assert busy.status_code == 503
        engine.release.set()
        t.join(10)
        assert first["r"].status_code == 200
    finally:
        engine.release.set()
        srv.stop()


def test_remote_engine_renders_a_project(server, tmp_path):
    project = Project.new("Alice: Hello there.\nBob: Hi!\n")
    project.settings.max_line_ms = 400
    project.save(tmp_path / "remote")
    engine = RemoteEngine(server.url, TOKEN)
    report = Renderer(project, engine).render()
    assert report.generated == [0, 1] and not report.failed
    data, rate = sf.read(project.takes_dir / f"{project.line(1).chosen_take}.wav")
    assert rate == 24_000 and len(data) == 5 * 1920


def test_remote_engine_errors_are_clear(server):
    with pytest.raises(NetworkError, match="refused the API key"):
        list(RemoteEngine(server.url, "wrong").stream("Hi.", 0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="could not be reached"):
        list(RemoteEngine(f"http://127.0.0.1:{port}", TOKEN, timeout_s=5).stream("Hi.", 0))


def test_serve_command(tiny_folder, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CSM_SERVER_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "csm_desktop.cli", "serve", "--port", str(port), "--model",
                             str(tiny_folder), "--device", "cpu"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        r = requests.post(f"http://127.0.0.1:{port}/generate_audio", json=_payload(),
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.json()["result"]["sample_rate"] == 24_000
    finally:
        proc.terminate()
        proc.wait(10)


class _GatedStreamEngine:
    """Yields one chunk, then waits: a client that hears the chunk before the release has
    streaming; a client that goes away closes the generation."""

    sample_rate = 24_000
    model_id = "gated"

    def __init__(self):
        self.release = threading.Event()
        self.closed = threading.Event()

    def stream(self, text, speaker, context, **kw):
        try:
            yield torch.full((1920,), 0.25)
            self.release.wait(30)
            yield torch.full((1920,), -0.25)
        finally:
            self.closed.set()


def test_serve_streams_audio_as_it_is_generated():
    engine = _GatedStreamEngine()
    srv = EngineServer(engine, TOKEN, port=0).start()
    try:
        client = RemoteEngine(srv.url, TOKEN)
        chunks = client.stream("Streamed.", 0)
        first = next(chunks)  # arrives while the engine still holds the rest of the line
        assert torch.equal(first, torch.full((1920,), 0.25)) and not engine.release.is_set()
        engine.release.set()
        rest = list(chunks)
        assert len(rest) == 1 and engine.closed.wait(5)
        assert client.last_codes is None  # this engine has no codes to send
    finally:
        engine.release.set()
        srv.stop()


class _EndlessEngine:
    """A chunk every 20 ms for up to 20 s, unless the server closes the generation."""

    sample_rate = 24_000
    model_id = "endless"

    def __init__(self):
        self.made = 0
        self.closed = threading.Event()

    def stream(self, text, speaker, context, **kw):
        try:
            for _ in range(1000):
                self.made += 1
                yield torch.zeros(1920)
                time.sleep(0.02)
        finally:
            self.closed.set()


def test_stopping_a_stream_stops_the_server_generation():
    engine = _EndlessEngine()
    srv = EngineServer(engine, TOKEN, port=0).start()
    try:
        stop = threading.Event()
        client = RemoteEngine(srv.url, TOKEN)
        chunks = client.stream("Stopped.", 0, should_stop=stop.is_set)
        next(chunks)
        stop.set()
        begin = time.monotonic()
        assert list(chunks) == []  # quietly, as the local engine's stream
        assert time.monotonic() - begin < 5
        assert engine.closed.wait(10) and engine.made < 1000  # the client's leaving ended it
        assert wait_until(lambda: srv._waiting == 0)
    finally:
        srv.stop()


def wait_until(predicate, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_segment_with_codes_but_no_audio_is_a_clear_error_on_an_old_server():
    """Issue 12 found an AttributeError here; codes go up only to a server that takes them."""
    from csm_desktop.engine.generator import Segment
    from csm_desktop.errors import CsmError

    engine = RemoteEngine("http://127.0.0.1:9", TOKEN)
    engine.info = {"protocol": 1, "codec": None, "test_model": False}
    with pytest.raises(CsmError, match="needs the audio"):
        engine._payload("Hi.", 0, [Segment(0, "Earlier.", codes=torch.zeros(32, 3, dtype=torch.long))],
                        1000, 0.9, 50, None)
    engine.info = {"protocol": 2, "codec": "abc123", "num_codebooks": 32, "test_model": False}
    item = engine._payload("Hi.", 0, [Segment(0, "Earlier.", codes=torch.zeros(32, 3, dtype=torch.long))],
                           1000, 0.9, 50, None)["context"][0]
    assert item["codec"] == "abc123" and "audio_data" not in item
