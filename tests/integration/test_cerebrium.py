"""The Cerebrium deployment (packaging/cerebrium) behind a fake Cerebrium gateway, and the
app's RemoteEngine surviving it: privacy, status codes, cold starts, retries, streaming, codes."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time

import numpy as np
import pytest
import requests
import soundfile as sf
import torch

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError, GenerationCancelled, NetworkError
from csm_desktop.services import remote
from csm_desktop.services.remote import RemoteEngine, base_url
from fakes.cerebrium import API_KEY, PACKAGING, FakeCerebrium


@pytest.fixture
def model_env(tiny_folder, monkeypatch):
    monkeypatch.setenv("CSM_MODEL", str(tiny_folder))
    monkeypatch.setattr(remote, "COLD_START_NOTICE_S", 0.5)


@pytest.fixture
def gateway(model_env):
    with FakeCerebrium() as fake:
        yield fake


def _engine(fake, **kw) -> RemoteEngine:
    return RemoteEngine(fake.base, API_KEY, **kw)


def _project(tmp_path, text="Alice: Hello there, how are you?\nBob: Fine, thanks.\nAlice: Good to hear it.\n",
             clip=True):
    library = VoiceLibrary(tmp_path / "lib")
    project = Project.new(text)
    project.settings.max_line_ms = 800
    if clip:
        t = np.arange(24_000 * 2) / 24_000
        sf.write(tmp_path / "alice.wav", 0.4 * np.sin(2 * np.pi * 180 * t), 24_000)
        project.speaker("Alice").clip_ids.append(
            library.import_clip(tmp_path / "alice.wav", speaker="Alice", transcript="This is Alice.").id)
    project.save(tmp_path / "remote")
    return project, library


def test_the_deployment_is_private(gateway):
    url = f"{gateway.base}/generate_audio"
    assert requests.post(url, json={"text": "Hi."}).status_code == 401
    assert requests.post(url, json={"text": "Hi."}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with pytest.raises(NetworkError, match="refused the API key"):
        RemoteEngine(gateway.base, "wrong").connect()


def test_without_disable_auth_cerebrium_would_serve_anyone(model_env, tmp_path):
    """What the fake does with Cerebrium's documented default, so the test above means something."""
    config = (PACKAGING / "cerebrium.toml").read_text().replace("disable_auth = false\n", "")
    (tmp_path / "cerebrium.toml").write_text(config)
    with FakeCerebrium(config_path=tmp_path / "cerebrium.toml") as fake:
        assert requests.post(f"{fake.base}/health", json={}).status_code == 200


def test_the_plain_requests_client_from_the_readme_works(gateway):
    response = requests.post(f"{gateway.base}/generate_audio",
                             json={"text": "Hello from Cerebrium.", "speaker": 0, "max_audio_length_ms": 400, "seed": 1},
                             headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"run_id", "result", "run_time_ms"}
    audio, rate = sf.read(io.BytesIO(base64.b64decode(body["result"]["audio_data"])))
    assert rate == 24_000 and len(audio) == 5 * 1920


