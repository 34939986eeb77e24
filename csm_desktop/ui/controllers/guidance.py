"""Actions that have nothing to act on are disabled, and say why: Render with no line to render,
Play with no take to hear, Export with nothing rendered. Their tooltips tell what to do instead."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.editor import ScriptEditor

HEARD = ("done", "stale")  # line states with a take to play (an outdated one still plays)
NO_LINES = "Nothing to render yet: type a line such as “Alice: Hello.”, or Edit › Draft script with Gemini."
NOT_A_LINE = "Put the cursor on a line of dialogue to render it."
RENDERING = "A render is running: Stop it first."
NO_TAKES = "Nothing to play yet: render the script first (Render all)."
NO_TAKE_HERE = "This line has no take yet: render it first."
NOTHING_RENDERED = "Nothing to export yet: render the script first (Render all)."


class ActionGuide(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, *, render_all: QAction,
                 render_selected: QAction, play_line: QAction, play_all: QAction, export: QAction) -> None:
        super().__init__(editor)
        self.session = session
        self.editor = editor
        self.render_all, self.render_selected = render_all, render_selected
        self.play_line, self.play_all, self.export = play_line, play_all, export
        self._tips = {a: (a.toolTip(), a.statusTip()) for a in (render_all, render_selected, play_line, play_all,
                                                                 export)}
        self._rendering = False
        for signal in (session.edited, session.project_replaced, session.takes_changed):
            signal.connect(self.refresh)
        editor.cursorPositionChanged.connect(self.refresh)
        self.refresh()

    def set_rendering(self, rendering: bool) -> None:
        self._rendering = rendering
        self.refresh()

    def _set(self, action: QAction, why_not: str) -> None:
        """Enable ``action``, or disable it with ``why_not`` as its tooltip and status tip."""
        tip, status_tip = self._tips[action]
        action.setEnabled(not why_not)
        action.setToolTip(why_not or tip)
        action.setStatusTip(why_not or status_tip)

    def refresh(self) -> None:
        """Decide from the script as the editor parsed it and the line states last planned."""
        lines = len(self.editor.utterance_lines)
        states = self.editor.states[:lines]
        current = self.editor.current_utterance()
        heard = any(s in HEARD for s in states)
        here = current is not None and current < len(states) and states[current] in HEARD
        self._set(self.render_all, RENDERING if self._rendering else "" if lines else NO_LINES)
        self._set(self.render_selected, RENDERING if self._rendering else "" if current is not None
                  else NO_LINES if not lines else NOT_A_LINE)
        self._set(self.play_all, "" if heard else NO_TAKES)
        self._set(self.play_line, "" if here else NO_TAKE_HERE if heard else NO_TAKES)
        self._set(self.export, "" if heard and self.session.project.folder is not None else NOTHING_RENDERED)
