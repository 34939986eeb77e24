"""Choosing where a project goes and which one to open. A project is a ``NAME.csmproj`` folder:
Save as offers "CSM projects (*.csmproj)" and says, when a render asks for it, why a place on
disk is needed; Open takes the ``.csmproj`` folder itself (entering it is enough) or the
``project.json`` inside it. Qt's own dialogs, so that this works the same on every desktop."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QDialog, QFileDialog, QGridLayout, QLabel, QWidget

from csm_desktop.dialogue.project import PROJECT_FILE, SUFFIX

SAVE_FILTER = "CSM projects (*.csmproj)"
OPEN_FILTER = "CSM projects (*.csmproj project.json)"


def documents_folder() -> Path:
    """The user's documents folder (where projects go by default), else the home folder."""
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(found) if found and Path(found).is_dir() else Path.home()


class ProjectSaveDialog(QFileDialog):
    def __init__(self, parent: QWidget | None, suggested: Path, reason: str = "") -> None:
        super().__init__(parent, "Save the project first" if reason else "Save project as", str(suggested))
        self.setObjectName("projectSaveDialog")
        self.setOption(QFileDialog.Option.DontUseNativeDialog)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self.setNameFilter(SAVE_FILTER)
        self.setDefaultSuffix(SUFFIX.lstrip("."))
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Project name:")
        self.reason = QLabel(reason)
        self.reason.setObjectName("saveReason")
        self.reason.setWordWrap(True)
        self.reason.setVisible(bool(reason))
        layout = self.layout()
        if isinstance(layout, QGridLayout):  # Qt's own dialog: the reason goes under its fields
            layout.addWidget(self.reason, layout.rowCount(), 0, 1, layout.columnCount())

    def chosen(self) -> str:
        files = self.selectedFiles()
        return files[0] if files else ""


class ProjectOpenDialog(QFileDialog):
    def __init__(self, parent: QWidget | None, start: Path) -> None:
        super().__init__(parent, "Open project", str(start))
        self.setObjectName("projectOpenDialog")
        self.setOption(QFileDialog.Option.DontUseNativeDialog)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        self.setFileMode(QFileDialog.FileMode.ExistingFile)
        self.setNameFilter(OPEN_FILTER)
        self._project: str = ""
        self.directoryEntered.connect(self._entered)

    def _entered(self, folder: str) -> None:
        """Opening a project's folder opens the project (no need to pick its project.json)."""
        if folder.endswith(SUFFIX) and (Path(folder) / PROJECT_FILE).is_file():
            self._project = folder
            QDialog.accept(self)  # QFileDialog's own accept wants a file picked

    def chosen(self) -> str:
        if self._project:
            return self._project
        files = self.selectedFiles()
        return files[0] if files else ""


def ask_save_path(parent: QWidget | None, suggested: Path, reason: str = "") -> str:
    """Where to save the project ("" when cancelled); ``reason``: why it is asked, shown in the dialog."""
    dialog = ProjectSaveDialog(parent, suggested, reason)
    return dialog.chosen() if dialog.exec() else ""


def ask_open_path(parent: QWidget | None, start: Path) -> str:
    """A project's folder or its project.json ("" when cancelled)."""
    dialog = ProjectOpenDialog(parent, start)
    return dialog.chosen() if dialog.exec() else ""
