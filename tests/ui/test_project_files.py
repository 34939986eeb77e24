"""Save and Open name what a project is (a .csmproj folder); rendering an unsaved project says
why it asks for a place, starting in the documents folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog

from csm_desktop.ui.widgets import project_dialogs
from csm_desktop.ui.widgets.project_dialogs import ProjectOpenDialog, ProjectSaveDialog


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home with a Documents folder (where QStandardPaths finds it with no user-dirs file)."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def test_the_save_dialog_offers_csm_projects_not_all_files(qtbot, tmp_path):
    dialog = ProjectSaveDialog(None, tmp_path / "Untitled.csmproj")
    qtbot.addWidget(dialog)
    assert dialog.nameFilters() == ["CSM projects (*.csmproj)"] and dialog.defaultSuffix() == "csmproj"
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave and dialog.reason.isHidden()
    asked = ProjectSaveDialog(None, tmp_path / "Untitled.csmproj", "Rendering needs a folder.")
    qtbot.addWidget(asked)
    asked.show()
    assert asked.windowTitle() == "Save the project first"
    assert asked.reason.isVisible() and asked.reason.text() == "Rendering needs a folder."


def _enter(qtbot, dialog, name: str) -> None:
    """Pick ``name`` in the dialog's file list and press Enter, as a user opens a folder."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QListView

    view = dialog.findChild(QListView, "listView")
    model = view.model()

    def row():
        root = view.rootIndex()
        return next((model.index(r, 0, root) for r in range(model.rowCount(root))
                     if model.index(r, 0, root).data() == name), None)

    qtbot.waitUntil(lambda: row() is not None, timeout=10_000)
    view.setFocus()
    view.setCurrentIndex(row())
    qtbot.keyClick(view, Qt.Key.Key_Return)


def test_the_open_dialog_takes_the_project_folder_itself(qtbot, tmp_path):
    from csm_desktop.dialogue.project import Project

    Project.new("Alice: Hi.\n").save(tmp_path / "Story")
    (tmp_path / "Plain.csmproj").mkdir()  # named like one, but no project inside
    (tmp_path / "Plain.csmproj" / "Inner").mkdir()
    dialog = ProjectOpenDialog(None, tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.nameFilters() == ["CSM projects (*.csmproj project.json)"]
    dialog.show()
    _enter(qtbot, dialog, "Plain.csmproj")  # no project inside: the dialog just goes in
    qtbot.waitUntil(lambda: Path(dialog.directory().absolutePath()) == tmp_path / "Plain.csmproj", timeout=5_000)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    dialog.setDirectory(str(tmp_path))
    _enter(qtbot, dialog, "Story.csmproj")
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen() == str(tmp_path / "Story.csmproj")


def test_open_accepts_the_folder_or_its_project_json(make_window, tmp_path, monkeypatch):
    from csm_desktop.dialogue.project import Project

    Project.new("Alice: Opened.\n").save(tmp_path / "Story")
    w = make_window()
    for chosen in (tmp_path / "Story.csmproj", tmp_path / "Story.csmproj" / "project.json"):
        w.new_project()
        monkeypatch.setattr(project_dialogs, "ask_open_path", lambda parent, start, c=chosen: str(c))
        w.open_dialog()
        assert w.project.folder == tmp_path / "Story.csmproj" and w.editor.toPlainText() == "Alice: Opened.\n"


def test_rendering_an_unsaved_project_says_why_and_starts_in_documents(make_window, home, monkeypatch, qtbot):
    asked = []

    def ask(parent, suggested, reason=""):
        asked.append((suggested, reason))
        return ""  # cancelled

    monkeypatch.setattr(project_dialogs, "ask_save_path", ask)
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.rendering.start_render(None) is None  # cancelled: nothing renders, nothing is lost
    ((suggested, reason),) = asked
    assert suggested == home / "Documents" / "Untitled.csmproj"
    assert "takes" in reason and "folder" in reason and "documents folder" in reason
    assert w.editor.toPlainText() == "Alice: Hello.\n" and w.project.folder is None

    monkeypatch.setattr(project_dialogs, "ask_save_path", lambda parent, suggested, reason="": str(home / "Documents" / "Hello"))
    job = w.rendering.start_render(None)
    assert job is not None and w.project.folder == home / "Documents" / "Hello.csmproj"
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=20_000)


def test_save_as_asks_with_no_reason_beside_the_open_project(make_window, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(project_dialogs, "ask_save_path",
                        lambda parent, suggested, reason="": asked.append((suggested, reason)) or "")
    w = make_window()
    w.save_as(tmp_path / "Here")
    w.save_as_dialog()
    assert asked == [(tmp_path / "Here.csmproj", "")]


def test_documents_folder_falls_back_to_home(tmp_path, monkeypatch, qapp):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert project_dialogs.documents_folder() == Path(tmp_path)
