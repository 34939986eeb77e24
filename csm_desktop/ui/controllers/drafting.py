"""Drafting a script with Gemini: the draft dialog's intents become a network job (cancellable)
and, once the user has read the draft, one undoable edit that puts it in the script."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QMainWindow

from csm_desktop.dialogue.drafting import Draft, DraftError, check_request, insert_draft
from csm_desktop.dialogue.script import parse_script
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import Job, NetworkTasks
from csm_desktop.ui.widgets.draft_dialog import DraftDialog
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.wording import count_of


class DraftController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, network: NetworkTasks,
                 window: QMainWindow) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.network = network
        self.window = window  # the parent of its dialog; its status bar tells news
        self.dialog: DraftDialog | None = None
        self.job: Job | None = None

    def open_dialog(self) -> DraftDialog:
        """Show the dialog (window-modal, not blocking), with the project's speakers filled in."""
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        names = [s.name for s in self.session.project.speakers]
        dialog = DraftDialog(self.window, names, script_empty=not self.session.project.script_text.strip())
        dialog.draft_requested.connect(self.draft)
        dialog.stop_requested.connect(self.stop)
        dialog.insert_requested.connect(self.insert)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _closed(self) -> None:
        self.stop()  # a draft nobody will read: its answer is dropped
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def draft(self, prompt: str, lines: int, speakers: list[str]) -> Job | None:
        """Ask Gemini for a draft on the network lane; the dialog shows it when it arrives."""
        from csm_desktop.services.gemini import GeminiClient

        dialog = self.dialog
        if dialog is None or self.job is not None:
            return None
        try:
            prompt, speakers = check_request(prompt, speakers, lines)
        except DraftError as exc:
            show_exception(dialog, exc)
            return None
        model = self.session.settings.gemini_model

        def job_fn(job: Job) -> Draft:
            return GeminiClient(model=model).draft(prompt, speakers, lines, should_stop=job.should_stop)

        def ended() -> bool:
            self.job = None
            return self.dialog is dialog  # the dialog may be gone: nothing to show

        def done(draft: Draft) -> None:
            if ended():
                dialog.show_draft(draft.text, draft.lines, list(draft.speakers), list(draft.notes))

        def failed(message: str, details: str) -> None:
            if ended():
                dialog.set_busy(False, "No draft: see the message. Change what is needed and press Draft again.")
                show_error(dialog, message, details)

        def cancelled() -> None:
            if ended():
                dialog.set_busy(False, "Stopped. Press Draft to ask again.")

        self.job = self.network.submit(job_fn, "draft", on_done=done, on_error=failed, on_cancel=cancelled)
        dialog.set_busy(True, "Drafting with Gemini…")
        return self.job

    def insert(self, text: str, replace: bool) -> None:
        """Put the draft in the script (after the cursor's line, or instead of the script) as one
        undoable edit that also adds the speakers it names, and close the dialog."""
        cursor_line = self.editor.textCursor().blockNumber() + 1
        new_text, start = insert_draft(self.session.project.script_text, text, None if replace else cursor_line)
        count = len(parse_script(text).utterances)
        self.session.replace_script(new_text, parse_script(text).speakers(), f"Insert a drafted script ({count_of(count, 'line')})")
        block = self.editor.document().findBlockByNumber(start - 1)
        if block.isValid():
            cursor = QTextCursor(block)
            self.editor.setTextCursor(cursor)
            self.editor.centerCursor()
        self.window.statusBar().showMessage(f"Inserted {count_of(count, 'drafted line')}. Edit › Undo takes them out.", 8000)
        if self.dialog is not None:
            self.dialog.accept()
        self.editor.setFocus()
