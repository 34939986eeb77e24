"""Tools > Check a file for the AI watermark…: the chosen files are read on the side pool (the
model's lane keeps rendering), and the verdicts are shown together, one line a file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from csm_desktop.dialogue.watermark import FileCheck, check_file
from csm_desktop.errors import Cancelled
from csm_desktop.ui.errors import show_error
from csm_desktop.ui.tasks import Job, NetworkTasks
from csm_desktop.ui.widgets.project_dialogs import documents_folder
from csm_desktop.wording import count_of

AUDIO_FILTER = "Audio (*.wav *.flac *.mp3 *.ogg *.opus *.m4a);;All files (*)"


class WatermarkCheck(QObject):
    shown = Signal(QMessageBox)  # the verdicts' box, once it is open

    def __init__(self, window: QMainWindow, tasks: NetworkTasks) -> None:
        super().__init__(window)
        self.window = window
        self.tasks = tasks
        self.job: Job | None = None

    def ask(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Check files for the AI watermark",
                                                str(documents_folder()), AUDIO_FILTER)
        if files:
            self.check([Path(f) for f in files])

    def check(self, paths: list[Path]) -> Job:
        """Read ``paths`` off the GUI thread; a check already running is stopped for the new one."""
        if self.job is not None:
            self.job.cancel()

        def run(job: Job) -> list[FileCheck]:
            found = []
            for path in paths:
                if job.should_stop():
                    raise Cancelled("The check was replaced by a newer one.")
                job.report(f"Checking {path.name} for the AI watermark…")
                found.append(check_file(path))
            return found

        job = self.job = self.tasks.submit(
            run, "watermark check", on_done=lambda found: self._show(job, found),
            on_error=lambda message, details: self._failed(job, message, details),
            on_cancel=lambda: self._ended(job),
            on_progress=lambda text: self.window.statusBar().showMessage(str(text)))
        return job

    def _ended(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self.window.statusBar().clearMessage()

    def _failed(self, job: Job, message: str, details: str) -> None:
        self._ended(job)
        show_error(self.window, message, details)

    def _show(self, job: Job, found: list[FileCheck]) -> None:
        self._ended(job)
        marked = sum(1 for f in found if f.detection is not None and f.detection.present)
        summary = (f"The AI watermark is in {marked} of {count_of(len(found), 'file')}." if len(found) > 1 else
                   "The AI watermark is in this file." if marked else
                   "This file could not be checked." if found[0].error else
                   "No AI watermark was found in this file.")
        box = QMessageBox(QMessageBox.Icon.Information, "AI watermark", summary, QMessageBox.StandardButton.Ok,
                          self.window)
        box.setObjectName("watermarkResult")
        box.setInformativeText(
            "\n".join(f.line() for f in found) + "\n\nThe watermark is Resemble's PerTh, which every take made by "
            "CSM Desktop carries (other generators use it too). Its absence does not prove a recording is real: "
            "heavy editing can remove it.")
        box.open()
        self.shown.emit(box)
