"""The main window: script editor in the middle, speakers and library on the left, takes on the
right; render, listen, choose, export."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.export import ExportOptions, export_dialogue
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.paths import resources_dir
from csm_desktop.settings import Settings
from csm_desktop.ui.editor import ScriptEditor
from csm_desktop.ui.engine_host import EngineHost, PlanningView
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.panels import LibraryPanel, SpeakersPanel, TakesPanel
from csm_desktop.ui.playback import Player
from csm_desktop.ui.rendering import RenderingMixin, failure_key
from csm_desktop.ui.speakers import SpeakersMixin
from csm_desktop.ui.transport import TransportMixin
from csm_desktop.ui.waveform import Waveform
from csm_desktop.ui.tasks import Job, ModelTasks, NetworkTasks

AUTOSAVE_MS = 30_000


def freeze_long_lived(_engine=None) -> None:
    """Move what exists now (libraries; once loaded, the engine) out of the cyclic collector's
    sight: it lives as long as the window, and full collections over it stalled the window (with
    the model loaded 110-118 ms, 0.0 ms frozen)."""
    gc.collect()
    gc.freeze()


class MainWindow(SpeakersMixin, RenderingMixin, TransportMixin, QMainWindow):
    def __init__(self, *, engine_factory: Callable[[], object], settings: Settings | None = None,
                 library: VoiceLibrary | None = None, player: Player | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        # The model's thread runs Python between torch calls; a shorter GIL switch interval
        # (default 5 ms) lets the event loop in quickly, so the window never stutters.
        sys.setswitchinterval(0.0005)
        freeze_long_lived()
        self.settings = settings or Settings.load()
        self.library = library or VoiceLibrary()
        self.engine_factory = engine_factory
        self.project = self._fresh_project()
        self.dirty = False
        self.job: Job | None = None  # the render running on the model's lane
        self._rendered_copy: Project | None = None
        self.player = player or Player()
        self.model_tasks = ModelTasks(parent=self)  # the model's one serial lane (renders, the engine)
        self.tasks = NetworkTasks(parent=self)  # network jobs (Gemini, downloads), each its own
        self.engine_host = EngineHost(engine_factory, self.model_tasks, parent=self)
        self.engine_host.ready.connect(freeze_long_lived)
        self.engine_host.ready.connect(self._on_engine_ready)
        self.engine_host.released.connect(self._on_engine_released)
        self._planner: PlanningView | None = None  # how the loaded engine plans lines (for their states)
        self._live_audio = False
        self._playing_key: str | None = None
        self._job_started = 0.0

        self.editor = ScriptEditor()
        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.line_selected.connect(self._show_takes)
        self.speakers = SpeakersPanel()
        self.speakers.add_requested.connect(self._add_speaker)
        self.speakers.rename_requested.connect(self._rename_speaker)
        self.speakers.remove_requested.connect(self._remove_speaker)
        self.speakers.clip_dropped.connect(self.assign_clip)
        self.library_panel = LibraryPanel()
        self.library_panel.import_requested.connect(self._import_dialog)
        self.library_panel.files_dropped.connect(self.import_files)
        self.library_panel.transcript_edited.connect(self._edit_transcript)
        self.library_panel.remove_requested.connect(self._remove_clip)
        self.library_panel.play_requested.connect(self._play_clip)
        self.library_panel.transcribe_requested.connect(self.transcribe_clip)
        self._warm_job: Job | None = None  # waking a remote engine (see warm_up_remote)
        self._render_lines: list[int] = []  # editor line of each utterance of the script being rendered
        self._keyring_warned = False  # the no-keyring warning is shown once a session
        self._failed: dict[tuple[str, str], str] = {}  # failure_key of a line whose last render failed -> why
        self.takes = TakesPanel()
        self.takes.play_requested.connect(self._play_take)
        self.takes.choose_requested.connect(self.choose_take)
        self.takes.regenerate_requested.connect(self.regenerate_selected)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.speakers)
        left.addWidget(self.library_panel)
        self.banner = QLabel()
        self.banner.setObjectName("noiseBanner")
        self.banner.setWordWrap(True)  # never widens the window
        self.banner.setStyleSheet("background:#fff3cd;color:#664d03;padding:6px;border-radius:4px;")
        self.banner.setVisible(False)
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.banner)
        cl.addWidget(self.editor)
        self.waveform = Waveform()
        self.waveform.seek_requested.connect(self.seek)
        cl.addWidget(self.waveform)
        self._waveform_key: str | None = None
        if hasattr(self.player, "position_changed"):
            self.player.position_changed.connect(self._on_playhead)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(center)
        split.addWidget(self.takes)
        split.setSizes([300, 620, 280])
        self.setCentralWidget(split)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.engine_label = QLabel()  # which device and speed-up the loaded engine uses
        self.engine_label.setObjectName("engineLabel")
        self.statusBar().addPermanentWidget(self.engine_label)
        self.statusBar().addPermanentWidget(self.progress)
        self._build_actions()
        self._states_timer = QTimer(self)  # line states are recomputed once typing pauses
        self._states_timer.setSingleShot(True)
        self._states_timer.setInterval(300)
        self._states_timer.timeout.connect(self.refresh_states)
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        self.refresh_all()
        self.resize(1280, 760)

    # ----- actions --------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon: str | None = None) -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(QIcon(str(resources_dir() / "icons" / f"{icon}.svg")))
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
        self.act_render_all = self._action("Render &all", self.render_all, "Ctrl+R", "Render every line that needs it", "render-all")
        self.act_render_sel = self._action("Render &selected line", self.render_selected, "Ctrl+Shift+R", icon="render-line")
        self.act_stop = self._action("S&top", self.stop, "Esc", icon="stop")
        self.act_stop.setEnabled(False)
        self.act_play_line = self._action("&Play line", self.play_selected, "Ctrl+P", icon="play")
        self.act_play_all = self._action("Play a&ll", self.play_all, "Ctrl+Shift+P", icon="play-all")
        self.act_stop_audio = self._action("Stop playback", self.player.stop, "Ctrl+.")
        self.act_play_pause = self._action("Play/pause from the selected line", self.play_pause, "Space")
        self.act_live = self._action("Listen while rendering", self._toggle_live)
        self.act_live.setCheckable(True)
        self.act_settings = self._action("&Settings…", self.settings_dialog, K.Preferences)
        self.act_model = self._action("&Model setup…", self.model_setup_dialog)
        self.undo_stack = QUndoStack(self)
        self.act_undo = self._action("&Undo", self.undo, K.Undo)
        self.act_redo = self._action("&Redo", self.redo, K.Redo)
        menu = self.menuBar()
        m = menu.addMenu("&File")
        for a in (self.act_new, self.act_open, self.act_save, self.act_save_as):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
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
        for a in (self.act_render_all, self.act_render_sel, self.act_stop, self.act_live):
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

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_projects:
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_projects))

    def _fresh_project(self) -> Project:
        """A new project with the user's generation defaults."""
        project = Project.new()
        for name in ("temperature", "topk", "max_line_ms", "default_gap_ms"):
            setattr(project.settings, name, getattr(self.settings, name))
        return project

    # ----- project state --------------------------------------------------------------------------
    def set_dirty(self, dirty: bool = True) -> None:
        self.dirty = dirty
        self.setWindowTitle(f"{'*' if dirty else ''}{self.project.name} — CSM Desktop")

    def refresh_all(self) -> None:
        self.editor.blockSignals(True)
        if self.editor.toPlainText() != self.project.script_text:
            self.editor.setPlainText(self.project.script_text)
        self.editor.blockSignals(False)
        self.editor.reparse(force=True)
        self._sync_speakers()
        self.refresh_library()
        self.refresh_states()
        self.set_dirty(self.dirty)
        notice = self.library.take_notice()
        if notice:  # e.g. a damaged library file was set aside: said once, once the window is up
            QTimer.singleShot(0, self, lambda: show_error(self, notice, title="Voice library"))

    def _sync_speakers(self) -> None:
        for tag in self.editor_script_speakers():
            self.project.speaker(tag)
        for s in self.project.speakers:
            if s.color:
                self.editor.colors[s.name] = s.color
            else:
                s.color = self.editor.color_for(s.name)
        names = {c.id: c.name for c in self.library.clips()}
        self.speakers.show_speakers(self.project.speakers, self.editor.colors, names)

    def editor_script_speakers(self) -> list[str]:
        return list(dict.fromkeys(u.speaker for u in self.editor.items_by_line.values() if isinstance(u, Utterance)))

    def refresh_library(self) -> None:
        self.library_panel.show_clips(self.library.clips())

    def _store(self) -> TakeStore | None:
        return TakeStore(self.project.takes_dir, SAMPLE_RATE) if self.project.folder else None

    def refresh_states(self) -> None:
        store = self._store()
        states = []
        for n in range(len(self.editor.utterance_lines)):
            chosen = self.project.line(n).chosen_take
            states.append("done" if store and chosen and store.has(chosen) else "none")
        # Planned from the facts the engine host gave when the engine became ready: the GUI
        # thread never calls the engine (a remote one would ask the network here).
        if self._planner is not None and store is not None and not self.editor.errors:
            try:
                states = Renderer(self.project, self._planner, self.library).statuses()
            except CsmError:
                pass
        # A line whose last render failed says so, and why (until its text changes or it renders).
        notes = {}
        for n, u in enumerate(self._utterances()[: len(states)]):
            why = self._failed.get(failure_key(u))
            if why is not None:
                states[n] = "failed"
                notes[u.line] = f"Failed: {why}"
        self.editor.set_states(states, notes)

    def _on_text_changed(self) -> None:
        if self.editor.toPlainText() == self.project.script_text:
            return  # a re-highlight, not an edit
        self.project.script_text = self.editor.toPlainText()
        self.set_dirty()
        self._sync_speakers()
        self._states_timer.start()

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
            self.project = self._fresh_project()
            self.dirty = False
            self.refresh_all()

    def _projects_folder(self) -> Path:
        """Where project dialogs start: beside this project, else the last one opened, else home
        (never the folder the app happened to be started from)."""
        for candidate in ([self.project.folder] if self.project.folder else []) + \
                [Path(p) for p in self.settings.recent_projects[:1]]:
            if candidate.parent.is_dir():
                return candidate.parent
        return Path.home()

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project (a .csmproj folder)", str(self._projects_folder()))
        if folder:
            self.open_project(folder)

    def open_project(self, folder: str | Path) -> bool:
        if not self.confirm_discard():
            return False
        try:
            self.project = Project.open(folder)
        except CsmError as exc:
            show_exception(self, exc)
            return False
        self.dirty = False
        self.settings.add_recent(self.project.folder)
        self._save_settings()
        self._fill_recent()
        self.refresh_all()
        return True

    def save(self) -> bool:
        if self.project.folder is None:
            return self.save_as_dialog()
        try:
            self.project.save()
        except (CsmError, OSError) as exc:
            show_error(self, f"The project could not be saved: {exc}")
            return False
        self.set_dirty(False)
        self.statusBar().showMessage(f"Saved {self.project.folder}", 4000)
        return True

    def save_as(self, folder: str | Path) -> bool:
        try:
            self.project.save(folder)
        except (CsmError, OSError) as exc:
            show_error(self, f"The project could not be saved: {exc}")
            return False
        self.settings.add_recent(self.project.folder)
        self._save_settings()
        self._fill_recent()
        self.set_dirty(False)
        return True

    def save_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project as",
                                              str(self._projects_folder() / f"{self.project.name}.csmproj"))
        return self.save_as(path) if path else False

    def autosave(self) -> None:
        if self.dirty and self.project.folder is not None:
            self.save()

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError:
            pass  # settings are a convenience; never block work on them

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
        if changed:
            self.drop_engine()  # a remote engine is woken once the old one is released

    def drop_engine(self) -> None:
        """The settings changed: the engine host releases the engine after the running job (a
        render keeps its engine), and the next job loads the one the settings ask for."""
        self.engine_host.settings_changed()

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
        from csm_desktop.ui.dialogs import ExportDialog

        if self.project.folder is None:
            show_error(self, "Save and render the project before exporting.")
            return
        dialog = ExportDialog(self, self.project.name, self.project.folder.parent)
        if dialog.exec():
            self.export(dialog.output(), dialog.options())

    def export(self, output: Path, options: ExportOptions) -> list[Path]:
        store = self._store()
        try:
            written = export_dialogue(self.project, store, output, options)
        except CsmError as exc:
            show_exception(self, exc)
            return []
        self.statusBar().showMessage(f"Exported {len(written)} file(s) to {Path(output).parent}", 8000)
        return written

    # ----- closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.confirm_discard():
            event.ignore()
            return
        self.player.stop()
        self.tasks.close()
        self.model_tasks.close()
        gc.unfreeze()  # what the window kept alive may be garbage now
        event.accept()
