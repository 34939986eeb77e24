"""UI fixtures: a main window with a fake engine and a silent player; no thread outlives a test."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QThread

from fakes.engine import FakeEngine
from fakes.player import SilentPlayer


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    """A window; the question before a render about speakers with no voice clip is answered
    "Render anyway" (tests of it set ``w.voice_check.ask``)."""
    from csm_desktop.dialogue.voices import VoiceLibrary
    from csm_desktop.settings import Settings
    from csm_desktop.ui.controllers.voice_checks import RENDER, VoiceCheck
    from csm_desktop.ui.main_window import MainWindow

    monkeypatch.setattr(VoiceCheck, "ask", lambda self, fixes, voiceless: RENDER)
    windows = []

    def make(engine_factory=FakeEngine):
        w = MainWindow(engine_factory=engine_factory, settings=Settings(), library=VoiceLibrary(tmp_path / "lib"),
                       player=SilentPlayer())
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.session.dirty = False
        w.close()  # closeEvent stops the player and joins the model's thread
        assert not w.model_tasks.thread.isRunning(), "the model's thread was left running"
        w.deleteLater()


@pytest.fixture
def plan_states(qtbot):
    """Plan a window's line states now and wait for them (they are planned off the GUI thread)."""

    def plan(w):
        with qtbot.waitSignal(w.rendering.states_planned, timeout=10_000):
            w.rendering.refresh_states()
        return w.editor.states

    return plan


@pytest.fixture(autouse=True)
def _no_threads_left():
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        running = [t for t in app.findChildren(QThread) if t.isRunning()]
        assert not running


@pytest.fixture
def voice_files(tmp_path):
    t = np.arange(int(24_000 * 4)) / 24_000
    paths = []
    for name, freq in (("alice.wav", 190), ("bob.flac", 120)):
        p = tmp_path / name
        sf.write(p, 0.3 * np.sin(2 * np.pi * freq * t), 24_000)
        paths.append(str(p))
    return paths


@pytest.fixture(autouse=True)
def _fake_takes_pass_their_checks(monkeypatch):
    """The fake engine speaks tones, which the real voice-activity check rightly calls empty; the
    window's tests are about the window, so its takes pass (tests/unit/test_render_checks.py and
    tests/engine/test_render_checks_on_speech.py check real and faulty speech; the window's view
    of problems is tested with stored checks in test_take_checks_ui.py)."""
    from csm_desktop.dialogue import checking
    from csm_desktop.dialogue.checks import TakeCheck

    def passes(audio, rate, text, **_kwargs):
        seconds = len(audio) / rate
        return TakeCheck(duration_s=seconds, speech_start_s=0.0, speech_end_s=seconds, trailing_nonspeech_s=0.0,
                         longest_silence_s=0.0, expected_s=seconds, trim_start_s=0.0, trim_end_s=seconds, score=1.0)

    monkeypatch.setattr(checking, "check_take", passes)


@pytest.fixture(autouse=True)
def _no_blocking_dialogs(monkeypatch):
    """A modal dialog would hang a headless test: make any that opens fail loudly instead."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    def refuse(*args, **kwargs):
        raise AssertionError(f"a blocking dialog was opened: {args[1:3]}")

    for cls, names in ((QMessageBox, ("question", "warning", "critical", "information")),
                       (QFileDialog, ("getSaveFileName", "getOpenFileNames", "getExistingDirectory")),
                       (QInputDialog, ("getText",))):
        for name in names:
            monkeypatch.setattr(cls, name, staticmethod(refuse))
