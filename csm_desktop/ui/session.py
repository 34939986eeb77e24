"""The open project's one owner: the project, whether it differs from what is saved, the voice
library, the take store and the undo stack. Controllers change the project through it; widgets
refresh from its signals. Edits of speakers and of the library (a clip given to a speaker, a
transcript) are undoable commands; typing is the editor's own undo.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.clip_trim import trim_clip
from csm_desktop.dialogue.line_map import GoneLines, follow_lines
from csm_desktop.dialogue.project import Project, Speaker
from csm_desktop.dialogue.project_voices import restore_project_voices, write_project_voices
from csm_desktop.dialogue.script import Utterance, parse_lines
from csm_desktop.dialogue.speaker_hints import retag
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.dialogue.voices import Clip, DuplicateClipError, VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.settings import Settings

GENERATION_DEFAULTS = ("temperature", "topk", "max_line_ms", "default_gap_ms")


@dataclass(frozen=True)
class ClipChange:
    """One field of a library clip, before and after an edit (undo sets it back)."""

    clip_id: str
    field: str  # "speaker" (None: no speaker), "transcript" or "name"
    before: str | None
    after: str | None


class SessionEdit(QUndoCommand):
    """An edit of the speakers and the script text (restored together), and of library clips."""

    def __init__(self, session: ProjectSession, text: str, change: Callable[[], None],
                 clips: tuple[ClipChange, ...] = ()) -> None:
        super().__init__(text)
        self.session = session
        self.change = change
        self.clips = clips
        self.before = session.snapshot()
        self.after: tuple | None = None

    def redo(self) -> None:
        if self.after is None:
            self.change()
            self.after = self.session.snapshot()
        else:
            self._set_clips(after=True)
            self.session.restore(self.after)

    def undo(self) -> None:
        self._set_clips(after=False)
        self.session.restore(self.before)

    def _set_clips(self, *, after: bool) -> None:
        for change in self.clips:
            value = change.after if after else change.before
            try:
                self.session.library.update(change.clip_id, **{change.field: value})
            except CsmError as exc:  # the clip was removed since: the rest is still restored
                self.session.problem.emit(exc)
        if self.clips:
            self.session.library_changed.emit()


class ProjectSession(QObject):
    """The single source of truth the window's widgets refresh from."""

    project_replaced = Signal()  # a new or opened project: refresh everything
    text_replaced = Signal(str)  # the script text changed other than by typing (rename, undo)
    speakers_changed = Signal()
    library_changed = Signal()
    takes_changed = Signal()  # a line's chosen take changed, or new takes were stored
    edited = Signal()  # any change of the project (line states may differ)
    dirty_changed = Signal(bool)
    saved = Signal(object)  # Path
    problem = Signal(object)  # an exception met while undoing or redoing, for the window to show
    voices_notice = Signal(str)  # news of the project's voice clips (brought in on opening, not copied on saving)

    def __init__(self, settings: Settings, library: VoiceLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.library = library
        self.undo_stack = QUndoStack(self)
        self._typed: set[str] = set()  # speakers added because typing used their tag
        self._gone = GoneLines()  # states of lines edited away, for their return
        self.project = self.fresh_project()
        self._saved = self._fingerprint()
        self.dirty = False

    # ----- the project ------------------------------------------------------------------------------
    def fresh_project(self) -> Project:
        """A new project with the user's generation defaults."""
        project = Project.new()
        for name in GENERATION_DEFAULTS:
            setattr(project.settings, name, getattr(self.settings, name))
        return project

    def replace(self, project: Project) -> None:
        """Make ``project`` the open one (new or opened): nothing to save, nothing to undo."""
        self.project = project
        self._gone.clear()
        self._typed = set()
        self._add_speakers(project.script_text)  # a hand-written file may lack some
        self._typed = set()
        self.undo_stack.clear()
        self._saved = self._fingerprint()
        self._set_dirty(False)
        self.project_replaced.emit()

    def new(self) -> None:
        self.replace(self.fresh_project())

    def recover(self, project: Project, saved: Project | None) -> None:
        """Make ``project`` (unsaved work recovered after a crash) the open one. ``saved``: what
        its folder holds (None: it was never saved); the project is unsaved where it differs."""
        self.replace(project)
        self._saved = self._fingerprint(saved) if saved is not None else ""
        self._set_dirty(self._fingerprint() != self._saved)

    def open(self, folder: str | Path) -> None:
        """Raises: CsmError (the project cannot be read; the open one stays)."""
        project = Project.open(folder)
        restored = restore_project_voices(project, self.library)  # clips the library lacks, from the folder
        self.settings.add_recent(project.folder)
        self._save_settings()
        self.replace(project)
        if restored.restored:
            self.library_changed.emit()
        if message := restored.message():
            self.voices_notice.emit(message)

    def save(self, folder: str | Path | None = None) -> Path:
        """Save (into ``folder`` when given, which becomes the project's).

        Raises: CsmError, OSError: not saved (the project stays as it is, unsaved).
        """
        path = self.project.save(folder)
        lost = write_project_voices(self.project, self.library)  # the folder carries its clips
        if lost:
            self.voices_notice.emit("Not copied into the project folder: " + " ".join(lost))
        if folder is not None:
            self.settings.add_recent(self.project.folder)
            self._save_settings()
        self._saved = self._fingerprint()
        self._set_dirty(False)
        self.saved.emit(path)
        return path

    def remember_import_folder(self, folder: Path) -> None:
        """The Import dialog opens here next time (in this run and the next)."""
        self.settings.import_folder = str(folder)
        self._save_settings()

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError:
            pass  # settings are a convenience; never block work on them

    def store(self) -> TakeStore | None:
        """The project's takes, once it has a folder."""
        return self.store_of(self.project)

    @staticmethod
    def store_of(project: Project) -> TakeStore | None:
        return TakeStore(project.takes_dir, SAMPLE_RATE) if project.folder else None

    def takes_stored(self) -> None:
        """A render stored takes (the chosen ones may be the same)."""
        self.takes_changed.emit()

    # ----- changes and the dirty flag -------------------------------------------------------------
    def _fingerprint(self, project: Project | None = None) -> str:
        """What saving writes, less the display colours (assigned when a project is shown)."""
        data = (project or self.project).to_json()
        for speaker in data["speakers"]:
            speaker.pop("color", None)
        return json.dumps(data, sort_keys=True)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirty_changed.emit(dirty)

    def touched(self) -> None:
        """The project changed: it is dirty unless it is back to what was saved."""
        self._set_dirty(self._fingerprint() != self._saved)
        self.edited.emit()

    def set_script_text(self, text: str) -> bool:
        """Typing: the new text (each speaker tag in it gets a project speaker). Returns whether
        anything changed."""
        if text == self.project.script_text:
            return False
        before = _spoken(self.project.script_text)
        self.project.script_text = text
        self.project.lines = follow_lines(before, _spoken(text), self.project.lines, self._gone)
        self._add_speakers(text)
        self.touched()
        return True

    def _add_speakers(self, text: str) -> None:
        """Give each speaker tag of ``text`` a project speaker; drop those that typing added and
        the text no longer uses (a half-typed name, a line typed and undone) unless they got clips."""
        items, _errors = parse_lines(text)  # the lines that parse: the others show their error
        tags = dict.fromkeys(i.speaker for i in items if isinstance(i, Utterance))
        gone = [s for s in self.project.speakers if s.name in self._typed and s.name not in tags and not s.clip_ids]
        for s in gone:
            self.project.speakers.remove(s)
            self._typed.discard(s.name)
        known = {s.name for s in self.project.speakers}
        new = [t for t in tags if t not in known]
        for tag in new:
            self.project.speaker(tag)
        self._typed.update(new)
        if new or gone:
            self.speakers_changed.emit()

    def choose_take(self, line: int, key: str) -> bool:
        """Make ``key`` line ``line``'s take. Returns False when no such take is stored, or when it
        is a take of other words or another speaker (it would be heard, and exported, as this line)."""
        store = self.store()
        info = store.info(key) if store else None
        utterances = self.project.script().utterances
        if info is None or not 0 <= line < len(utterances):
            return False
        if (info.speaker, info.line_text) != (utterances[line].speaker, utterances[line].text):
            return False
        state = self.project.line(line)
        state.chosen_take, state.variant = key, info.variant
        self.touched()
        self.takes_changed.emit()
        return True

    def merge_render(self, rendered: Project, current: list[tuple[str, str]]) -> None:
        """Bring the chosen takes of ``rendered`` (a copy the render worked on) into the project;
        ``current``: (speaker, words) of each utterance of the script as it is now. A rendered
        line is matched by its speaker, words and which occurrence of them it is, so lines typed
        above it meanwhile move it without losing its take; lines whose words changed keep theirs."""
        def occurrences(lines: list[tuple[str, str]]) -> dict[tuple[str, str, int], int]:
            seen: dict[tuple[str, str], int] = {}
            out = {}
            for n, line in enumerate(lines):
                seen[line] = seen.get(line, 0) + 1
                out[(*line, seen[line])] = n
            return out

        now = occurrences(current)
        changed = False
        for key, n in occurrences([(u.speaker, u.text) for u in rendered.script().utterances]).items():
            m = now.get(key)
            if m is None:
                continue
            state, mine = rendered.line(n), self.project.line(m)
            if (mine.chosen_take, mine.variant, mine.auto_choice) != (state.chosen_take, state.variant,
                                                                      state.auto_choice):
                mine.chosen_take, mine.variant, mine.auto_choice = state.chosen_take, state.variant, state.auto_choice
                changed = True
        if changed:
            self.touched()
            self.takes_changed.emit()

    # ----- undoable edits -----------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        return copy.deepcopy(self.project.speakers), self.project.script_text

    def restore(self, state: tuple) -> None:
        speakers, text = state
        self.project.speakers = copy.deepcopy(speakers)
        if text != self.project.script_text:
            self.project.script_text = text
            self.text_replaced.emit(text)
        self.touched()
        self.speakers_changed.emit()

    def edit(self, text: str, change: Callable[[], None], clips: tuple[ClipChange, ...] = ()) -> None:
        self.undo_stack.push(SessionEdit(self, text, change, clips))

    def add_speaker(self, name: str) -> None:
        def change():
            self.project.speaker(name)
            self._typed.discard(name)  # wanted, lines or not
            self.touched()
            self.speakers_changed.emit()

        self.edit(f"Add speaker {name}", change)

    def rename_speaker(self, old: str, new: str) -> None:
        """Rename a speaker and its lines' tags."""
        def change():
            self.project.speaker(old).name = new
            text = self.project.script_text
            lines = text.splitlines()
            renamed = [f"{new}:{ln.split(':', 1)[1]}" if ln.lstrip().startswith(f"{old}:") else ln for ln in lines]
            self.project.script_text = "\n".join(renamed) + ("\n" if text.endswith("\n") else "")
            self.text_replaced.emit(self.project.script_text)
            self.touched()
            self.speakers_changed.emit()

        self.edit(f"Rename {old} to {new}", change)

    def remove_speaker(self, name: str) -> None:
        def change():
            self.project.speakers = [s for s in self.project.speakers if s.name != name]
            self.touched()
            self.speakers_changed.emit()

        self.edit(f"Remove speaker {name}", change)

    def retag(self, old: str, new: str) -> None:
        """Give ``old``'s lines the tag ``new`` (a typo fixed: "Bne" -> "Ben"); ``old`` goes unless
        it has voice clips."""
        def change():
            self.project.script_text = retag(self.project.script_text, old, new)
            self.project.speaker(new)
            self.project.speakers = [s for s in self.project.speakers if s.name != old or s.clip_ids]
            self._typed.discard(old)
            self.text_replaced.emit(self.project.script_text)
            self.touched()
            self.speakers_changed.emit()

        self.edit(f"Change {old} to {new}", change)

    def replace_script(self, text: str, speakers: list[str], label: str) -> None:
        """Set the whole script text (a draft put in) and add the speakers it names, as one
        undoable edit: undo takes both back."""
        def change():
            for name in speakers:
                self.project.speaker(name)
                self._typed.discard(name)  # wanted: the user asked for them
            self.project.script_text = text
            self.text_replaced.emit(text)
            self.touched()
            self.speakers_changed.emit()

        self.edit(label, change)

    def assign_clip(self, speaker: str, clip_id: str) -> None:
        """Give ``speaker`` a voice clip (and set the clip's speaker in the library).

        Raises: CsmError: no such clip.
        """
        self._give_clip(clip_id, speaker, f"Give {speaker} a voice clip")

    def unassign_clip(self, speaker: str, clip_id: str) -> None:
        """Take a voice clip from ``speaker`` (the clip stays in the library)."""
        self._give_clip(clip_id, None, f"Take a voice clip from {speaker}")

    def _give_clip(self, clip_id: str, speaker: str | None, text: str) -> None:
        """``speaker`` (None: nobody) speaks with the clip. A clip is one voice: any other speaker
        that had it loses it."""
        previous = self.library.get(clip_id).speaker

        def change():
            for other in self.project.speakers:
                if other.name != speaker and clip_id in other.clip_ids:
                    other.clip_ids.remove(clip_id)
            if speaker is not None:
                spk: Speaker = self.project.speaker(speaker)
                self._typed.discard(speaker)  # a speaker with a voice is wanted
                if clip_id not in spk.clip_ids:
                    spk.clip_ids.append(clip_id)
            try:
                self.library.update(clip_id, speaker=speaker)
            finally:
                self.touched()
                self.speakers_changed.emit()
                self.library_changed.emit()

        self.edit(text, change, (ClipChange(clip_id, "speaker", previous, speaker),))

    def rename_clip(self, clip_id: str, name: str) -> None:
        """Rename a library clip, undoably.

        Raises: CsmError: no such clip, or the library cannot be written.
        """
        before = self.library.get(clip_id).name
        if before == name or not name.strip():
            return

        def change():
            self.library.update(clip_id, name=name)
            self.library_changed.emit()
            self.speakers_changed.emit()  # speakers list their clips by name

        self.edit(f"Rename clip {before}", change, (ClipChange(clip_id, "name", before, name),))

    def edit_transcript(self, clip_id: str, text: str) -> None:
        """Set a clip's transcript, undoably.

        Raises: CsmError: no such clip, or the library cannot be written.
        """
        before = self.library.get(clip_id).transcript
        if before == text:
            return

        def change():
            self.library.update(clip_id, transcript=text)
            self.library_changed.emit()

        self.edit("Edit a transcript", change, (ClipChange(clip_id, "transcript", before, text),))

    # ----- the library (not undoable: files come and go) ---------------------------------------------
    def import_files(self, paths: list[Path]) -> tuple[list[Clip], list[tuple[Path, Clip]], list[str]]:
        """Import each file; one bad file does not stop the others. Returns the clips imported,
        the files whose audio the library already held, each with that clip (not imported
        twice), and the problems (``name: why``)."""
        clips, known, problems = [], [], []
        for path in paths:
            try:
                clips.append(self.library.import_clip(path))
            except DuplicateClipError as exc:
                known.append((path, exc.existing))
            except CsmError as exc:
                problems.append(f"{path.name}: {exc}")
        if clips:
            self.library_changed.emit()
        return clips, known, problems

    def trim_clip(self, clip_id: str, start_s: float, end_s: float) -> Clip:
        """A trimmed copy of a clip in the library (the same cut made before: that clip).

        Raises: CsmError: too short a cut, the clip is gone, or the library cannot be written.
        """
        try:
            clip = trim_clip(self.library, clip_id, start_s, end_s)
        except DuplicateClipError as exc:
            return exc.existing
        self.library_changed.emit()
        return clip

    def replace_clip(self, old: str, new: str) -> None:
        """Speakers that have clip ``old`` get ``new`` in its place (a trimmed copy), undoably."""
        def change():
            for s in self.project.speakers:
                if old in s.clip_ids:
                    s.clip_ids = list(dict.fromkeys(new if c == old else c for c in s.clip_ids))
            self.touched()
            self.speakers_changed.emit()

        if any(old in s.clip_ids for s in self.project.speakers):
            self.edit("Use the trimmed clip", change)

    def remove_clip(self, clip_id: str) -> None:
        """Remove a clip from the library and from every speaker. The undo history forgets
        edits of it (its file is gone).

        Raises: CsmError: the library could not be changed.
        """
        self.library.remove(clip_id)
        used = False
        for s in self.project.speakers:
            if clip_id in s.clip_ids:
                s.clip_ids.remove(clip_id)
                used = True
        self.undo_stack.clear()
        if used:
            self.touched()
            self.speakers_changed.emit()
        self.library_changed.emit()


def _spoken(text: str) -> list[tuple[str, str]]:
    """Speaker and words of each utterance of ``text``, in order (what line states are kept by)."""
    items, _errors = parse_lines(text)
    return [(i.speaker, i.text) for i in items if isinstance(i, Utterance)]
