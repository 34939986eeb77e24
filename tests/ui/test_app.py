"""run_app: the window opens, and without a model the set-up dialog is offered first."""

from __future__ import annotations

import shiboken6
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
        seen.extend((w, w.windowTitle()) for w in windows)
        for w in windows:
            w.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_module.run_app([]) == 0
    assert seen and seen[0][1] == "Untitled — CSM Desktop"
    assert offered, "the model set-up dialog was not offered although no model is available"
    # Deleted before run_app returns, in Qt's own order, not by PySide's clean-up at exit (which
    # once deleted a settings dialog's children twice: "shared QObject was deleted directly").
    assert not shiboken6.isValid(seen[0][0])
    assert not any(isinstance(w, MainWindow) for w in QApplication.topLevelWidgets())


def test_the_loaded_engine_is_frozen_out_of_the_collector(make_window, qtbot, tmp_path):
    import gc

    from fakes.engine import FakeEngine

    made = []
    w = make_window(lambda: made.append(FakeEngine()) or made[-1])
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.save_as(tmp_path / "Frozen")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=10_000)
    engine, = made
    assert gc.is_tracked(engine)
    assert not any(o is engine for o in gc.get_objects())  # in the permanent generation: never scanned
