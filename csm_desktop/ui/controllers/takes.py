"""The selected line's takes: the takes panel lists them (with the line's state and why it is out
of date), the waveform shows the chosen one; choosing, starring and deleting a take go to the
session and the project's takes folder."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from csm_desktop.dialogue.takes import TakeInfo
from csm_desktop.dialogue.checks import describe_check
from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.takes_panel import TakeRow, TakesPanel, peaks_of
from csm_desktop.ui.widgets.waveform import Waveform
from csm_desktop.wording import count_of

RENDER_HINT = "Render > Render selected line (Ctrl+Shift+R)"
EMPTY_HINT = ("Every line you render gets its takes here: listen, compare and pick the best. Start by typing "
              "a line such as \u201cAlice: Hello.\u201d in the script.")


class TakesController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, panel: TakesPanel, waveform: Waveform,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.editor = editor
        self.panel = panel
        self.waveform = waveform
        self.window = parent  # the parent of its questions and messages
        self._peaks: dict[str, object] = {}  # take key -> its small waveform (a take's audio never changes)
        editor.line_selected.connect(self.show_line)
        panel.choose_requested.connect(self.choose_take)
        panel.star_requested.connect(self.star_take)
        panel.delete_requested.connect(self.delete_take)
        for signal in (session.takes_changed, session.project_replaced):
            signal.connect(self.refresh)

    def refresh(self) -> None:
        n = self.editor.current_utterance()
        self.show_line(-1 if n is None else n)

    def show_line(self, n: int) -> None:
        """Line ``n``'s takes (an utterance index; -1: the cursor is on no line)."""
        store, utts = self.session.store(), self.editor.utterances()
        if not 0 <= n < len(utts):
            self.panel.show_takes("", [], "Click a line of the script to see its takes." if utts else EMPTY_HINT)
            self.show_waveform(None)  # no line here: neither takes nor another line's waveform
            return
        u = utts[n]
        label = f"{u.speaker}: {u.text}"  # the panel cuts it to its width
        if store is None:
            self.panel.show_takes(label, [], f"Not rendered yet. Save the project, then {RENDER_HINT}.")
            self.show_waveform(None)
            return
        chosen = self.session.project.line(n).chosen_take
        takes = store.takes_for(u.text, u.speaker)
        # The words changed since the chosen take was made: that wording's takes are listed apart,
        # to play, never to choose (their audio would go out under the new words).
        was = store.info(chosen) if chosen and not any(t.key == chosen for t in takes) else None
        if was is not None and (was.speaker, was.line_text) == (u.speaker, u.text):
            was = None  # a take of these words whose audio is gone: nothing earlier to list
        earlier = store.takes_for(was.line_text, was.speaker) if was else []
        starred = set(self.session.project.starred)
        rows = [self._row(store, number, t, t.key == chosen, t.key in starred) for number, t in enumerate(takes, 1)]
        rows += [replace(self._row(store, number, t, t.key == chosen, t.key in starred), earlier=True)
                 for number, t in enumerate(earlier, 1)]
        earlier_label = (was.line_text if was.speaker == u.speaker else f"{was.speaker}: {was.line_text}") if was else ""
        self.panel.show_takes(label, rows, self._status(n, u.line, bool(takes), chosen is not None, len(earlier)),
                              earlier_label)
        # The chosen take is shown while it is one of this line's takes (not after its words changed).
        shown = chosen if any(t.key == chosen for t in takes) else None
        self.show_waveform(shown, f"Line {u.line} · {u.speaker}")  # the editor's numbering

    def _row(self, store, number: int, info: TakeInfo, chosen: bool, starred: bool) -> TakeRow:
        if info.key not in self._peaks:
            try:
                self._peaks[info.key] = peaks_of(store.load(info.key).numpy())
            except (CsmError, OSError, RuntimeError):  # unreadable audio: listed without a waveform
                self._peaks[info.key] = peaks_of([])
        inputs = info.inputs
        details = (f"Temperature {inputs['temperature']:g} · top-k {inputs['topk']}"
                   if isinstance(inputs.get("temperature"), (int, float)) and "topk" in inputs else "")
        check = store.check(info.key)
        return TakeRow(info.key, number, info.used_seconds, info.created, info.seed, self._peaks[info.key], chosen,
                       starred, details, tuple(check.problems) if check else (), check.score if check else None,
                       describe_check(check) if check else "Not checked yet")

    def _status(self, n: int, line: int, has_takes: bool, has_chosen: bool, earlier: int = 0) -> str:
        """The line's state as the gutter shows it, and what to do about it; ``earlier``: how many
        takes of the line's earlier wording are listed."""
        states = self.editor.states
        state = states[n] if n < len(states) else "none"
        note = self.editor.state_notes.get(line, "")
        if state == "stale" and earlier and not has_takes:
            kept = f"{count_of(earlier, 'take')} of the earlier wording {'is' if earlier == 1 else 'are'} kept below"
            return (f"{note or 'Out of date'}. {kept} (play to compare; they come back if you change the words "
                    "back). Render this line to make takes of the new words.")
        if state == "stale":
            return f"{note or 'Out of date'}. Render the line to bring it up to date (its earlier takes are kept)."
        if state in ("failed", "rendering", "queued"):
            return note or {"rendering": "Rendering…", "queued": "Waiting to render…"}.get(state, "")
        if state == "none" and has_takes:
            return f"No take chosen for these words: choose one below, or {RENDER_HINT}."
        if state == "none" and not has_chosen:
            return f"Not rendered yet: {RENDER_HINT}."
        return ""

    def show_waveform(self, key: str | None, label: str = "") -> None:
        store = self.session.store()
        if not key or store is None or not store.has(key):
            self.waveform.set_audio(None)
        elif key != self.waveform.key:
            self.waveform.set_audio(store.load(key).numpy(), label, key)

    # ----- intents ---------------------------------------------------------------------------------------
    def choose_take(self, key: str) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.session.choose_take(n, key)

    def star_take(self, key: str, starred: bool) -> None:
        """Starred takes are kept in the project (saved with it)."""
        project = self.session.project
        project.starred = [k for k in project.starred if k != key] + ([key] if starred else [])
        self.session.touched()
        self.session.takes_stored()

    def delete_take(self, key: str) -> None:
        """Delete a take after asking; lines that had it chosen have no take afterwards."""
        store = self.session.store()
        if store is None or not store.has(key):
            return
        project = self.session.project
        number = next((r.number for r in self.panel.rows if r.key == key), None)
        name = f"take {number}" if number else "this take"
        users = [n for n, state in project.lines.items() if state.chosen_take == key]
        more = (" It is the take chosen for this line: the line will have no take until you choose or render "
                "another." if users else "")
        answer = QMessageBox.question(self.window, "Delete take",
                                      f"Delete {name}? Its audio file is removed from the project's takes folder; "
                                      f"this cannot be undone.{more}",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            store.delete(key)
        except CsmError as exc:
            show_exception(self.window, exc)
            return
        finally:
            self._peaks.pop(key, None)
        for n in users:
            project.line(n).chosen_take = None
        project.starred = [k for k in project.starred if k != key]
        self.session.touched()
        if self.session.dirty:  # project.json must not name a take that is gone
            try:
                self.session.save()
            except (CsmError, OSError) as exc:
                show_exception(self.window, exc)
        self.session.takes_stored()
