"""Parallel rendering over real servers: two ``EngineServer``s, each with its own tiny CSM, give
the takes one server gives line by line; ``render --remote URL --parallel 2`` end to end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.cli import main
from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.services.engine_server import EngineServer
from csm_desktop.services.remote import RemoteEngine

TOKEN = "parallel-test-token"
SCRIPT = "".join(f"[scene Scene {s}]\nAlice: Scene {s} begins here.\nBob: And scene {s} ends.\n" for s in range(3))


@pytest.fixture(scope="module")
def servers(tiny_generator, tiny_folder):
    """Two servers, two generators: one generator renders one line at a time."""
    from csm_desktop.engine import load_csm_1b

    started = [EngineServer(gen, TOKEN, port=0).start()
               for gen in (tiny_generator, load_csm_1b("cpu", model=tiny_folder))]
    yield started
    for srv in started:
        srv.stop()


def _engine(server) -> RemoteEngine:
    engine = RemoteEngine(server.url, TOKEN)
    assert engine.model_id.startswith("remote:")  # the server's model: the same from both servers
    return engine


def _project(folder, library, clip):
    project = Project.new(SCRIPT)
    project.settings.seed = 11
    project.settings.max_line_ms = 400
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(folder)
    return project


def _takes(project):
    """Each line's take: its key, the codes it was decoded from, and its samples."""
    keys = [project.line(i).chosen_take for i in range(len(project.script().utterances))]
    codes = [np.load(project.takes_dir / f"{k}.codes.npy") for k in keys]
    return keys, codes, [sf.read(project.takes_dir / f"{k}.wav", dtype="float32")[0] for k in keys]


def test_two_servers_render_the_takes_one_server_renders(servers, tmp_path):
    library = VoiceLibrary(tmp_path / "lib")
    t = np.arange(24_000) / 24_000
    sf.write(tmp_path / "alice.wav", 0.3 * np.sin(2 * np.pi * 190 * t), 24_000)
    clip = library.import_clip(tmp_path / "alice.wav", speaker="Alice", transcript="This is Alice.")
    one = _project(tmp_path / "one", library, clip)
    sequential = Renderer(one, _engine(servers[0]), library).render()
    many = _project(tmp_path / "many", library, clip)
    chunks = []
    report = render_parallel(many, [_engine(s) for s in servers], library=library,
                             on_chunk=lambda line, chunk: chunks.append(line))
    assert report == sequential and report.generated == list(range(6))
    keys, codes, audio = _takes(many)
    keys_one, codes_one, audio_one = _takes(one)
    assert keys == keys_one
    assert all(np.array_equal(a, b) for a, b in zip(codes, codes_one))
    # The same codes decode to the same audio but for the last bit or two, now and then: about
    # one run in forty, one line differed by up to 5e-8 (also with one torch thread) while two
    # generators shared this process. Separate server processes (bench/parallel.py) match exactly.
    for a, b in zip(audio, audio_one):
        assert a.shape == b.shape and np.abs(a - b).max() <= 1e-6
    assert chunks == sorted(chunks) and 0 in chunks


def test_render_command_with_remote_and_parallel(servers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CEREBRIUM_API_KEY", TOKEN)
    script = tmp_path / "dialogue.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    url = servers[0].url
    args = ["render", str(script), "-o", str(tmp_path / "out.wav"), "--max-line-ms", "400", "--seed", "5",
            "--subtitles", str(tmp_path / "out.srt"), "--remote", url]
    assert main([*args, "--parallel", "2"]) == 0
    err = capsys.readouterr().err
    assert "2 workers" in err and err.count("done,") == 6
    assert sf.info(tmp_path / "out.wav").samplerate == 24_000
    assert (tmp_path / "out.srt").read_text(encoding="utf-8").count("-->") == 6
    # The same keys one worker at a time: nothing to generate.
    assert main([*args, "--parallel", "1"]) == 0
    assert capsys.readouterr().err.count("unchanged, take reused") == 6


@pytest.mark.parametrize("extra, message", [
    (["--parallel", "2"], "--parallel needs --remote"),
    (["--remote", "http://127.0.0.1:9", "--parallel", "0"], "from 1 to 64"),
    (["--remote", "http://127.0.0.1:9", "--parallel", "65"], "from 1 to 64"),
    (["--remote", "ftp://example.com"], "starting with https://"),
    (["--remote", "http://127.0.0.1:9"], "CEREBRIUM_API_KEY"),
])
def test_render_command_refuses_bad_remote_options(tmp_path, monkeypatch, capsys, extra, message):
    import keyring

    from csm_desktop.services import credentials

    monkeypatch.delenv("CEREBRIUM_API_KEY", raising=False)
    monkeypatch.setattr(keyring, "get_password", lambda *a: None)  # no key stored
    monkeypatch.setattr(credentials, "_session", {})
    script = tmp_path / "dialogue.txt"
    script.write_text("Alice: Hi.\n", encoding="utf-8")
    assert main(["render", str(script), "-o", str(tmp_path / "out.wav"), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.wav").exists()


def test_remote_urls_are_used_in_turn(monkeypatch):
    from csm_desktop import cli

    monkeypatch.setenv("CEREBRIUM_API_KEY", TOKEN)
    args = cli.build_parser().parse_args(["render", "s.txt", "-o", "o.wav", "--remote", "https://a.example/x",
                                          "--remote", "https://b.example/y", "--parallel", "5"])
    engines = cli._render_engines(args, cli._parallel_workers(args))
    a, b = "https://a.example/x", "https://b.example/y"
    assert [e.url for e in engines] == [a, b, a, b, a]
    assert len({id(e) for e in engines}) == 5


def test_render_progress_names_the_files_line_numbers(servers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CEREBRIUM_API_KEY", TOKEN)
    script = tmp_path / "numbered.txt"
    script.write_text("# a play\n[scene One]\nAlice: First words.\n\n[scene Two]\nBob: Second words.\n", encoding="utf-8")
    assert main(["render", str(script), "-o", str(tmp_path / "o.wav"), "--max-line-ms", "240",
                 "--remote", servers[0].url]) == 0
    err = capsys.readouterr().err
    assert "Line   3 (1/2) done" in err and "Line   6 (2/2) done" in err, err
