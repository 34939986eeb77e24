"""Rendering with the tiny real model: a three-speaker project end to end, and a render that is
killed (kill -9) half-way and run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from csm_desktop.cli import main
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.voices import VoiceLibrary

SCRIPT = """# three speakers
Alice: Hey, how are you doing?
Bob: Pretty good, pretty good.
[pause 500ms]
Carol: Hello, both of you!
Alice: Shall we start?
"""


def test_three_speakers_with_voice_clip_cli_end_to_end(tiny_folder, tmp_path, monkeypatch):
    lib = VoiceLibrary()  # the isolated user data dir
    t = np.arange(24_000 * 3) / 24_000
    sf.write(tmp_path / "alice.wav", 0.3 * np.sin(2 * np.pi * 200 * t), 48_000)
    clip = lib.import_clip(tmp_path / "alice.wav", speaker="Alice", transcript="This is my voice.")
    project = Project.new(SCRIPT)
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(tmp_path / "Three")

    out = tmp_path / "dialogue.wav"
    args = ["render", str(project.folder), "-o", str(out), "--model", str(tiny_folder), "--device", "cpu",
            "--max-line-ms", "800", "--subtitles", str(tmp_path / "d.srt"), "--stems", str(tmp_path / "stems"),
            "--i-have-consent"]  # Alice's clip: permission confirmed (and recorded)
    assert main(args) == 0
    saved = Project.open(project.folder)
    assert all(saved.line(i).chosen_take for i in range(4))
    assert sf.info(out).samplerate == 24_000
    assert sorted(p.name for p in (tmp_path / "stems" / "speakers").iterdir()) == ["Alice.wav", "Bob.wav", "Carol.wav"]
    assert "Carol: Hello, both of you!" in (tmp_path / "d.srt").read_text()
    # The clip was encoded once and cached.
    assert len(list((lib.codes_dir).iterdir())) == 1
    # Rendering again generates nothing.
    renderer = Renderer(saved, _load(tiny_folder), lib)
    assert renderer.statuses() == ["done"] * 4
    assert renderer.render().reused == [0, 1, 2, 3]


def _load(folder):
    from csm_desktop.engine import load_csm_1b

    return load_csm_1b("cpu", model=folder)


def test_render_killed_midway_resumes_with_finished_takes(tiny_folder, tmp_path):
    project = Project.new("\n".join(f"{'Alice' if i % 2 else 'Bob'}: Line number {i}." for i in range(6)))
    project.settings.max_line_ms = 4_000
    project.save(tmp_path / "Killed")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "csm_desktop.cli", "render", str(project.folder), "-o", str(tmp_path / "o.wav"),
         "--model", str(tiny_folder), "--device", "cpu"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    takes = project.folder / "takes"

    def records():  # a take's record, not its checks (<key>.check.json)
        return [p for p in takes.glob("*.json") if not p.name.endswith(".check.json")]

    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len(records()) < 2:
            assert proc.poll() is None, "the render finished before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = len(records())
    assert 2 <= finished < 6
    reopened = Project.open(project.folder)  # as saved before the render: no chosen takes
    report = Renderer(reopened, _load(tiny_folder)).render()
    assert report.reused == list(range(finished))
    assert report.generated == list(range(finished, 6))


def test_ctrl_c_stops_cleanly_and_saves_finished_takes(tiny_folder, tmp_path):
    # Enough lines that the render cannot finish between the first take and the signal, even
    # on a loaded machine (it did once with 6 lines while pip ran beside it).
    project = Project.new("\n".join(f"Bob: Sentence {i}." for i in range(40)))
    project.settings.max_line_ms = 4_000
    project.save(tmp_path / "Interrupted")
    proc = subprocess.Popen(
        [sys.executable, "-m", "csm_desktop.cli", "render", str(project.folder), "-o", str(tmp_path / "o.wav"),
         "--model", str(tiny_folder), "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    takes = project.folder / "takes"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(takes.glob("*.json")):
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Finished takes are kept" in err and "Traceback" not in err
    saved = Project.open(project.folder)
    assert saved.line(0).chosen_take is not None
    assert not (tmp_path / "o.wav").exists()
