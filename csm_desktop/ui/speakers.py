"""Main-window behaviour for speakers and voice clips, with undo for speaker edits."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QFileDialog, QInputDialog

from csm_desktop.dialogue.project import Speaker
from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.panels import expand_audio_paths

if TYPE_CHECKING:
    from csm_desktop.ui.main_window import MainWindow


class SpeakerEdit(QUndoCommand):
    """An edit of the speakers (and the script text it touches), undone by restoring both.
    ``clip``: ``(clip id, speaker before, speaker after)`` when the edit also sets a voice
    clip's speaker in the library, which undo and redo set back and forth too."""

    def __init__(self, window: "MainWindow", text: str, change: Callable[[], None],
                 clip: tuple[str, str | None, str | None] | None = None) -> None:
        super().__init__(text)
        self.window = window
        self.change = change
        self.clip = clip
        self.before = window.snapshot()
        self.after: tuple | None = None

    def redo(self) -> None:
        if self.after is None:
            self.change()
            self.after = self.window.snapshot()
        else:
            self._set_clip_speaker(2)
            self.window.restore(self.after)

    def undo(self) -> None:
        self._set_clip_speaker(1)
        self.window.restore(self.before)

    def _set_clip_speaker(self, which: int) -> None:
        if self.clip is None:
            return
        try:
            self.window.library.update(self.clip[0], speaker=self.clip[which])
        except CsmError as exc:  # the clip was removed since: the speakers are still restored
            show_exception(self.window, exc)


class SpeakersMixin:
    """Part of :class:`~csm_desktop.ui.main_window.MainWindow`."""

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

    def _speaker_edit(self, text: str, change: Callable[[], None], clip=None) -> None:
        self.undo_stack.push(SpeakerEdit(self, text, change, clip))

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
        try:
            previous = self.library.get(clip_id).speaker
        except CsmError as exc:
            show_exception(self, exc)
            return

        def change():
            spk: Speaker = self.project.speaker(speaker)
            if clip_id not in spk.clip_ids:
                spk.clip_ids.append(clip_id)
            try:
                self.library.update(clip_id, speaker=speaker)
            except CsmError as exc:
                show_exception(self, exc)
            self.set_dirty()
            self._sync_speakers()
            self.refresh_library()
            self.refresh_states()

        self._speaker_edit(f"Give {speaker} a voice clip", change, (clip_id, previous, speaker))

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
            show_exception(self, exc)
        self.refresh_states()

    def transcribe_clip(self, clip_id: str) -> int:
        """Ask Gemini for the clip's transcript in the background; fills it in when it arrives."""
        from csm_desktop.services.gemini import GeminiClient

        path = self.library.get(clip_id).path
        model = self.settings.gemini_model

        def done(text):
            self._edit_transcript(clip_id, text)
            self.refresh_library()
            self.statusBar().showMessage("Transcript filled in by Gemini. Check it against the audio.", 6000)

        # The network lane: a transcription does not wait behind a render.
        job = self.tasks.submit(lambda job: GeminiClient(model=model).transcribe(path), "transcribe",
                                on_done=done, on_error=lambda message, details: show_error(self, message, details))
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