def test_errors_come_back_with_their_status_and_message(gateway):
    r = requests.post(f"{gateway.base}/generate_audio", json={"text": "   "},
                      headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 422 and "'text' is required" in r.json()["result"]["error"]
    engine = _engine(gateway)
    with pytest.raises(CsmError, match="'text' is required") as caught:
        engine.generate("   ", 0)
    assert not isinstance(caught.value, NetworkError)  # the line fails; the engine is fine
    with pytest.raises(CsmError, match="temperature"):
        list(engine.stream("Hi.", 0, temperature=99.0))


def test_health_teaches_the_client_the_model(gateway, tiny_generator):
    info = _engine(gateway).connect()
    assert info["protocol"] == 2 and info["codec"] == tiny_generator.codec_identity
    engine = _engine(gateway)
    engine.connect()
    assert engine.model_id == f"remote:{tiny_generator.model_id}"  # the same takes from any URL of it
    assert engine.codec_identity == tiny_generator.codec_identity


def test_a_cold_start_is_announced_and_waited_for(model_env):
    heard = []
    with FakeCerebrium(cold_start_s=1.5) as fake:
        engine = _engine(fake, on_status=heard.append)
        engine.connect()
        assert heard == [remote.COLD_START] and fake.boots == 1
        heard.clear()
        chunks = list(engine.stream("Warm now.", 0, max_audio_length_ms=240, seed=2))
        assert chunks and heard == [] and fake.boots == 1  # the warm replica answered


def test_stop_interrupts_a_cold_start(model_env):
    with FakeCerebrium(cold_start_s=30) as fake:
        stop = threading.Event()
        threading.Timer(1.0, stop.set).start()
        begin = time.monotonic()
        with pytest.raises(GenerationCancelled):
            _engine(fake).connect(stop.is_set)
        assert time.monotonic() - begin < 10  # not the 30 s boot
        assert list(_engine(fake).stream("x", 0, should_stop=lambda: True)) == []


def test_transient_failures_are_retried_honouring_retry_after(gateway):
    heard = []
    engine = _engine(gateway, on_status=heard.append)
    engine.connect()
    gateway.inject(502)
    gateway.inject(429, retry_after="1")
    gateway.inject(503)
    begin = time.monotonic()
    chunks = list(engine.stream("Retried.", 0, max_audio_length_ms=240, seed=3))
    assert chunks and time.monotonic() - begin >= 1.0
    assert gateway.statuses("stream_audio") == [502, 429, 503, 200]
    assert len(heard) == 3 and all("trying again" in h for h in heard)
    assert "in 1 s" in heard[1]  # Retry-After, not the backoff


def test_retries_end_with_a_clear_message(gateway):
    engine = _engine(gateway, attempts=2)
    engine.connect()
    gateway.inject(503, retry_after="0", times=5)
    with pytest.raises(NetworkError, match="still busy or unavailable after 2 tries"):
        engine.generate("Busy.", 0)


@pytest.mark.parametrize("status, message", [(403, "refused the API key"), (413, "too large")])
def test_refusals_get_their_own_messages(gateway, status, message):
    engine = _engine(gateway)
    engine.connect()
    gateway.inject(status)
    with pytest.raises(NetworkError, match=message):
        engine.generate("x", 0)
    assert gateway.statuses("generate_audio") == [status]  # not retried


def test_a_broken_exchange_is_never_sent_twice():
    """A connection that breaks after the request was sent may have started the line remotely:
    sending it again could start a second replica, so the client reports it instead."""
    received = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    received.append(conn.recv(65536))
                    time.sleep(0.2)

        threading.Thread(target=serve, daemon=True).start()
        engine = RemoteEngine(f"http://127.0.0.1:{listener.getsockname()[1]}", "t")
        engine.info = {"protocol": 2, "codec": None, "num_codebooks": 32}
        with pytest.raises(NetworkError, match="broke"):
            engine.generate("Once.", 0)
    assert len(received) == 1


def test_streamed_audio_equals_the_whole_line(gateway):
    engine = _engine(gateway)
    whole = engine.generate("Same either way.", 1, max_audio_length_ms=800, seed=9)
    whole_codes = engine.last_codes
    chunks = list(engine.stream("Same either way.", 1, max_audio_length_ms=800, seed=9))
    assert len(chunks) > 1 and all(c.numel() == 1920 for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), whole, atol=1e-5, rtol=1e-4)  # streaming vs batch Mimi
    assert torch.equal(engine.last_codes, whole_codes) and whole_codes.shape[1] == len(chunks)


