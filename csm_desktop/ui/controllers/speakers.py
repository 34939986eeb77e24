"""Speakers and voice clips: the speakers panel and the library panel's intents (and audio files
dropped anywhere in the window) become session edits (undoable where they change the project or
a clip) and network jobs (transcription)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMainWindow

from csm_desktop.dialogue.speaker_hints import lines_by_tag, tag_fixes
from csm_desktop.dialogue.voices import Clip
from csm_desktop.errors import CsmError
from csm_desktop.ui.consent import ask_consent
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import Job, NetworkTasks
from csm_desktop.ui.widgets.clip_trimmer import TrimDialog
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.library_panel import AUDIO_FILTER, LibraryPanel, expand_audio_paths
from csm_desktop.ui.widgets.playback import Player
from csm_desktop.ui.widgets.project_dialogs import documents_folder
from csm_desktop.ui.widgets.speakers_panel import ClipView, SpeakersPanel, SpeakerView
from csm_desktop.wording import count_of


class SpeakersController(QObject):
    trim_dialog = TrimDialog  # what "Trim…" opens (tests put a scripted one here)

    def __init__(self, session: ProjectSession, editor: ScriptEditor, speakers: SpeakersPanel,
                 library: LibraryPanel, network: NetworkTasks, window: QMainWindow, player: Player) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.speakers_panel = speakers
        self.library_panel = library
        self.network = network
        self.window = window  # the parent of its dialogs; its status bar tells news
        self.player = player  # the trim dialog plays what it keeps
        speakers.add_requested.connect(self._add_dialog)
        speakers.rename_requested.connect(self._rename_dialog)
        speakers.remove_requested.connect(self.remove_speaker)
        speakers.clip_dropped.connect(self.assign_clip)
        speakers.files_dropped.connect(lambda speaker, paths: self.import_files(paths, speaker or None))
        speakers.import_for_requested.connect(self._import_dialog)
        speakers.unassign_requested.connect(self.unassign_clip)
        speakers.retag_requested.connect(self.retag)
        library.import_requested.connect(self._import_dialog)
        library.files_dropped.connect(self.import_files)
        library.transcript_edited.connect(self.edit_transcript)
        library.rename_requested.connect(self.rename_clip)
        library.speaker_chosen.connect(self.choose_speaker)
        library.new_speaker_requested.connect(self._new_speaker_dialog)
        library.remove_requested.connect(self.remove_clip)
        library.transcribe_requested.connect(self.transcribe_clip)
        library.trim_requested.connect(self.trim_dialog_for)
        for signal in (session.speakers_changed, session.library_changed, session.project_replaced):
            signal.connect(self.show_all)
        session.voices_notice.connect(lambda text: self._say(text, 15_000))

    def _say(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    # ----- showing ------------------------------------------------------------------------------------
    def _clips(self) -> list[Clip]:
        try:
            return self.session.library.clips()
        except CsmError as exc:
            show_exception(self.window, exc)
            return []

    def show_all(self) -> None:
        """Both panels from the session: a speaker's colour on its lines, its clips and the
        library's rows; a clip shows the speaker of the open project that uses it, and no other."""
        project = self.session.project
        for s in project.speakers:
            if s.color:
                self.editor.colors[s.name] = s.color
            else:
                s.color = self.editor.color_for(s.name)
        clips = self._clips()
        views = {c.id: ClipView(c.id, c.name, c.duration, c.transcript) for c in clips}
        fixes = {f.tag: f.suggestion for f in tag_fixes(project)}
        lines = lines_by_tag(project.script_text)  # the project's: the editor may not show it yet
        speakers = [SpeakerView(s.name, s.csm_id, self.editor.colors[s.name],
                                [views[c] for c in s.clip_ids if c in views],
                                sum(c not in views for c in s.clip_ids), fixes.get(s.name), tuple(lines.get(s.name, ())))
                    for s in project.speakers]
        self.speakers_panel.show_speakers(speakers, list(views.values()))
        owners = {}
        for s in project.speakers:
            for c in s.clip_ids:
                owners.setdefault(c, s.name)
        self.library_panel.show_clips(clips, owners, dict(self.editor.colors), [s.name for s in project.speakers])

    show_speakers = show_library = show_all

    # ----- speakers -----------------------------------------------------------------------------------
    def _ask_name(self, title: str, text: str = "") -> str | None:
        name, ok = QInputDialog.getText(self.window, title, "Name:", text=text)
        name = name.strip()
        return name if ok and name else None

    def _add_dialog(self) -> None:
        if name := self._ask_name("Add speaker"):
            self.session.add_speaker(name)

    def _rename_dialog(self, old: str) -> None:
        new = self._ask_name("Rename speaker", old)
        if new and new != old:
            if any(s.name == new for s in self.session.project.speakers):
                show_error(self.window, f"There is already a speaker called {new}. Choose another name.")
                return
            self.session.rename_speaker(old, new)

    def remove_speaker(self, name: str) -> None:
        if name in {u.speaker for u in self.editor.utterances()}:
            show_error(self.window, f"{name} still has lines in the script. Remove or reassign them first.")
            return
        self.session.remove_speaker(name)

    def retag(self, tag: str, name: str) -> None:
        """Lines tagged ``tag`` (a typo) become ``name``'s."""
        self.session.retag(tag, name)
        self._say(f"Changed \u201c{tag}\u201d to {name}. Undo brings it back.", 6000)

    def assign_clip(self, speaker: str, clip_id: str) -> None:
        """Give ``speaker`` the clip, once the user has confirmed permission to use its voice
        (asked the first time a clip is assigned; see ui/consent.py)."""
        try:
            clip = self.session.library.get(clip_id)
        except CsmError as exc:
            show_exception(self.window, exc)
            return
        ask_consent(self.window, self.session.library, clip, speaker, lambda: self._assign(speaker, clip_id))

    def _assign(self, speaker: str, clip_id: str) -> None:
        try:
            self.session.assign_clip(speaker, clip_id)
        except CsmError as exc:
            show_exception(self.window, exc)

    def unassign_clip(self, speaker: str, clip_id: str) -> None:
        try:
            self.session.unassign_clip(speaker, clip_id)
        except CsmError as exc:
            show_exception(self.window, exc)

    def choose_speaker(self, clip_id: str, speaker: str) -> None:
        """The library's Speaker column or menu: ``speaker`` ("" for none) speaks with this clip."""
        owner = next((s.name for s in self.session.project.speakers if clip_id in s.clip_ids), None)
        if speaker:
            self.assign_clip(speaker, clip_id)
        elif owner:
            self.unassign_clip(owner, clip_id)
        self.show_all()  # the combo box's text goes back to what the project says, if nothing changed

    def _new_speaker_dialog(self, clip_id: str) -> None:
        name = self._ask_name("New speaker for this clip")
        if name:
            self.assign_clip(name, clip_id)

    # ----- the library ---------------------------------------------------------------------------------
    def _import_dialog(self, speaker: str | None = None) -> None:
        title = f"Import voice clips for {speaker}" if speaker else "Import voice clips"
        files, _ = QFileDialog.getOpenFileNames(self.window, title, str(self._import_folder()), AUDIO_FILTER)
        if files:
            self.session.remember_import_folder(Path(files[0]).parent)
            self.import_files(files, speaker or None)

    def _import_folder(self) -> Path:
        """Where the Import dialog opens: the folder of the last import, else the documents folder
        (never the folder the app happened to be started from)."""
        last = self.session.settings.import_folder
        return Path(last) if last and Path(last).is_dir() else documents_folder()

    def import_files(self, paths: list[str], speaker: str | None = None) -> list[str]:
        """Import every file (folders expanded); one bad file does not stop the others; audio
        the library already holds is not imported again (that clip is used). With ``speaker``,
        the clips become its voice. Returns the problems, which are also shown together."""
        clips, known, problems = self.session.import_files(expand_audio_paths(paths))
        if speaker:
            stack = self.session.undo_stack
            stack.beginMacro(f"Give {speaker} voice clips")
            for clip in clips + [c for _path, c in known]:
                self.assign_clip(speaker, clip.id)
            stack.endMacro()
        news = [f"{clip.name}: {w}" for clip in clips for w in clip.warnings]
        news += [f"{Path(path).name} is already in the library as \u201c{clip.name}\u201d (not imported again)."
                 for path, clip in known]
        if problems:
            show_error(self.window, f"{count_of(len(problems), 'file')} could not be imported.", "\n".join(problems))
        elif news:
            self._say(" \u00b7 ".join(news), 10_000)
        elif clips:
            to = f" and given to {speaker}" if speaker else ""
            each = "it" if len(clips) == 1 else "each"
            self._say(f"Imported {count_of(len(clips), 'clip')}{to}. Add a transcript to {each} (double-click it).", 8000)
        if known:
            self.library_panel.select_clip(known[-1][1].id)
        return problems

    def rename_clip(self, clip_id: str, name: str) -> None:
        if not name:
            self.show_all()  # an empty name is not a name: the old one stays
            return
        try:
            self.session.rename_clip(clip_id, name)
        except CsmError as exc:
            show_exception(self.window, exc)
            self.show_all()

    def edit_transcript(self, clip_id: str, text: str) -> None:
        try:
            self.session.edit_transcript(clip_id, text)
        except CsmError as exc:
            show_exception(self.window, exc)
            self.show_all()  # the panel shows what the library holds

    def trim_dialog_for(self, clip_id: str) -> Clip | None:
        """Open the trim dialog; a trim that is kept becomes a new clip, used in place of the
        original by this project's speakers (undoably); the original stays in the library."""
        try:
            clip = self.session.library.get(clip_id)
            audio = clip.load().numpy()
        except CsmError as exc:
            show_exception(self.window, exc)
            return None
        dialog = self.trim_dialog(self.window, clip.name, audio, play=self.player.play, stop=self.player.stop)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        try:
            trimmed = self.session.trim_clip(clip_id, *dialog.selection())
        except CsmError as exc:
            show_exception(self.window, exc)
            return None
        self.session.replace_clip(clip_id, trimmed.id)
        self.library_panel.select_clip(trimmed.id)
        self._say(f"Added \u201c{trimmed.name}\u201d ({trimmed.duration:.1f} s); the original is kept. Check that "
                  "its transcript says only what is left.", 10_000)
        return trimmed

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
