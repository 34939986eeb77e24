"""Before a render: lines whose speaker has no voice clip (CSM would make up a voice, a different
one each time) and tags that look like a typo of a voiced speaker ("Bne" for "Ben") are named,
with the choice to fix the tags, render anyway, or go back. "Render anyway" is remembered for
those speakers until another project is opened."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QMessageBox

from csm_desktop.dialogue.speaker_hints import TagFix, Voiceless, tag_fixes, voiceless_speakers
from csm_desktop.ui.session import ProjectSession

FIX, RENDER, CANCEL = "fix", "render", "cancel"


def _lines(lines: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, lines[:6])) + ("…" if len(lines) > 6 else "")
    return f"line {shown}" if len(lines) == 1 else f"lines {shown}"


class VoiceCheck(QObject):
    def __init__(self, session: ProjectSession, window: QMainWindow) -> None:
        super().__init__(window)
        self.session = session
        self.window = window
        self.accepted: set[str] = set()  # speakers the user chose to render without a voice clip
        session.project_replaced.connect(self.accepted.clear)

    def confirm(self, lines: list[int] | None) -> bool:
        """Whether the render of ``lines`` (utterance indexes; None: all) may go on."""
        project = self.session.project
        chosen = None if lines is None else set(lines)
        speaking = voiceless_speakers(project, chosen)
        names = {v.name for v in speaking}
        fixes = [f for f in tag_fixes(project) if f.tag in names and f.tag not in self.accepted]
        fixed = {f.tag for f in fixes}
        voiceless = [v for v in speaking if v.name not in self.accepted and v.name not in fixed]
        if not fixes and not voiceless:
            return True
        answer = self.ask(fixes, voiceless)
        if answer == FIX:
            for f in fixes:
                self.session.retag(f.tag, f.suggestion)
            self.accepted.update(v.name for v in voiceless)
            return True
        if answer == RENDER:
            self.accepted.update(v.name for v in voiceless)
            self.accepted.update(f.tag for f in fixes)
            return True
        return False

    def ask(self, fixes: list[TagFix], voiceless: list[Voiceless]) -> str:
        """FIX, RENDER or CANCEL, as the user chooses in a message box."""
        parts = []
        if fixes:
            parts.append("These tags look like typos of speakers who have a voice:\n"
                         + "\n".join(f"  \u2022 {f.question()}" for f in fixes))
        if voiceless:
            parts.append("These speakers have no voice clip, so CSM will make up a random voice for them (a "
                         "different one on each render):\n"
                         + "\n".join(f"  \u2022 {v.name} ({_lines(v.lines)})" for v in voiceless)
                         + "\nGive each a clip: drop one from the library onto the speaker.")
        box = QMessageBox(QMessageBox.Icon.Warning, "Before rendering", "\n\n".join(parts),
                          parent=self.window)
        fix = None
        if fixes:
            fix = box.addButton("Fix tags and render" if not voiceless else "Fix tags, then render",
                                QMessageBox.ButtonRole.AcceptRole)
        render = box.addButton("Render anyway", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(fix or cancel)
        box.exec()
        clicked = box.clickedButton()
        return FIX if clicked is fix and fix is not None else RENDER if clicked is render else CANCEL