def test_a_gzip_encoded_stream_is_read(gateway, monkeypatch):
    """Cerebrium's documented stream answer is gzip-encoded when the client accepts it."""
    engine = _engine(gateway)
    plain = list(engine.stream("Zipped.", 0, max_audio_length_ms=400, seed=4))
    original = remote.http.client.HTTPConnection.putheader

    def accept_gzip(self, header, *values):
        if header == "Accept-Encoding":
            values = ("gzip",)
        return original(self, header, *values)

    monkeypatch.setattr(remote.http.client.HTTPConnection, "putheader", accept_gzip)
    zipped = list(engine.stream("Zipped.", 0, max_audio_length_ms=400, seed=4))
    assert torch.equal(torch.cat(zipped), torch.cat(plain))


def test_context_goes_up_as_codes_after_the_first_time(gateway, tmp_path):
    project, library = _project(tmp_path)
    engine = _engine(gateway)
    engine.connect()
    sizes = []
    for line in range(3):
        before = engine.bytes_sent
        report = Renderer(project, engine, library).render([line])
        assert report.generated == [line]
        sizes.append(engine.bytes_sent - before)
    assert gateway.statuses("encode_audio") == [200]  # the clip went up once
    for line in range(3):
        key = project.line(line).chosen_take
        assert (project.takes_dir / f"{key}.codes.npy").is_file()
    # The same lines with audio context (the fallback) cost far more per line.
    legacy, legacy_library = _project(tmp_path / "legacy")
    audio_engine = _engine(gateway, use_codes=False)
    audio_sizes = []
    for line in range(3):
        before = audio_engine.bytes_sent
        Renderer(legacy, audio_engine, legacy_library).render([line])
        audio_sizes.append(audio_engine.bytes_sent - before)
    assert not list(legacy.takes_dir.glob("*.codes.npy"))
    # The first line carries the clip either way (as codes it went up once, to encode_audio);
    # each later line sends the clip and earlier lines as codes, not audio.
    assert sizes[0] < 1.5 * audio_sizes[0], (sizes, audio_sizes)
    assert all(10 * c < a for c, a in zip(sizes[1:], audio_sizes[1:])), (sizes, audio_sizes)


def test_a_deployment_of_the_first_protocol_still_renders(model_env, tmp_path):
    """The seed's main.py: only generate_audio, no health, errors as HTTP 200."""
    old = tmp_path / "main.py"
    old.write_text(
        "import os\n"
        "from csm_desktop.engine import load_csm_1b\n"
        "from csm_desktop.services.remote_protocol import handle_generate\n"
        "_engine = load_csm_1b(model=os.environ['CSM_MODEL'])\n"
        "def generate_audio(text, speaker=0, context=None, max_audio_length_ms=10000, temperature=0.9, topk=50, seed=None):\n"
        "    return handle_generate(_engine, dict(text=text, speaker=speaker, context=context or [],\n"
        "        max_audio_length_ms=max_audio_length_ms, temperature=temperature, topk=topk, seed=seed))\n")
    with FakeCerebrium(main_path=old) as fake:
        project, library = _project(tmp_path, clip=True)
        engine = _engine(fake)
        report = Renderer(project, engine, library).render()
        assert report.generated == [0, 1, 2] and engine.info["protocol"] == 1
        assert fake.statuses("health") == [404]


def test_base_url_accepts_what_users_paste():
    assert base_url("https://api.cerebrium.ai/v4/p-1234/csm-desktop/generate_audio") == \
        "https://api.cerebrium.ai/v4/p-1234/csm-desktop"
    assert base_url(" https://api.cerebrium.ai/v4/p-1234/csm-desktop/ ") == "https://api.cerebrium.ai/v4/p-1234/csm-desktop"
    assert base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert base_url("http://127.0.0.1:8000/generate_audio") == "http://127.0.0.1:8000"
    for bad in ("api.cerebrium.ai/v4", "ftp://x/y", "", "https://"):
        with pytest.raises(CsmError, match="not a web address"):
            base_url(bad)


