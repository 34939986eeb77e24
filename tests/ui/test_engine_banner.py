"""The engine label and the test-model banner say what is (or will be) used, and stay put:
they no longer vanish after a settings change, a Stop, or a Gemini key typed in Settings."""

from __future__ import annotations

import json
import threading

import torch

from csm_desktop.ui.controllers.rendering import TEST_MODEL_BANNER
from fakes.engine import FakeEngine


class TinyLike(FakeEngine):
    """What the tiny test model reports of itself (instant, like the fake)."""

    is_test_model = True
    device = torch.device("cpu")
    accel = "off"


def _tiny_settings(w, tmp_path):
    folder = tmp_path / "tiny-test-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"csm_desktop_test_model": True}))
    w.settings.model = str(folder)
    return folder


def _banner(w) -> tuple[bool, str]:
    return (not w.banner.isHidden(), w.engine_label.text())


def test_the_test_model_is_said_before_and_after_it_loads_and_after_a_settings_change(make_window, qtbot,
                                                                                      tmp_path):
    w = make_window(TinyLike)
    _tiny_settings(w, tmp_path)
    w.drop_engine()  # the settings now name the tiny model: said before anything loads
    qtbot.waitUntil(lambda: _banner(w) == (True, "Local model · loads at the first render"), timeout=5_000)
    assert w.banner.text() == TEST_MODEL_BANNER
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.save_as(tmp_path / "Tiny")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=20_000)
    assert _banner(w) == (True, "CPU · plain PyTorch")
    w.drop_engine()  # e.g. OK in Settings: the same model, so the banner stays
    qtbot.waitUntil(lambda: w.engine_label.text() == "Local model · loads at the first render", timeout=5_000)
    assert _banner(w)[0]


def test_stop_keeps_the_label_and_the_banner(make_window, qtbot, tmp_path):
    started, go = threading.Event(), threading.Event()

    class Slow(TinyLike):
        def stream(self, *args, **kwargs):
            started.set()
            go.wait(10)
            yield from super().stream(*args, **kwargs)

    w = make_window(Slow)
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Stop")
    w.rendering.start_render(None)
    assert started.wait(10)
    qtbot.waitUntil(lambda: _banner(w) == (True, "CPU · plain PyTorch"), timeout=5_000)
    w.rendering.stop()
    go.set()
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=10_000)
    assert _banner(w) == (True, "CPU · plain PyTorch")


def test_switching_to_remote_says_so_and_drops_the_test_model_banner(make_window, qtbot, tmp_path):
    w = make_window(TinyLike)
    _tiny_settings(w, tmp_path)
    w.drop_engine()
    qtbot.waitUntil(lambda: _banner(w)[0], timeout=5_000)
    w.settings.engine, w.settings.remote_url = "remote", ""
    w.drop_engine()
    qtbot.waitUntil(lambda: _banner(w) == (False, "Remote engine · not connected"), timeout=5_000)
    assert "no URL yet" in w.engine_label.toolTip()


def test_a_gemini_key_typed_in_settings_does_not_reload_the_engine(make_window, monkeypatch):
    from csm_desktop.services import credentials
    from csm_desktop.ui.settings_dialog import SettingsDialog

    monkeypatch.setattr(credentials, "set_secret", lambda name, value: None)
    w = make_window()
    dialog = SettingsDialog(w, w.settings)
    dialog.secrets["google"].setText("AIza-new-key")
    assert dialog.apply() is False
    dialog = SettingsDialog(w, w.settings)
    dialog.secrets["huggingface"].setText("hf_new")
    assert dialog.apply() is True
