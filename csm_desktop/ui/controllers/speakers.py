"""Speakers and voice clips: the speakers panel and the library panel's intents become session
edits (undoable where they change the project or a clip) and network jobs (transcription)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow

from csm_desktop.errors import CsmError
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.widgets.library_panel import LibraryPanel, expand_audio_paths
from csm_desktop.ui.widgets.speakers_panel import SpeakersPanel
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import Job, NetworkTasks


class SpeakersController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, speakers: SpeakersPanel,
                 library: LibraryPanel, network: NetworkTasks, window: QMainWindow) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.speakers_panel = speakers
        self.library_panel = library
        self.network = network
        self.window = window  # the parent of its dialogs; its status bar tells news
        speakers.add_requested.connect(self._add_dialog)
        speakers.rename_requested.connect(self._rename_dialog)
        speakers.remove_requested.connect(self.remove_speaker)
        speakers.clip_dropped.connect(self.assign_clip)
        library.import_requested.connect(self._import_dialog)
        library.files_dropped.connect(self.import_files)
        library.transcript_edited.connect(self.edit_transcript)
        library.remove_requested.connect(self.remove_clip)
        library.transcribe_requested.connect(self.transcribe_clip)
        session.speakers_changed.connect(self.show_speakers)
        session.library_changed.connect(self.show_library)
        session.project_replaced.connect(self.show_speakers)

    def _say(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    # ----- showing ------------------------------------------------------------------------------------
    def show_speakers(self) -> None:
        """The project's speakers, each with its colour (the editor colours its lines the same)."""
        for s in self.session.project.speakers:
            if s.color:
                self.editor.colors[s.name] = s.color
            else:
                s.color = self.editor.color_for(s.name)
        try:
            names = {c.id: c.name for c in self.session.library.clips()}
        except CsmError as exc:
            names = {}
            show_exception(self.window, exc)
        self.speakers_panel.show_speakers(self.session.project.speakers, self.editor.colors, names)

    def show_library(self) -> None:
        try:
            clips = self.session.library.clips()
        except CsmError as exc:
            clips = []
            show_exception(self.window, exc)
        self.library_panel.show_clips(clips)
        self.show_speakers()  # clip names beside the speakers

    # ----- speakers -----------------------------------------------------------------------------------
    def _add_dialog(self) -> None:
        name, ok = QInputDialog.getText(self.window, "Add speaker", "Name:")
        if ok and name.strip():
            self.session.add_speaker(name.strip())

    def _rename_dialog(self, old: str) -> None:
        new, ok = QInputDialog.getText(self.window, "Rename speaker", "New name:", text=old)
        if ok and new.strip() and new.strip() != old:
            self.session.rename_speaker(old, new.strip())

    def remove_speaker(self, name: str) -> None:
        if name in {u.speaker for u in self.editor.utterances()}:
            show_error(self.window, f"{name} still has lines in the script. Remove or reassign them first.")
            return
        self.session.remove_speaker(name)

    def assign_clip(self, speaker: str, clip_id: str) -> None:
        try:
            self.session.assign_clip(speaker, clip_id)
        except CsmError as exc:
            show_exception(self.window, exc)

    # ----- the library ---------------------------------------------------------------------------------
    def _import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Import voice clips", "",
                                                "Audio (*.wav *.flac *.ogg *.opus *.mp3);;All files (*)")
        if files:
            self.import_files(files)

    def import_files(self, paths: list[str]) -> list[str]:
        """Import every file (folders expanded); one bad file does not stop the others.
        Returns the problems, which are also shown together."""
        clips, problems = self.session.import_files(expand_audio_paths(paths))
        warnings = [f"{clip.name}: {w}" for clip in clips for w in clip.warnings]
        if problems:
            show_error(self.window, f"{len(problems)} file(s) could not be imported.", "\n".join(problems))
        elif warnings:
            self._say(" · ".join(warnings), 8000)
        return problems

    def edit_transcript(self, clip_id: str, text: str) -> None:
        try:
            self.session.edit_transcript(clip_id, text)
        except CsmError as exc:
            show_exception(self.window, exc)
            self.show_library()  # the panel shows what the library holds

    def transcribe_clip(self, clip_id: str) -> Job | None:
        """Ask Gemini for the clip's transcript in the background; fills it in (undoably) when
        it arrives."""
        from csm_desktop.services.gemini import GeminiClient

        try:
            path = self.session.library.get(clip_id).path
        except CsmError as exc:
            show_exception(self.window, exc)
            return None
        model = self.session.settings.gemini_model

        def done(text):
            self.edit_transcript(clip_id, text)
            self._say("Transcript filled in by Gemini. Check it against the audio.", 6000)

        def failed(message: str, details: str) -> None:
            self._say("No transcript: see the message.", 6000)  # "Transcribing…" must not stay
            show_error(self.window, message, details)

        # The network lane: a transcription does not wait behind a render.
        job = self.network.submit(lambda job: GeminiClient(model=model).transcribe(path), "transcribe",
                                  on_done=done, on_error=failed)
        self._say("Transcribing with Gemini…")
        return job

    def remove_clip(self, clip_id: str) -> None:
        try:
            self.session.remove_clip(clip_id)
        except CsmError as exc:
            show_exception(self.window, exc)