def test_deploy_refuses_a_public_or_logging_deployment(tmp_path):
    import importlib.util
    import os
    import subprocess

    spec = importlib.util.spec_from_file_location("check_deploy", PACKAGING / "check_deploy.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.config_problems(PACKAGING / "cerebrium.toml") == []
    public = tmp_path / "cerebrium.toml"
    public.write_text((PACKAGING / "cerebrium.toml").read_text().replace("disable_auth = false", "disable_auth = true"))
    assert any("disable_auth = false" in p for p in check.config_problems(public))

    # deploy.sh with a stand-in `cerebrium` CLI that prints what `secrets list` prints.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    cli = bin_dir / "cerebrium"
    cli.write_text("#!/bin/sh\n"
                   f"echo \"$@\" >> {log}\n"
                   "case \"$1 $2\" in\n"
                   "  'secrets list') case \"$*\" in *--app*) cat \"$APP_SECRETS\";; *) echo '[]';; esac;;\n"
                   "  'deploy '*|deploy) ls > " + str(tmp_path / "staged.txt") + ";;\n"
                   "esac\n")
    cli.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APP_SECRETS": str(tmp_path / "secrets.json")}
    (tmp_path / "secrets.json").write_text('[{"name": "HF_TOKEN", "value": "hf_x"}, '
                                           '{"name": "DISABLE_REQUEST_LOGS", "value": "true"}]')
    refused = subprocess.run(["bash", str(PACKAGING / "deploy.sh")], env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "DISABLE_RESPONSE_LOGS" in refused.stderr and "cerebrium secrets add --app csm-desktop" in refused.stderr
    assert "hf_x" not in refused.stderr + refused.stdout  # values are read, never shown
    assert not [c for c in log.read_text().splitlines() if c.startswith("deploy")]  # never reached the deploy
    (tmp_path / "secrets.json").write_text('[{"name": "HF_TOKEN", "value": "hf_x"}, '
                                           '{"name": "DISABLE_REQUEST_LOGS", "value": "true"}, '
                                           '{"name": "DISABLE_RESPONSE_LOGS", "value": "TRUE"}]')
    done = subprocess.run(["bash", str(PACKAGING / "deploy.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set((tmp_path / "staged.txt").read_text().split()) == {"main.py", "cerebrium.toml", "csm_desktop"}


def test_a_typo_in_the_app_name_is_caught_at_once(gateway):
    wrong = gateway.base.replace("/csm-desktop", "/csm-dsktop")
    with pytest.raises(NetworkError, match="has no function 'generate_audio'.*Check the URL"):
        RemoteEngine(wrong, API_KEY).connect()


def test_an_engine_that_fails_stops_the_render_and_keeps_what_was_made(gateway, tmp_path):
    project, library = _project(tmp_path, clip=False)
    engine = _engine(gateway)
    Renderer(project, engine, library).render([0])
    gateway.inject(403, times=10)
    with pytest.raises(NetworkError, match="refused the API key"):
        Renderer(project, engine, library).render()
    assert gateway.statuses("stream_audio").count(403) == 1  # not once per line
    assert Renderer(project, engine, library).statuses()[0] == "done"


def test_the_tiny_test_model_is_named_as_such(gateway):
    engine = _engine(gateway)
    assert not engine.is_test_model  # nothing known before connecting
    engine.connect()
    assert engine.is_test_model


def test_https_to_a_plain_http_server_says_so(gateway):
    plain = gateway.base.replace("http://", "https://")
    with pytest.raises(NetworkError, match="did not answer HTTPS.*http://"):
        RemoteEngine(plain, API_KEY).connect()


def test_a_line_that_hit_the_time_limit_is_not_run_again(gateway):
    """504: Cerebrium ended the request at response_grace_period; it ran, and would run as long again."""
    engine = _engine(gateway)
    engine.connect()
    gateway.inject(504)
    with pytest.raises(NetworkError, match="time limit.*response_grace_period"):
        list(engine.stream("Too long.", 0, max_audio_length_ms=240))
    assert gateway.statuses("stream_audio") == [504]
    gateway.inject(504)  # while a replica boots, the health call is simply asked again
    assert engine.reconnect()["protocol"] == 2
    assert gateway.statuses("health")[-2:] == [504, 200]
