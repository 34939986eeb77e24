"""Recovery after a crash: the session's unsaved work is written to a recovery file shortly after
each edit (and removed when it is saved or the app closes cleanly); at the next start, work that
an app left behind is offered back (Restore / Discard)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMainWindow, QMessageBox

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.recovery import Recovered, RecoveryStore
from csm_desktop.errors import CsmError
from csm_desktop.ui.session import ProjectSession

WRITE_DELAY_MS = 1_500  # after the last edit: typing is not slowed by a write per key


class RecoveryController(QObject):
    def __init__(self, session: ProjectSession, window: QMainWindow, store: RecoveryStore) -> None:
        super().__init__(window)
        self.session = session
        self.window = window  # the parent of its question; its status bar tells a failed write
        self.store = store
        self._failed = False  # a failed write is said once, until one works again
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(WRITE_DELAY_MS)
        self._timer.timeout.connect(self.write_now)
        session.edited.connect(self._timer.start)
        session.dirty_changed.connect(self._timer.start)
        session.project_replaced.connect(self.write_now)  # a project opened: nothing unsaved
        session.saved.connect(lambda _path: self.write_now())

    def write_now(self) -> None:
        """Keep the unsaved work now (or remove the file when nothing is unsaved)."""
        self._timer.stop()
        try:
            if self.session.dirty:
                self.store.write(self.session.project)
            else:
                self.store.clear()
        except (CsmError, OSError) as exc:
            if not self._failed:
                self.window.statusBar().showMessage(f"Unsaved work could not be kept for recovery: {exc}", 10_000)
            self._failed = True
        else:
            self._failed = False

    def close(self) -> None:
        """A clean close: nothing is left to recover."""
        self._timer.stop()
        self.store.close()

    # ----- at start -----------------------------------------------------------------------------------
    def offer(self) -> bool:
        """Offer back the work of apps that ended without closing, newest first; returns whether
        one was restored (the others wait for the next start)."""
        try:
            orphans = self.store.orphans()
        except OSError:
            return False  # no recovery folder to read: nothing to offer
        for recovered in orphans:
            if self.ask_restore(recovered):
                self.restore(recovered)
                return True
            self.store.discard(recovered)
        return False

    def ask_restore(self, recovered: Recovered) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?",
                          "CSM Desktop did not close properly last time. Restore the work that was not saved?",
                          QMessageBox.StandardButton.NoButton, self.window)
        box.setObjectName("recoveryBox")
        box.setInformativeText(recovered.describe())
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(restore)
        box.exec()
        return box.clickedButton() is restore

    def restore(self, recovered: Recovered) -> None:
        """Make the recovered work the open project, unsaved, and keep it as this session's."""
        saved = None
        if recovered.project.folder is not None:
            try:
                saved = Project.open(recovered.project.folder)
            except CsmError:
                saved = None  # the folder is gone or damaged: all of it counts as unsaved
        self.session.recover(recovered.project, saved)
        self.write_now()
        self.store.discard(recovered)
        self.window.statusBar().showMessage(f"Restored {recovered.project.name}. Save it to keep it.", 10_000)
