"""Exporting the dialogue: the export dialog (its choices remembered), a question when lines are
out of date or have no take (render them first, export anyway, or cancel), and a "Show in
folder" notice when the files are written.

Out-of-date lines are found as the gutter finds them, off the GUI thread, from a copy of the
project and the loaded engine's planning facts (or, before the engine loads, the takes' records).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton, QWidget

from csm_desktop.dialogue.export import ExportOptions, export_dialogue
from csm_desktop.dialogue.staleness import LineStatus, line_statuses, with_problems
from csm_desktop.errors import CsmError
from csm_desktop.ui.engine_host import EngineFacts, EngineHost, PlanningView
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import NetworkTasks

log = logging.getLogger(__name__)
NOTICE_MS = 60_000  # how long "Show in folder" stays in the status bar


def _numbers(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:8])) + (", …" if len(lines) > 8 else "")
    return f"line {shown}" if len(lines) == 1 else f"lines {shown}"


class ExportNotice(QWidget):
    """A status-bar note of the last export with a button that opens its folder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportNotice")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.show_button = QPushButton("Show in folder")
        self.close_button = QPushButton("✕")
        self.close_button.setFlat(True)
        self.close_button.setToolTip("Hide this note")
        self.close_button.clicked.connect(self.hide)
        for w in (self.label, self.show_button, self.close_button):
            row.addWidget(w)
        self.folder: Path | None = None
        self.show_button.clicked.connect(self.open_folder)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def tell(self, text: str, folder: Path) -> None:
        self.label.setText(text)
        self.folder = folder
        self.show()
        self._timer.start(NOTICE_MS)

    def open_folder(self) -> bool:
        return self.folder is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))


