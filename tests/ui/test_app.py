"""run_app: the window opens, and without a model the set-up dialog is offered first."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from csm_desktop.ui import app as app_module


def test_run_app_opens_the_window_and_offers_model_setup(qtbot, monkeypatch):
    from csm_desktop.ui.main_window import MainWindow
    from csm_desktop.ui.model_setup import ModelSetupDialog

    offered = []
    monkeypatch.setattr(ModelSetupDialog, "exec", lambda self: offered.append(self) or 0)
    seen = []

    def fake_exec(self):
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        seen.extend(windows)
        for w in windows:
            w.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_module.run_app([]) == 0
    assert seen and seen[0].windowTitle() == "Untitled — CSM Desktop"
    assert offered, "the model set-up dialog was not offered although no model is available"


def test_collector_runs_only_on_the_gui_thread_while_a_window_is_open(make_window, qtbot):
    import gc

    assert gc.isenabled()
    w = make_window()
    assert not gc.isenabled()  # the engine thread cannot trigger a collection now
    threshold = gc.get_threshold()[0]
    junk = [[] for _ in range(3 * threshold)]  # tracked allocations pile up: nothing collects them now
    assert gc.get_count()[0] > threshold
    del junk
    qtbot.waitUntil(lambda: gc.get_count()[0] < threshold, timeout=5000)  # the GUI-thread timer collected
    w.dirty = False
    w.close()
    assert gc.isenabled()
