"""The selected line's takes: the takes panel lists them, the waveform shows the chosen one, and
choosing a take goes to the session."""

from __future__ import annotations

from PySide6.QtCore import QObject

from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.takes_panel import TakesPanel
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.waveform import Waveform


class TakesController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, panel: TakesPanel, waveform: Waveform,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.editor = editor
        self.panel = panel
        self.waveform = waveform
        editor.line_selected.connect(self.show_line)
        panel.choose_requested.connect(self.choose_take)
        for signal in (session.takes_changed, session.project_replaced):
            signal.connect(self.refresh)

    def refresh(self) -> None:
        n = self.editor.current_utterance()
        self.show_line(-1 if n is None else n)

    def show_line(self, n: int) -> None:
        """Line ``n``'s takes (an utterance index; -1: the cursor is on no line)."""
        store, utts = self.session.store(), self.editor.utterances()
        if store is None or not 0 <= n < len(utts):
            self.panel.show_takes("", [], None)
            self.show_waveform(None)  # no line here: neither takes nor another line's waveform
            return
        u = utts[n]
        chosen = self.session.project.line(n).chosen_take
        takes = store.takes_for(u.text, u.speaker)
        self.panel.show_takes(f"{u.speaker}: {u.text[:40]}", takes, chosen)
        # The chosen take is shown while it is one of this line's takes (not after its words changed).
        shown = chosen if any(t.key == chosen for t in takes) else None
        self.show_waveform(shown, f"Line {u.line} · {u.speaker}")  # the editor's numbering

    def show_waveform(self, key: str | None, label: str = "") -> None:
        store = self.session.store()
        if not key or store is None or not store.has(key):
            self.waveform.set_audio(None)
        elif key != self.waveform.key:
            self.waveform.set_audio(store.load(key).numpy(), label, key)

    def choose_take(self, key: str) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.session.choose_take(n, key)
