"""The window with a remote engine behind the fake Cerebrium gateway: the cold start is said in
the status bar, scenes render on two replicas at once, and Stop interrupts a cold start."""

from __future__ import annotations

import pytest

from csm_desktop.services import remote
from csm_desktop.services.remote import RemoteEngine
from fakes.cerebrium import API_KEY, FakeCerebrium

SCRIPT = "".join(f"[scene {s}]\nAlice: Scene {s} opens.\nBob: Scene {s} closes.\n" for s in range(3))


@pytest.fixture
def gateway(tiny_folder, monkeypatch):
    monkeypatch.setenv("CSM_MODEL", str(tiny_folder))
    monkeypatch.setattr(remote, "COLD_START_NOTICE_S", 0.3)
    with FakeCerebrium(cold_start_s=1.0) as fake:
        yield fake


def test_cold_start_is_shown_and_scenes_render_on_two_replicas(make_window, gateway, qtbot, tmp_path):
    messages = []
    w = make_window(engine_factory=lambda: RemoteEngine(gateway.base, API_KEY))
    w.statusBar().messageChanged.connect(messages.append)
    w.settings.engine, w.settings.remote_url, w.settings.remote_parallel = "remote", gateway.base, 2
    w.rendering.warm_up_remote()
    qtbot.waitUntil(lambda: any("Remote engine ready" in m for m in messages), timeout=60_000)
    assert remote.COLD_START in messages
    assert "Model:" in w.engine_label.toolTip()
    w.editor.setPlainText(SCRIPT)
    w.project.settings.max_line_ms = 400
    assert w.save_as(tmp_path / "Scenes")
    w.act_live.setChecked(True)
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=120_000)
    assert all(w.project.line(i).chosen_take for i in range(6))
    assert w.player.played and len(w.player.played[0]) >= 1920  # streamed audio was played as it came
    assert gateway.boots == 2  # the second scene found the first replica busy and got its own
    assert len({c.replica for c in gateway.calls if c.function == "stream_audio"}) == 2


def test_stop_interrupts_a_cold_start(make_window, tiny_folder, monkeypatch, qtbot, tmp_path):
    monkeypatch.setenv("CSM_MODEL", str(tiny_folder))
    with FakeCerebrium(cold_start_s=60) as fake:
        w = make_window(engine_factory=lambda: RemoteEngine(fake.base, API_KEY))
        w.settings.engine, w.settings.remote_url = "remote", fake.base
        w.editor.setPlainText("Alice: Hello.\n")
        assert w.save_as(tmp_path / "Cold")
        assert w.rendering.start_render(None) is not None
        qtbot.waitUntil(lambda: fake.boots == 1, timeout=10_000)
        w.rendering.stop()
        qtbot.waitUntil(lambda: w.rendering.job is None, timeout=10_000)  # not the 60 s boot
        assert "Stopped" in w.statusBar().currentMessage()


def test_stop_also_stops_a_render_queued_behind_a_warm_up(make_window, qtbot, tmp_path):
    import threading

    from fakes.engine import FakeEngine

    began, release = threading.Event(), threading.Event()

    def slow_remote():  # a warm-up that takes its time (a cold start)
        began.set()
        release.wait(10)
        return FakeEngine()

    w = make_window(engine_factory=slow_remote)
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.save_as(tmp_path / "Queued")
    w.settings.engine, w.settings.remote_url = "remote", "http://127.0.0.1:9"
    w.rendering.warm_up_remote()
    assert w.rendering.warm_job is not None and began.wait(5)
    render = w.rendering.start_render(None)
    assert render is not None
    w.rendering.stop()  # while the render waits behind the warm-up
    assert render.should_stop()
    release.set()
    qtbot.waitUntil(lambda: w.rendering.job is None and w.rendering.warm_job is None, timeout=10_000)
    assert "Stopped" in w.statusBar().currentMessage()
    assert w.editor.states == ["none"]  # the render never ran


def test_settings_keep_remote_fields_apart_and_refuse_an_unusable_url(make_window):
    from csm_desktop.ui.settings_dialog import SettingsDialog

    w = make_window()
    dialog = SettingsDialog(w, w.settings)
    assert dialog.device.isEnabled() and not dialog.remote_url.isEnabled()
    dialog.choose_remote()
    assert not dialog.device.isEnabled() and not dialog.model.isEnabled() and dialog.remote_parallel.isEnabled()
    dialog.remote_url.setText("127.0.0.1:8765")
    dialog.accept()
    assert not dialog.result() and "not a web address" in dialog.remote_problem.text()
    assert dialog.remote_url.text() == "127.0.0.1:8765"  # kept for the user to correct
    dialog.remote_url.setText("http://127.0.0.1:8765")
    dialog.accept()
    assert dialog.result()


def test_messages_name_the_editor_line_not_the_utterance_count(make_window, qtbot, tmp_path, monkeypatch):
    import csm_desktop.ui.controllers.rendering as rendering
    from fakes.engine import FakeEngine

    errors, shown = [], []
    monkeypatch.setattr(rendering, "show_error", lambda parent, message, details="": errors.append(message))
    w = make_window(engine_factory=lambda: FakeEngine(fail_on="Broken"))
    w.editor.setPlainText("# a comment\n[scene One]\nAlice: Fine.\n\n[scene Two]\nBob: Broken line.\n")
    assert w.save_as(tmp_path / "Numbers")
    w.statusBar().messageChanged.connect(shown.append)
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert any(m.startswith("Line 6 failed") for m in shown), shown
    assert errors and "Line 6:" in errors[0]


def test_first_run_offers_a_remote_engine(make_window, monkeypatch):
    from csm_desktop.ui.model_setup import ModelSetupDialog
    from csm_desktop.ui.settings_dialog import SettingsDialog

    seen = {}

    def choose_remote(dialog):
        dialog._choose_remote()
        return 0

    def settings_shown(dialog):
        seen["engine"] = dialog.engine.currentData()
        seen["url_enabled"] = dialog.remote_url.isEnabled()
        return 0

    monkeypatch.setattr(ModelSetupDialog, "exec", choose_remote)
    monkeypatch.setattr(SettingsDialog, "exec", settings_shown)
    w = make_window()
    assert w.model_setup_dialog() is False  # cancelled in Settings: still local
    assert seen == {"engine": "remote", "url_enabled": True}
