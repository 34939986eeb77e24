"""Recovery after a kill (a real app process, SIGKILLed, then a restart), and what the window
opens at start: the project named on the command line, else the last one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

ROOT = Path(__file__).resolve().parents[2]

APP = """
import sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest
from PySide6.QtGui import QTextCursor
app = QApplication([])
from fakes.engine import FakeEngine
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.settings import Settings
from csm_desktop.ui.main_window import MainWindow

w = MainWindow(engine_factory=FakeEngine, settings=Settings(), library=VoiceLibrary(sys.argv[1]))
w.show()
if sys.argv[2]:
    w.editor.setPlainText("Alice: Saved line.\\n")
    w.save_as(sys.argv[2])
w.editor.setFocus()
w.editor.moveCursor(QTextCursor.MoveOperation.End)
QTest.keyClicks(w.editor, "Bob: Typed and never saved.")
deadline = time.monotonic() + 30
while not w.recovery.store.path.exists() and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.02)
print("READY" if w.recovery.store.path.exists() else "NO FILE", flush=True)
while True:
    app.processEvents()
    time.sleep(0.02)
"""


def _run_and_kill(tmp_path: Path, project: Path | None) -> None:
    """Start the app in its own process, type a line, wait for the recovery file, then SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-c", APP, str(tmp_path / "lib-killed"), str(project or "")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line == "READY", (line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def _answer(text: str) -> list[str]:
    """Click ``text`` on the next modal box; returns what the box said (once it was answered)."""
    seen: list[str] = []

    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.extend([box.windowTitle(), box.text(), box.informativeText()])
        next(b for b in box.buttons() if b.text() == text).click()

    QTimer.singleShot(0, click)
    return seen


def test_after_a_kill_the_next_start_restores_the_unsaved_text(make_window, qtbot, tmp_path):
    folder = tmp_path / "Story.csmproj"
    _run_and_kill(tmp_path, folder)
    w = make_window()
    seen = _answer("Restore")
    w.start_up([])
    assert seen[0] == "Restore unsaved work?" and "did not close properly" in seen[1]
    assert f"Story ({folder})" in seen[2] and "2 script lines" in seen[2]
    assert w.editor.toPlainText() == "Alice: Saved line.\nBob: Typed and never saved."
    assert w.project.folder == folder and w.dirty and w.windowTitle().startswith("*Story")
    assert "Bob" in {s.name for s in w.project.speakers}
    # Restored work is this session's now: the killed session's file is gone, ours is written.
    assert [p for p in w.recovery.store.root.glob("session-*.json")] == [w.recovery.store.path]
    assert w.save()
    assert not w.recovery.store.path.exists()
    assert "Bob: Typed and never saved." in (folder / "project.json").read_text()


def test_discarded_work_is_not_offered_again_and_a_clean_close_leaves_nothing(make_window, qtbot, tmp_path):
    _run_and_kill(tmp_path, None)
    w = make_window()
    seen = _answer("Discard")
    w.start_up([])
    assert "An untitled project" in seen[2]
    assert w.editor.toPlainText() == "" and not w.dirty
    w.editor.setPlainText("Alice: Typed, then closed cleanly.\n")
    w.recovery.write_now()
    assert w.recovery.store.path.exists()
    w.session.dirty = False
    w.close()
    assert list(w.recovery.store.root.glob("session-*")) == []
    make_window().start_up([])  # nothing to offer: the fixture would refuse a box


def test_edits_are_kept_shortly_after_and_the_file_goes_when_saved(make_window, qtbot, tmp_path):
    w = make_window()
    path = w.recovery.store.path
    w.editor.setPlainText("Alice: One.\n")
    assert not path.exists()  # not on every key: shortly after
    qtbot.waitUntil(path.exists, timeout=5_000)
    assert "Alice: One." in path.read_text()
    w.editor.setPlainText("")  # back to nothing unsaved: nothing to recover
    qtbot.waitUntil(lambda: not path.exists(), timeout=5_000)
    w.editor.setPlainText("Alice: Two.\n")
    qtbot.waitUntil(path.exists, timeout=5_000)
    w.save_as(tmp_path / "Saved")
    assert not path.exists()


def test_a_failed_write_is_said_once_and_work_goes_on(make_window, qtbot, tmp_path, monkeypatch):
    from csm_desktop.fileio import WriteError

    w = make_window()

    def full(project):
        raise WriteError("No space left on the disk.")

    monkeypatch.setattr(w.recovery.store, "write", full)
    w.editor.setPlainText("Alice: Hi.\n")
    w.recovery.write_now()
    assert "could not be kept for recovery: No space left" in w.statusBar().currentMessage()
    w.statusBar().clearMessage()
    w.recovery.write_now()
    assert w.statusBar().currentMessage() == ""


def _saved_project(tmp_path: Path, name: str, text: str) -> Path:
    from csm_desktop.dialogue.project import Project

    project = Project.new(text)
    project.save(tmp_path / name)
    return project.folder


def test_the_command_line_project_opens_as_a_folder_or_its_project_json(make_window, tmp_path):
    folder = _saved_project(tmp_path, "Cli", "Alice: From the command line.\n")
    w = make_window()
    w.start_up([str(folder)])
    assert w.project.folder == folder and w.editor.toPlainText() == "Alice: From the command line.\n"
    w2 = make_window()
    w2.start_up([str(folder / "project.json"), str(tmp_path / "Other.csmproj")])
    assert w2.project.folder == folder
    assert "one project at a time" in w2.statusBar().currentMessage()


def test_a_command_line_path_that_is_no_project_is_said(make_window, tmp_path):
    w = make_window()
    w.start_up([str(tmp_path / "Missing.csmproj")])
    box = next(b for b in w.findChildren(QMessageBox, "errorBox") if b.isVisible())
    assert "is not a CSM Desktop project" in box.text() and w.project.folder is None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_app_starts_with_the_last_project_unless_turned_off(make_window, tmp_path, enabled):
    folder = _saved_project(tmp_path, "Last", "Alice: Where I stopped.\n")
    first = make_window()
    first.open_project(folder)
    assert first.settings.last_project == str(folder)
    w = make_window()
    w.settings.last_project = first.settings.last_project
    w.settings.open_last_project = enabled
    w.start_up([])
    assert (w.project.folder == folder) is enabled
    first.new_project()
    assert first.settings.last_project == ""  # closed on an untitled one: a new one next time


def test_a_last_project_that_is_gone_starts_a_new_one_and_says_so(make_window, tmp_path):
    w = make_window()
    w.settings.last_project = str(tmp_path / "Gone.csmproj")
    w.start_up([])
    assert w.project.folder is None
    assert "The last project could not be opened" in w.statusBar().currentMessage()


def test_the_start_up_setting_is_in_settings(make_window):
    from csm_desktop.settings import Settings
    from csm_desktop.ui.settings_dialog import SettingsDialog

    w = make_window()
    dialog = SettingsDialog(w, w.settings)
    assert dialog.open_last.isChecked()  # on by default
    dialog.open_last.setChecked(False)
    dialog.apply()
    assert w.settings.open_last_project is False and Settings.load().open_last_project is False
