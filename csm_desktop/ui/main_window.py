"""The main window: script editor in the middle, speakers and library on the left, takes on the
right. It builds the widgets, the project session and the controllers, and owns the menus and
the project's files (new, open, save, export); the controllers do the rest:

- :class:`~csm_desktop.ui.session.ProjectSession`: the project, dirty state, library, takes, undo
- :class:`~csm_desktop.ui.controllers.speakers.SpeakersController`: speakers and voice clips
- :class:`~csm_desktop.ui.controllers.rendering.RenderController`: renders and line states
- :class:`~csm_desktop.ui.controllers.takes.TakesController`: the selected line's takes
- :class:`~csm_desktop.ui.controllers.transport.TransportController`: listening to a take or a clip
- :class:`~csm_desktop.ui.controllers.timeline.TimelineController`: the dialogue's timeline and playing it
- :class:`~csm_desktop.ui.controllers.generation.GenerationController`: line and project generation settings
- :class:`~csm_desktop.ui.controllers.exporting.ExportController`: export (asks about out-of-date lines)
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.export import ExportOptions
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.recovery import RecoveryStore
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.settings import Settings
from csm_desktop.ui.controllers.exporting import ExportController
from csm_desktop.ui.controllers.generation import GenerationController
from csm_desktop.ui.controllers.drafting import DraftController
from csm_desktop.ui.controllers.guidance import ActionGuide
from csm_desktop.ui.controllers.recovery import RecoveryController
from csm_desktop.ui.controllers.rendering import RenderController
from csm_desktop.ui.controllers.speakers import SpeakersController
from csm_desktop.ui.controllers.takes import TakesController
from csm_desktop.ui.controllers.timeline import TimelineController
from csm_desktop.ui.controllers.transport import TransportController
from csm_desktop.ui.controllers.voice_checks import VoiceCheck
from csm_desktop.ui.widgets import project_dialogs
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.file_drops import FileDropCatcher
from csm_desktop.ui.engine_host import EngineHost
from csm_desktop.ui import icons
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.widgets.library_panel import LibraryPanel
from csm_desktop.ui.widgets.line_inspector import LineInspector
from csm_desktop.ui.widgets.speakers_panel import SpeakersPanel
from csm_desktop.ui.widgets.takes_panel import TakesPanel
from csm_desktop.ui.widgets.playback import Player
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import ModelTasks, NetworkTasks
from csm_desktop.ui.widgets.timeline import TimelineView
from csm_desktop.ui.widgets.waveform import Waveform

AUTOSAVE_MS = 30_000
DEFAULT_SIZE = (1280, 760)  # made smaller to fit a smaller screen (a 1280x720 laptop)
# Play/pause works while typing: Ctrl+Space, as in transcription and annotation editors (ELAN,
# oTranscribe-like tools), since Space types a space in the script; Space itself still plays and
# pauses wherever focus is not in the text (the timeline, the lists), as in a DAW.
PLAY_PAUSE_KEYS = ("Ctrl+Space", "Space")
STOP_PLAYBACK_KEYS = ("Ctrl+.",)
RENDER_SAVE_REASON = ("Rendering makes audio takes, which are kept in the project's folder, so this project needs a "
                      "name and a place on disk first. Your documents folder is a good place to start.")


def freeze_long_lived(_engine=None) -> None:
    """Move what exists now (libraries; once loaded, the engine) out of the cyclic collector's
    sight: it lives as long as the window, and full collections over it stalled the window (with
    the model loaded 110-118 ms, 0.0 ms frozen)."""
    gc.collect()
    gc.freeze()


class MainWindow(QMainWindow):
    def __init__(self, *, engine_factory: Callable[[], object], settings: Settings | None = None,
                 library: VoiceLibrary | None = None, player: Player | None = None,
                 recovery: RecoveryStore | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        # The model's thread runs Python between torch calls; a shorter GIL switch interval
        # (default 5 ms) lets the event loop in quickly, so the window never stutters.
        sys.setswitchinterval(0.0005)
        freeze_long_lived()
        self.settings = settings or Settings.load()
        self.session = ProjectSession(self.settings, library or VoiceLibrary(), parent=self)
        self.player = player or Player()
        self.model_tasks = ModelTasks(parent=self)  # the model's one serial lane (renders, the engine)
        self.tasks = NetworkTasks(parent=self)  # the side pool: network jobs, line states
        self.engine_host = EngineHost(engine_factory, self.model_tasks, parent=self)
        self.engine_host.ready.connect(freeze_long_lived)
        self._keyring_warned = False  # the no-keyring warning is shown once a session

        self.editor = ScriptEditor()
        self.speakers = SpeakersPanel()
        self.library_panel = LibraryPanel()
        self.takes = TakesPanel()
        self.line_inspector = LineInspector()
        self.waveform = Waveform()
        self.timeline = TimelineView()
        self.banner = QLabel()
        self.banner.setObjectName("noiseBanner")
        self.banner.setWordWrap(True)  # never widens the window
        self.banner.setStyleSheet("background:#fff3cd;color:#664d03;padding:6px;border-radius:4px;")
        self.banner.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.engine_label = QLabel()  # which device and speed-up the loaded engine uses
        self.engine_label.setObjectName("engineLabel")
        self._lay_out()

        session = self.session
        self.speakers_ctl = SpeakersController(session, self.editor, self.speakers, self.library_panel,
                                               self.tasks, self, self.player)
        self.rendering = RenderController(session, self.editor, self.model_tasks, self.tasks, self.engine_host,
                                          self, progress=self.progress, banner=self.banner,
                                          engine_label=self.engine_label, save_as=self._save_to_render)
        self.takes_ctl = TakesController(session, self.editor, self.takes, self.waveform, parent=self)
        self.transport = TransportController(session, self.editor, self.player, self.waveform, self)
        self.timeline_ctl = TimelineController(session, self.editor, self.player, self.timeline, self)
        self.rendering.states_planned.connect(self.timeline_ctl.refresh)  # stale lines, new takes
        self.rendering.line_rendered.connect(self.timeline_ctl.follow_render)  # lines join it as they render
        self.rendering.render_ended.connect(lambda _report: self.timeline_ctl.follow_render(None))
        self.takes.play_requested.connect(self.transport.play_take)
        self.takes.regenerate_requested.connect(self.rendering.regenerate_selected)
        self.library_panel.play_requested.connect(self.transport.play_clip)
        self._wire_voices()
        self.rendering.audio_streamed.connect(self._on_streamed)
        self.rendering.busy_changed.connect(self._on_busy)
        self.editor.textChanged.connect(self._on_text_changed)
        session.text_replaced.connect(self._show_text)
        session.project_replaced.connect(self._show_project)
        session.dirty_changed.connect(self._show_title)
        session.saved.connect(lambda path: self.statusBar().showMessage(f"Saved {path.parent}", 4000))
        session.problem.connect(lambda exc: show_exception(self, exc))

        self._build_takes_and_export()
        self._build_actions()
        self._build_responsible_voice()
        self._build_studio(recovery or RecoveryStore())
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        self._show_project()
        self.speakers_ctl.show_library()
        notice = session.library.take_notice()
        if notice:  # e.g. a damaged library file was set aside: said once, once the window is up
            QTimer.singleShot(0, self, lambda: show_error(self, notice, title="Voice library"))
        self._fit_to_screen()

    def _fit_to_screen(self) -> None:
        """The default size, less where the screen is smaller: Import, Regenerate and the status
        bar stay in sight on a 1280x720 screen."""
        width, height = DEFAULT_SIZE
        screen = self.screen()
        if screen is not None:
            room = screen.availableGeometry()
            frame = 40  # the window manager's title bar and borders, not part of our size
            width, height = min(width, room.width() - 8), min(height, room.height() - frame)
        self.resize(width, height)

    def _wire_voices(self) -> None:
        """Voices: audio dropped anywhere imports it (the script never gets a ``file://`` line),
        and a render first asks about speakers with no voice clip and tags that look mistyped."""
        self.speakers.play_requested.connect(self.transport.play_clip)
        self.voice_check = VoiceCheck(self.session, self)
        self.rendering.checks.append(self.voice_check.confirm)
        self.drops = FileDropCatcher(self)
        for widget in (self, self.editor.viewport()):
            self.drops.watch(widget)
        self.drops.files_dropped.connect(self.speakers_ctl.import_files)

    def _lay_out(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.speakers)
        left.addWidget(self.library_panel)
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.banner)
        cl.addWidget(self.editor)
        cl.addWidget(self.waveform)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(center)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.takes)
        right.addWidget(self.line_inspector)
        right.setStretchFactor(0, 1)
        split.addWidget(right)
        split.setSizes([300, 620, 280])
        body = QWidget()  # the timeline under it all, the whole window wide (as in a studio)
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(split, 1)
        bl.addWidget(self.timeline)
        self.setCentralWidget(body)
        self.statusBar().addPermanentWidget(self.engine_label)
        self.statusBar().addPermanentWidget(self.progress)

    # ----- what the window shows of the session -----------------------------------------------------
    @property
    def project(self) -> Project:
        return self.session.project

    @property
    def library(self) -> VoiceLibrary:
        return self.session.library

    @property
    def dirty(self) -> bool:
        return self.session.dirty

    def _build_takes_and_export(self) -> None:
        """Takes (star, delete, A/B), per-line and project generation settings, export."""
        self.generation = GenerationController(self.session, self.editor, self.line_inspector, self)
        self.exporting = ExportController(self.session, self.tasks, self.engine_host, self)
        self.takes.pin_seed_requested.connect(self.generation.pin_take_seed)
        self.rendering.states_planned.connect(self.takes_ctl.refresh)  # the line's state and why
        self.exporting.render_requested.connect(self._render_for_export)
        self.rendering.render_ended.connect(self.exporting.render_ended)
        self.act_project_settings = self._action("&Project settings…", self.generation.edit_project_settings,
                                                 tip="Temperature, top-k, longest line, gap and seed of this project")

    def _render_for_export(self, lines: list[int]) -> None:
        if self.rendering.start_render(lines) is None:
            self.exporting.render_refused()

    def _show_title(self, dirty: bool | None = None) -> None:
        star = "*" if self.session.dirty else ""
        self.setWindowTitle(f"{star}{self.session.project.name} — CSM Desktop")

    def _show_text(self, text: str) -> None:
        """The script text changed other than by typing (a rename, undo, another project)."""
        if self.editor.toPlainText() != text:
            self.editor.blockSignals(True)
            self.editor.setPlainText(text)
            self.editor.blockSignals(False)
        self.editor.reparse(force=True)

    def _show_project(self) -> None:
        self._show_text(self.session.project.script_text)
        self._show_title()
        self._fill_recent()

    def _on_text_changed(self) -> None:
        self.session.set_script_text(self.editor.toPlainText())

    def _on_busy(self, rendering: bool, stoppable: bool) -> None:
        self.act_stop.setEnabled(stoppable)
        self.guide.set_rendering(rendering)  # Render stays off while one runs (and with no lines)

    def _on_streamed(self, audio: np.ndarray) -> None:
        if self.act_live.isChecked() and not self.transport.play_live(audio):
            self.act_live.setChecked(False)  # the audio device failed (said): stop trying

    # ----- actions --------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon: str | None = None) -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(icons.icon(icon))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._action("&New", self.new_project, K.New, icon="new")
        self.act_open = self._action("&Open…", self.open_dialog, K.Open, icon="open")
        self.act_save = self._action("&Save", self.save, K.Save, icon="save")
        self.act_save_as = self._action("Save &As…", self.save_as_dialog, K.SaveAs)
        self.act_export = self._action("&Export…", self.export_dialog, "Ctrl+E", icon="export")
        self.act_quit = self._action("&Quit", self.close, K.Quit)
        self.act_render_all = self._action("Render &all", self.rendering.render_all, "Ctrl+R", "Render every line that needs it", "render-all")
        self.act_render_sel = self._action("Render &selected line", self.rendering.render_selected, "Ctrl+Shift+R", icon="render-line")
        self.act_stop = self._action("S&top", self.rendering.stop, "Esc", icon="stop")
        self.act_stop.setEnabled(False)
        self.act_play_line = self._action("&Play line", self.transport.play_selected, "Ctrl+P", icon="play")
        self.act_play_all = self._action("Play a&ll from the start", self.timeline_ctl.play_all, "Ctrl+Shift+P",
                                         icon="play-all")
        self.act_stop_audio = self._action("&Stop playback", self.timeline_ctl.stop, tip="Stop what plays",
                                           icon="stop-playback")
        self.act_stop_audio.setShortcuts([QKeySequence(k) for k in STOP_PLAYBACK_KEYS])
        self.act_stop_audio.setEnabled(self.timeline.stop_button.isEnabled())  # as the timeline's Stop is
        self.timeline.can_stop_changed.connect(self.act_stop_audio.setEnabled)
        self.act_play_pause = self._action("Play/Pa&use", self.timeline_ctl.play_pause,
                                           tip="Play the dialogue from the selected line, or pause it", icon="play")
        self.act_play_pause.setShortcuts([QKeySequence(k) for k in PLAY_PAUSE_KEYS])
        self.timeline.set_shortcut_hints(*(QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText)
                                           for keys in (PLAY_PAUSE_KEYS, STOP_PLAYBACK_KEYS)))
        self.act_live = self._action("Listen while rendering", lambda: None)
        self.act_live.setCheckable(True)
        self.act_settings = self._action("&Settings…", self.settings_dialog, K.Preferences)
        self.act_model = self._action("&Model setup…", self.model_setup_dialog)
        self.act_undo = self._action("&Undo", self.undo, K.Undo)
        self.act_redo = self._action("&Redo", self.redo, K.Redo)
        menu = self.menuBar()
        m = menu.addMenu("&File")
        for a in (self.act_new, self.act_open, self.act_save, self.act_save_as):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        m.addAction(self.act_project_settings)
        m.addAction(self.act_export)
        m.addSeparator()
        m.addAction(self.act_quit)
        e = menu.addMenu("&Edit")
        e.addAction(self.act_undo)
        e.addAction(self.act_redo)
        e.addSeparator()
        e.addAction(self.act_settings)
        e.addAction(self.act_model)
        r = menu.addMenu("&Render")
        self.act_redo_problems = self._action("Re-render lines with &problems", self.rendering.redo_problems,
                                              tip="Render again the lines whose take's checks found problems; a new "
                                                  "take replaces the old one only if it scores better")
        for a in (self.act_render_all, self.act_render_sel, self.act_redo_problems, self.act_stop, self.act_live):
            r.addAction(a)
        p = menu.addMenu("&Playback")
        for a in (self.act_play_pause, self.act_play_line, self.act_play_all, self.act_stop_audio):
            p.addAction(a)
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_new, self.act_open, self.act_save, None, self.act_render_all, self.act_render_sel,
                  self.act_stop, None, self.act_play_line, self.act_play_all, None, self.act_export):
            bar.addSeparator() if a is None else bar.addAction(a)
        self.addToolBar(bar)
        self._fill_recent()

    # ----- studio: drafting, recovery, guidance (one block, so that merges stay easy) --------------
    def _build_studio(self, recovery: RecoveryStore) -> None:
        self.recovery = RecoveryController(self.session, self, recovery)
        # QKeySequence.Preferences is empty on Linux (and Windows): Ctrl+, everywhere.
        preferences = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        comma = QKeySequence("Ctrl+,")
        self.act_settings.setShortcuts(preferences + ([] if comma in preferences else [comma]))
        self.session.project_replaced.connect(self._remember_last_project)
        self.session.saved.connect(lambda _path: self._remember_last_project())
        self.session.saved.connect(lambda _path: self._fill_recent())  # Save As adds to Open Recent
        self.guide = ActionGuide(self.session, self.editor, render_all=self.act_render_all,
                                 render_selected=self.act_render_sel, play_line=self.act_play_line,
                                 play_all=self.act_play_all, export=self.act_export)
        self.rendering.states_planned.connect(self.guide.refresh)
        self.drafting = DraftController(self.session, self.editor, self.tasks, self)
        self.act_draft = self._action("&Draft script with Gemini…", self.drafting.open_dialog, "Ctrl+Shift+D",
                                      "Describe a scene; Gemini writes lines for your speakers")
        edit = self._menu("Edit")
        edit.insertAction(edit.actions()[2], self.act_draft)  # after Undo, Redo
        edit.insertSeparator(edit.actions()[2])

    def start_up(self, projects: Sequence[str | Path] = ()) -> None:
        """What the window shows first: unsaved work an app left behind (offered back), else the
        project named on the command line, else the last project (Settings), else a new one."""
        if self.recovery.offer():
            if projects:
                self.statusBar().showMessage(f"Restored the unsaved work; {projects[0]} was not opened "
                                             "(File › Open opens it).", 15_000)
            return
        if len(projects) > 1:
            self.statusBar().showMessage(f"CSM Desktop opens one project at a time: {projects[0]}.", 10_000)
        if projects:
            self.open_project(projects[0])
            return
        last = self.settings.last_project
        if self.settings.open_last_project and last:
            try:
                self.session.open(last)
            except CsmError as exc:
                self.statusBar().showMessage(f"The last project could not be opened, so this is a new one: {exc}",
                                             15_000)

    def _remember_last_project(self) -> None:
        """The project to open at the next start (the session's folder; "" for an untitled one)."""
        folder = str(self.session.project.folder or "")
        if folder != self.settings.last_project:
            self.settings.last_project = folder
            try:
                self.settings.save()
            except OSError:
                pass  # a convenience: never block work on it

    def _menu(self, title: str) -> QMenu:
        for action in self.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == title:
                return action.menu()
        return self.menuBar().addMenu(title)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_projects:
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_projects))

    # ----- files ------------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        if not self.dirty:
            return True
        answer = QMessageBox.question(self, "Unsaved changes", f"Save the changes to {self.project.name}?",
                                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                                      | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        if self.confirm_discard():
            self.session.new()

    def _projects_folder(self) -> Path:
        """Where project dialogs start: beside this project, else the last one opened, else the
        documents folder (never the folder the app happened to be started from)."""
        folder = self.session.project.folder
        for candidate in ([folder] if folder else []) + [Path(p) for p in self.settings.recent_projects[:1]]:
            if candidate.parent.is_dir():
                return candidate.parent
        return project_dialogs.documents_folder()

    def open_dialog(self) -> None:
        path = project_dialogs.ask_open_path(self, self._projects_folder())
        if path:
            self.open_project(path)

    def open_project(self, folder: str | Path) -> bool:
        if not self.confirm_discard():
            return False
        try:
            self.session.open(folder)
        except CsmError as exc:
            show_exception(self, exc)
            return False
        return True

    def save(self) -> bool:
        if self.session.project.folder is None:
            return self.save_as_dialog()
        return self.save_as(None)

    def save_as(self, folder: str | Path | None) -> bool:
        """Save (into ``folder`` when given); a failure is said and the project stays unsaved."""
        try:
            self.session.save(folder)
        except (CsmError, OSError) as exc:
            show_error(self, f"The project could not be saved: {exc}")
            return False
        return True

    def save_as_dialog(self, reason: str = "") -> bool:
        """Ask where to save (``reason``: why it is asked now) and save there."""
        path = project_dialogs.ask_save_path(self, self._projects_folder() / f"{self.session.project.name}.csmproj",
                                             reason)
        return self.save_as(path) if path else False

    def _save_to_render(self) -> bool:
        return self.save_as_dialog(RENDER_SAVE_REASON)

    def autosave(self) -> None:
        if self.session.dirty and self.session.project.folder is not None:
            self.save()

    # ----- undo ------------------------------------------------------------------------------------
    def undo(self) -> None:
        """Typing is undone by the editor (when it has focus); speaker and clip edits by the
        session's undo stack."""
        if self.editor.hasFocus() and self.editor.document().isUndoAvailable():
            self.editor.undo()
        else:
            self.session.undo_stack.undo()

    def redo(self) -> None:
        if self.editor.hasFocus() and self.editor.document().isRedoAvailable():
            self.editor.redo()
        else:
            self.session.undo_stack.redo()

    # ----- settings ---------------------------------------------------------------------------------
    def settings_dialog(self, remote: bool = False) -> None:
        """``remote``: opened to set up a remote engine (Remote chosen, the URL to fill in)."""
        from csm_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self, self.settings)
        if remote:
            dialog.choose_remote()
        if dialog.exec():
            self.apply_settings(dialog)

    def apply_settings(self, dialog) -> None:
        changed = dialog.apply()
        messages = list(dialog.messages)
        if dialog.keyring_warnings:
            if self._keyring_warned:  # said once a session; after that the status bar reminds
                self.statusBar().showMessage("No system keyring: the keys you typed are kept until CSM Desktop closes.")
            else:
                self._keyring_warned = True
                messages += dialog.keyring_warnings
        if messages:  # shown before the engine changes, in one box: a failing warm-up joins it
            show_error(self, "\n\n".join(messages))
        if dialog.apply_to_project.isChecked():
            self.generation.use_defaults(self.settings)
        if changed:
            self.drop_engine()  # a remote engine is woken once the old one is released

    def drop_engine(self) -> None:
        """The settings changed: the engine is reloaded after the running job."""
        self.rendering.settings_changed()

    def model_setup_dialog(self) -> bool:
        from csm_desktop.ui.model_setup import ModelSetupDialog

        dialog = ModelSetupDialog(self, self.settings, self.tasks)
        accepted = bool(dialog.exec())
        if dialog.wants_remote:
            self.settings_dialog(remote=True)
            return self.settings.engine == "remote"
        if accepted:
            self.drop_engine()
            self.statusBar().showMessage(f"Model ready: {self.settings.model}. It loads when you first render.", 10_000)
        return accepted

    # ----- export -------------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        self.exporting.export_dialog()

    def export(self, output: Path, options: ExportOptions) -> list[Path]:
        return self.exporting.export(output, options)

    # ----- responsible voice (issue 15): watermark checks, content credentials ----------------------------
    def _build_responsible_voice(self) -> None:
        from csm_desktop.ui.watermark_check import WatermarkCheck

        self.watermark_check = WatermarkCheck(self, self.tasks)  # on the side pool: renders go on
        self.act_check_watermark = self._action("Check a file for the AI &watermark…", self.watermark_check.ask,
                                                tip="Say whether audio files carry the AI watermark every take has")
        self.menuBar().addMenu("&Tools").addAction(self.act_check_watermark)

    # ----- closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.confirm_discard():
            event.ignore()
            return
        self.recovery.close()  # closed cleanly: nothing to offer back at the next start
        self.player.stop()
        self.tasks.close()
        self.model_tasks.close()
        gc.unfreeze()  # what the window kept alive may be garbage now
        event.accept()
