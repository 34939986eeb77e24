"""The main window: script editor in the middle, speakers and library on the left, takes on the
right; render, listen, choose, export."""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.export import ExportOptions, export_dialogue
from csm_desktop.dialogue.project import Project, Speaker
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.paths import resources_dir
from csm_desktop.settings import Settings
from csm_desktop.ui.editor import ScriptEditor
from csm_desktop.ui.errors import show_error
from csm_desktop.ui.panels import LibraryPanel, SpeakersPanel, TakesPanel, expand_audio_paths
from csm_desktop.ui.playback import Player, PlaybackError
from csm_desktop.ui.waveform import Waveform
from csm_desktop.ui.worker import WorkerThread

AUTOSAVE_MS = 30_000


class SpeakerEdit(QUndoCommand):
    """An edit of the speakers (and the script text it touches), undone by restoring both."""

    def __init__(self, window: "MainWindow", text: str, change: Callable[[], None]) -> None:
        super().__init__(text)
        self.window = window
        self.change = change
        self.before = window.snapshot()
        self.after: tuple | None = None

    def redo(self) -> None:
        if self.after is None:
            self.change()
            self.after = self.window.snapshot()
        else:
            self.window.restore(self.after)

    def undo(self) -> None:
        self.window.restore(self.before)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class MainWindow(QMainWindow):
    def __init__(self, *, engine_factory: Callable[[], object], settings: Settings | None = None,
                 library: VoiceLibrary | None = None, player: Player | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        # The engine thread runs Python between torch calls; a shorter GIL switch interval
        # (default 5 ms) lets the event loop in quickly, so the window never stutters.
        sys.setswitchinterval(0.0005)
        self.settings = settings or Settings.load()
        self.library = library or VoiceLibrary()
        self.engine_factory = engine_factory
        self.project = self._fresh_project()
        self.dirty = False
        self.job: int | None = None
        self._rendered_copy: Project | None = None
        self.player = player or Player()
        self.workers = WorkerThread()
        w = self.workers.worker
        w.progress.connect(self._on_progress)
        w.chunk.connect(self._on_chunk)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
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
        self._side_jobs: dict[int, Callable[[object], None]] = {}
        self.takes = TakesPanel()
        self.takes.play_requested.connect(self._play_take)
        self.takes.choose_requested.connect(self.choose_take)
        self.takes.regenerate_requested.connect(self.regenerate_selected)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.speakers)
        left.addWidget(self.library_panel)
        self.banner = QLabel()
        self.banner.setObjectName("noiseBanner")
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
        self.statusBar().addPermanentWidget(self.progress)
        self._build_actions()
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
        return TakeStore(self.project.takes_dir, 24_000) if self.project.folder else None

    def refresh_states(self) -> None:
        store = self._store()
        states = []
        for n in range(len(self.editor.utterance_lines)):
            chosen = self.project.line(n).chosen_take
            states.append("done" if store and chosen and store.has(chosen) else "none")
        engine = self.workers.worker.engine
        if engine is not None and store is not None and not self.editor.errors:
            try:
                states = Renderer(self.project, engine, self.library).statuses()
            except CsmError:
                pass
        self.editor.set_states(states)

    def _on_text_changed(self) -> None:
        if self.editor.toPlainText() == self.project.script_text:
            return  # a re-highlight, not an edit
        self.project.script_text = self.editor.toPlainText()
        self.set_dirty()
        self._sync_speakers()
        QTimer.singleShot(0, self.refresh_states)

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

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project (a .csmproj folder)")
        if folder:
            self.open_project(folder)

    def open_project(self, folder: str | Path) -> bool:
        if not self.confirm_discard():
            return False
        try:
            self.project = Project.open(folder)
        except CsmError as exc:
            show_error(self, str(exc))
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
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", f"{self.project.name}.csmproj")
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
    def settings_dialog(self) -> None:
        from csm_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self, self.settings)
        if dialog.exec():
            self.apply_settings(dialog)

    def apply_settings(self, dialog) -> None:
        if dialog.apply():
            self.drop_engine()
        for message in dialog.messages:
            show_error(self, message)

    def drop_engine(self) -> None:
        """Forget the loaded engine (settings changed): the next render loads the new one."""
        if self.job is None:
            self.workers.worker.engine = None
            self.banner.setVisible(False)

    def model_setup_dialog(self) -> bool:
        from csm_desktop.ui.model_setup import ModelSetupDialog

        dialog = ModelSetupDialog(self, self.settings, self.workers.worker)
        accepted = bool(dialog.exec())
        if accepted:
            self.drop_engine()
        return accepted

    # ----- undo -------------------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        return copy.deepcopy(self.project.speakers), self.project.script_text

    def restore(self, state: tuple) -> None:
        speakers, text = state
        self.project.speakers = copy.deepcopy(speakers)
        if text != self.editor.toPlainText():
            self.editor.setPlainText(text)
        self.set_dirty()
        self._sync_speakers()
        self.refresh_library()

    def undo(self) -> None:
        """Typing is undone by the editor (when it has focus); speaker edits by the undo stack."""
        if self.editor.hasFocus() and self.editor.document().isUndoAvailable():
            self.editor.undo()
        else:
            self.undo_stack.undo()

    def redo(self) -> None:
        if self.editor.hasFocus() and self.editor.document().isRedoAvailable():
            self.editor.redo()
        else:
            self.undo_stack.redo()

    def _speaker_edit(self, text: str, change: Callable[[], None]) -> None:
        self.undo_stack.push(SpeakerEdit(self, text, change))

    # ----- speakers and clips -------------------------------------------------------------------------
    def _add_speaker(self) -> None:
        name, ok = QInputDialog.getText(self, "Add speaker", "Name:")
        if ok and name.strip():
            self.add_speaker(name.strip())

    def add_speaker(self, name: str) -> None:
        def change():
            self.project.speaker(name)
            self.set_dirty()
            self._sync_speakers()

        self._speaker_edit(f"Add speaker {name}", change)

    def _rename_speaker(self, old: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename speaker", "New name:", text=old)
        if ok and new.strip() and new.strip() != old:
            self.rename_speaker(old, new.strip())

    def rename_speaker(self, old: str, new: str) -> None:
        def change():
            spk = self.project.speaker(old)
            spk.name = new
            lines = self.project.script_text.splitlines()
            renamed = [f"{new}:{ln.split(':', 1)[1]}" if ln.lstrip().startswith(f"{old}:") else ln for ln in lines]
            self.editor.setPlainText("\n".join(renamed) + ("\n" if self.project.script_text.endswith("\n") else ""))
            self.set_dirty()

        self._speaker_edit(f"Rename {old} to {new}", change)

    def _remove_speaker(self, name: str) -> None:
        if name in self.editor_script_speakers():
            show_error(self, f"{name} still has lines in the script. Remove or reassign them first.")
            return
        def change():
            self.project.speakers = [s for s in self.project.speakers if s.name != name]
            self.set_dirty()
            self._sync_speakers()

        self._speaker_edit(f"Remove speaker {name}", change)

    def assign_clip(self, speaker: str, clip_id: str) -> None:
        def change():
            spk: Speaker = self.project.speaker(speaker)
            if clip_id not in spk.clip_ids:
                spk.clip_ids.append(clip_id)
            try:
                self.library.update(clip_id, speaker=speaker)
            except CsmError as exc:
                show_error(self, str(exc))
            self.set_dirty()
            self._sync_speakers()
            self.refresh_library()
            self.refresh_states()

        self._speaker_edit(f"Give {speaker} a voice clip", change)

    def _import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import voice clips", "",
                                                "Audio (*.wav *.flac *.ogg *.opus *.mp3);;All files (*)")
        if files:
            self.import_files(files)

    def import_files(self, paths: list[str]) -> list[str]:
        """Import every file (folders expanded); one bad file does not stop the others.
        Returns the problems, which are also shown together."""
        problems, warnings = [], []
        for path in expand_audio_paths(paths):
            try:
                clip = self.library.import_clip(path)
            except CsmError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            warnings += [f"{clip.name}: {w}" for w in clip.warnings]
        self.refresh_library()
        self._sync_speakers()
        if problems:
            show_error(self, f"{len(problems)} file(s) could not be imported.", "\n".join(problems))
        elif warnings:
            self.statusBar().showMessage(" · ".join(warnings), 8000)
        return problems

    def _edit_transcript(self, clip_id: str, text: str) -> None:
        try:
            self.library.update(clip_id, transcript=text)
        except CsmError as exc:
            show_error(self, str(exc))
        self.refresh_states()

    def transcribe_clip(self, clip_id: str) -> int:
        """Ask Gemini for the clip's transcript in the background; fills it in when it arrives."""
        from csm_desktop.services.gemini import GeminiClient

        path = self.library.get(clip_id).path
        model = self.settings.gemini_model

        def job_fn(worker, job, should_stop):
            return GeminiClient(model=model).transcribe(path)

        def done(text):
            self._edit_transcript(clip_id, text)
            self.refresh_library()
            self.statusBar().showMessage("Transcript filled in by Gemini. Check it against the audio.", 6000)

        job = self.workers.worker.submit(job_fn, "transcribe")
        self._side_jobs[job] = done
        self.statusBar().showMessage("Transcribing with Gemini…")
        return job

    def _remove_clip(self, clip_id: str) -> None:
        for s in self.project.speakers:
            if clip_id in s.clip_ids:
                s.clip_ids.remove(clip_id)
        self.library.remove(clip_id)
        self.set_dirty()
        self.refresh_library()
        self._sync_speakers()

    # ----- takes --------------------------------------------------------------------------------------
    def _utterances(self) -> list[Utterance]:
        return [i for i in self.editor.items_by_line.values() if isinstance(i, Utterance)]

    def _show_takes(self, n: int) -> None:
        store, utts = self._store(), self._utterances()
        if store is None or not 0 <= n < len(utts):
            self.takes.show_takes("", [], None)
            return
        u = utts[n]
        chosen = self.project.line(n).chosen_take
        self.takes.show_takes(f"{u.speaker}: {u.text[:40]}", store.takes_for(u.text, u.speaker), chosen)
        self.show_waveform(chosen, f"Line {n + 1} · {u.speaker}")

    def choose_take(self, key: str) -> None:
        n = self.editor.current_utterance()
        store = self._store()
        info = store.info(key) if store else None
        if n is None or info is None:
            return
        state = self.project.line(n)
        state.chosen_take, state.variant = key, info.variant
        self.set_dirty()
        self.refresh_states()
        self._show_takes(n)

    # ----- rendering ----------------------------------------------------------------------------------
    def _ensure_saved(self) -> bool:
        if self.editor.errors:
            line = min(self.editor.errors)
            show_error(self, f"Fix the script first. Line {line}: {self.editor.errors[line]}")
            return False
        if self.project.folder is None and not self.save_as_dialog():
            return False
        return True

    def render_all(self) -> None:
        self.start_render(None)

    def render_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.start_render([n])

    def regenerate_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.start_render([n], force=True)

    def start_render(self, lines: list[int] | None, force: bool = False) -> int | None:
        if self.job is not None or not self._ensure_saved():
            return None
        snapshot = copy.deepcopy(self.project)
        self._rendered_copy = snapshot
        library, factory = self.library, self.engine_factory

        def job_fn(worker, job, should_stop):
            if worker.engine is None:
                worker.progress.emit(job, "Preparing the model…")
                worker.engine = factory()
                worker.engine_ready.emit(worker.engine)
            renderer = Renderer(snapshot, worker.engine, library)
            return renderer.render(lines, on_progress=lambda e: worker.progress.emit(job, e),
                                   on_chunk=lambda i, c: worker.emit_chunk(job, i, c.numpy()),
                                   should_stop=should_stop, force=force)

        self._job_started = time.monotonic()
        self.job = self.workers.worker.submit(job_fn, "render")
        self.act_stop.setEnabled(True)
        self.act_render_all.setEnabled(False)
        self.act_render_sel.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        return self.job

    def stop(self) -> None:
        if self.job is not None:
            self.workers.worker.stop()
            self.statusBar().showMessage("Stopping…")

    def _on_progress(self, job: int, event) -> None:
        if job != self.job:
            return
        if isinstance(event, str):
            self.statusBar().showMessage(event)
            return
        engine = self.workers.worker.engine
        if engine is not None and getattr(engine, "is_test_model", False) and self.banner.isHidden():
            self.banner.setText("Tiny test model: random weights, its output is noise. Choose the real model in "
                                "Settings to hear speech.")
            self.banner.setVisible(True)
        state = {"reused": "done", "stopped": "none"}.get(event.state, event.state)
        self.editor.set_state(event.line, state)
        self.progress.setRange(0, max(1, event.lines_total))
        self.progress.setValue(event.lines_done)
        if event.state == "rendering":
            left = ""
            if event.lines_done:
                per_line = (time.monotonic() - self._job_started) / event.lines_done
                left = f" · about {format_duration(per_line * (event.lines_total - event.lines_done))} left"
            self.statusBar().showMessage(f"Rendering line {event.line + 1}: {event.seconds:.1f} s of audio "
                                         f"({event.lines_done}/{event.lines_total} lines done){left}")
        elif event.state == "failed":
            self.statusBar().showMessage(f"Line {event.line + 1} failed: {event.error}", 8000)

    def _toggle_live(self) -> None:
        self._live_audio = self.act_live.isChecked()

    def _on_chunk(self, job: int, line: int, audio: np.ndarray) -> None:
        if job != self.job or not self._live_audio:
            return
        try:
            if self.player.playing:
                self.player.append(audio)
            else:
                self.player.play(audio)
        except PlaybackError as exc:
            self._live_audio = False
            self.act_live.setChecked(False)
            show_error(self, str(exc))

    def _merge_render(self) -> None:
        """Bring the chosen takes of the rendered copy into the live project (unchanged lines)."""
        copy_ = self._rendered_copy
        if copy_ is None:
            return
        old = copy_.script().utterances
        new = self._utterances()
        for n, (a, b) in enumerate(zip(old, new)):
            if (a.speaker, a.text) == (b.speaker, b.text):
                state = copy_.line(n)
                mine = self.project.line(n)
                if (mine.chosen_take, mine.variant) != (state.chosen_take, state.variant):
                    mine.chosen_take, mine.variant = state.chosen_take, state.variant
                    self.dirty = True
        self._rendered_copy = None

    def _end_job(self) -> None:
        self.job = None
        self.act_stop.setEnabled(False)
        self.act_render_all.setEnabled(True)
        self.act_render_sel.setEnabled(True)
        self.progress.setVisible(False)
        self._merge_render()
        if self.project.folder is not None and self.dirty:
            self.save()
        self.refresh_states()
        n = self.editor.current_utterance()
        if n is not None:
            self._show_takes(n)

    def _on_finished(self, job: int, report) -> None:
        if job in self._side_jobs:
            self._side_jobs.pop(job)(report)
            return
        if job != self.job:
            return
        self._end_job()
        done = len(report.generated)
        msg = f"Rendered {done} line(s); {len(report.reused)} unchanged."
        if report.failed:
            first = min(report.failed)
            show_error(self, f"{len(report.failed)} line(s) failed. Line {first + 1}: {report.failed[first]}")
        self.statusBar().showMessage(msg, 6000)

    def _on_failed(self, job: int, message: str, details: str) -> None:
        if self._side_jobs.pop(job, None) is not None:
            show_error(self, message, details)
            return
        if job != self.job:
            return
        self._end_job()
        show_error(self, message, details)

    def _on_cancelled(self, job: int) -> None:
        if job != self.job:
            return
        self._end_job()
        self.statusBar().showMessage("Stopped. Finished lines are kept.", 6000)

    def show_waveform(self, key: str | None, label: str = "") -> None:
        store = self._store()
        if not key or store is None or not store.has(key):
            self._waveform_key = None
            self.waveform.set_audio(None)
            return
        if key != self._waveform_key:
            self._waveform_key = key
            self.waveform.set_audio(store.load(key).numpy(), label)

    def _on_playhead(self, seconds: float) -> None:
        if self._playing_key is not None and self._playing_key == self._waveform_key:
            self.waveform.set_playhead(seconds)

    def seek(self, seconds: float) -> None:
        if self._waveform_key:
            self._play_take(self._waveform_key, seconds)

    # ----- playback -----------------------------------------------------------------------------------
    def _play(self, audio: np.ndarray, start_s: float = 0.0, key: str | None = None) -> None:
        self._playing_key = key
        try:
            self.player.play(audio, start_s)
        except PlaybackError as exc:
            self._playing_key = None
            show_error(self, str(exc))

    def _play_take(self, key: str, start_s: float = 0.0) -> None:
        store = self._store()
        if store and store.has(key):
            self._play(store.load(key).numpy(), start_s, key)

    def play_pause(self) -> None:
        """Space: pause what plays, or play the dialogue from the selected line."""
        if self.player.playing:
            self.player.stop()
            return
        n = self.editor.current_utterance() or 0
        self.play_all(from_line=n)

    def _play_clip(self, clip_id: str) -> None:
        try:
            self._play(self.library.get(clip_id).load().numpy())
        except CsmError as exc:
            show_error(self, str(exc))

    def play_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None and (key := self.project.line(n).chosen_take):
            self._play_take(key)

    def play_all(self, from_line: int = 0) -> None:
        store = self._store()
        if store is None:
            return
        from csm_desktop.dialogue.export import build_timeline

        try:
            timeline = build_timeline(self.project, store)
        except CsmError as exc:
            show_error(self, str(exc))
            return
        mix = np.zeros(timeline.total, dtype=np.float32)
        for p in timeline.placements:
            mix[p.start : p.start + p.length] = store.load(p.key).numpy()[: p.length]
        start = timeline.placements[from_line].start if 0 <= from_line < len(timeline.placements) else 0
        self._play(mix, start / timeline.sample_rate)

    # ----- export -------------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        from csm_desktop.ui.dialogs import ExportDialog

        if self.project.folder is None:
            show_error(self, "Save and render the project before exporting.")
            return
        dialog = ExportDialog(self, self.project.name)
        if dialog.exec():
            self.export(dialog.output(), dialog.options())

    def export(self, output: Path, options: ExportOptions) -> list[Path]:
        store = self._store()
        try:
            written = export_dialogue(self.project, store, output, options)
        except CsmError as exc:
            show_error(self, str(exc))
            return []
        self.statusBar().showMessage(f"Exported {len(written)} file(s) to {Path(output).parent}", 8000)
        return written

    # ----- closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.confirm_discard():
            event.ignore()
            return
        self.player.stop()
        self.workers.close()
        event.accept()