class ExportController(QObject):
    render_requested = Signal(object)  # list[int]: utterances to render before the export goes on

    def __init__(self, session: ProjectSession, side_tasks: NetworkTasks, engine_host: EngineHost,
                 window: QMainWindow) -> None:
        super().__init__(window)
        self.session = session
        self.side_tasks = side_tasks
        self.window = window
        self._planner: PlanningView | None = None
        self._pending: tuple[Path, ExportOptions] | None = None  # an export waiting for its lines to render
        self.notice = ExportNotice()
        window.statusBar().addPermanentWidget(self.notice)  # not hidden by passing messages ("Saved …")
        engine_host.ready.connect(self._on_engine_ready)
        engine_host.released.connect(self._on_engine_released)
        session.project_replaced.connect(self.notice.hide)

    def _on_engine_ready(self, facts: EngineFacts) -> None:
        self._planner = facts.planner

    def _on_engine_released(self) -> None:
        self._planner = None

    # ----- the dialog and the question ---------------------------------------------------------------
    def export_dialog(self) -> None:
        from csm_desktop.ui.dialogs import ExportDialog

        project = self.session.project
        if project.folder is None:
            show_error(self.window, "Save and render the project before exporting.")
            return
        settings = self.session.settings
        dialog = ExportDialog(self.window, project.name, project.folder.parent, settings.export_options)
        if not dialog.exec():
            return
        settings.export_options = dialog.choices()
        try:
            settings.save()
        except OSError:
            pass  # remembered until quitting; the export itself does not depend on it
        self.check_then_export(dialog.output(), dialog.options())

    def check_then_export(self, output: Path, options: ExportOptions) -> None:
        """Plan the line states off the GUI thread, then export or ask what to do."""
        project = copy.deepcopy(self.session.project)
        store, library, planner = self.session.store_of(project), self.session.library, self._planner

        def plan(job):
            try:
                statuses = line_statuses(project, store, library, planner)
            except CsmError:
                statuses = line_statuses(project, store, library, None)
            return with_problems(statuses, project, store)

        def checked(statuses: list[LineStatus]) -> None:
            self._decide(output, options, statuses, [u.line for u in project.script().utterances])

        self.side_tasks.submit(plan, "export check", on_done=checked,
                               on_error=lambda message, details: show_error(self.window, message, details))

    def _decide(self, output: Path, options: ExportOptions, statuses: list[LineStatus], lines: list[int]) -> None:
        stale = [n for n, s in enumerate(statuses) if s.state == "stale"]
        missing = [n for n, s in enumerate(statuses) if s.state == "none"]
        problems = [n for n, s in enumerate(statuses) if s.problems and s.state == "done"]
        if not stale and not missing and not problems:
            self.export(output, options)
            return
        parts = []
        if stale:
            one = len(stale) == 1
            parts.append(f"{_numbers([lines[n] for n in stale]).capitalize()} changed since "
                         f"{'it was' if one else 'they were'} rendered (line {lines[stale[0]]}: "
                         f"{statuses[stale[0]].reason}): {'its take was' if one else 'their takes were'} made for "
                         "other words, voices or settings.")
        if missing:
            parts.append(f"{_numbers([lines[n] for n in missing]).capitalize()} "
                         f"{'has' if len(missing) == 1 else 'have'} no take yet.")
        if problems:  # a take that is wrong never reaches an export unnoticed
            one = len(problems) == 1
            parts.append(f"{_numbers([lines[n] for n in problems]).capitalize()} "
                         f"{'has a take' if one else 'have takes'} whose checks found problems (line "
                         f"{lines[problems[0]]}: {statuses[problems[0]].problems}). Render > Re-render lines with "
                         "problems tries again.")
        answer = self.ask(" ".join(parts), can_export_anyway=not missing, can_render=bool(stale or missing))
        if answer == "render" and (stale or missing):
            self._pending = (output, options)
            self.render_requested.emit(sorted(stale + missing))
        elif answer == "anyway":
            self.export(output, options, out_of_date=[lines[n] for n in stale])

    def ask(self, text: str, can_export_anyway: bool, can_render: bool = True) -> str:
        """``render`` (then export), ``anyway`` or ``cancel``."""
        box = QMessageBox(QMessageBox.Icon.Question, "Lines to render" if can_render else "Takes with problems", text,
                          parent=self.window)
        box.setInformativeText(("Render them first and the export follows when they are done. " if can_render else "")
                               + ("Or export the takes as they are." if can_export_anyway else ""))
        render = box.addButton("Render, then export", QMessageBox.ButtonRole.AcceptRole) if can_render else None
        anyway = box.addButton("Export anyway", QMessageBox.ButtonRole.DestructiveRole) if can_export_anyway else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(render or anyway)
        box.exec()
        clicked = box.clickedButton()
        return "render" if render is not None and clicked is render else "anyway" if anyway is not None and clicked is anyway else "cancel"

    def render_ended(self, report) -> None:
        """The render asked for has ended (``report``: None when it was stopped or failed)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if report is None:
            self.window.statusBar().showMessage("The render did not finish: nothing was exported.", 8000)
            return
        self.check_then_export(*pending)  # lines that failed are asked about again

    def render_refused(self) -> None:
        """The render could not start (one runs, or the script has errors): the export waits for no one."""
        self._pending = None

    # ----- writing -------------------------------------------------------------------------------------
    def export(self, output: Path, options: ExportOptions, out_of_date: list[int] | None = None) -> list[Path]:
        store = self.session.store()
        if store is None:
            show_error(self.window, "Save and render the project before exporting.")
            return []
        try:
            written = export_dialogue(self.session.project, store, output, options)
        except CsmError as exc:
            show_exception(self.window, exc)
            return []
        folder = Path(output).parent
        text = f"Exported {len(written)} file{'s' if len(written) != 1 else ''} to {folder}"
        if self.sign_exports(written):
            text += ", with content credentials"
        if out_of_date:
            text += f" · {_numbers(out_of_date)} out of date"
            log.warning("Exported %s with out-of-date takes for %s", output, _numbers(out_of_date))
        self.window.statusBar().showMessage(text, 15_000)
        self.notice.tell(f"{Path(output).name} exported" + (" (with out-of-date lines)" if out_of_date else ""),
                         folder)
        return written

    def sign_exports(self, written: list[Path]) -> bool:
        """Content credentials on the exported files that can carry them; what the user should
        know (a file left without them, a key kept for this session only) is shown. Returns
        whether every file that can carry them has them, with nothing to say."""
        from csm_desktop.services.content_credentials import CredentialNotice, sign_exports

        news = sign_exports(written, self.session.project, self.session.store(), self.session.library,
                            self.session.settings)
        notices = [n for n in news if isinstance(n, CredentialNotice)]
        if notices:
            show_error(self.window, "\n\n".join(notices), title="Content credentials")
        return bool(news) and not notices
