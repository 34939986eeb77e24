"""The permission prompt: the first time a voice clip is given to a speaker, the user confirms
that it is their own voice or that its speaker allowed them to use it. The answer is recorded in
the voice library with the date (once per clip); nothing is assigned without it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.voices import Clip, ClipError, VoiceLibrary
from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_exception


class ConsentDialog(QDialog):
    """Asks about one clip; Confirm is enabled once one of the two statements is chosen."""

    def __init__(self, parent: QWidget | None, clip: Clip, speaker: str) -> None:
        super().__init__(parent)
        self.setObjectName("consentDialog")
        self.setWindowTitle("Permission to use this voice")
        self.setModal(True)
        intro = QLabel(
            f"<b>{_escape(clip.name)}</b> will be the voice of <b>{_escape(speaker)}</b>. CSM imitates the voice in "
            "this clip, so everything rendered for this speaker will sound like the person speaking in it.<br><br>"
            "Use someone's voice only with their permission. Impersonating a person without consent, or "
            "passing generated speech off as real, is not allowed. Every take carries an inaudible AI "
            "watermark, and exports carry content credentials that say the audio was generated.")
        intro.setWordWrap(True)
        self.own = QRadioButton("This is my own voice.")
        self.permitted = QRadioButton("This is someone else's voice, and they gave me permission to use it.")
        self.choice = QButtonGroup(self)
        for button in (self.own, self.permitted):
            self.choice.addButton(button)
        note = QLabel("Your answer is recorded in the voice library with today's date, and exported files say "
                      "that consent was confirmed. You are asked once per clip.")
        note.setWordWrap(True)
        note.setObjectName("consentNote")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm = self.buttons.addButton("Confirm and assign", QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm.setEnabled(False)
        self.choice.buttonToggled.connect(lambda *_: self.confirm.setEnabled(self.choice.checkedButton() is not None))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(self.own)
        layout.addWidget(self.permitted)
        layout.addSpacing(6)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ask_consent(parent: QWidget, library: VoiceLibrary, clip: Clip, speaker: str,
                on_confirmed: Callable[[], None]) -> ConsentDialog | None:
    """Call ``on_confirmed`` at once when the clip's consent is on record; otherwise open the
    prompt (without blocking the event loop), record the answer, then call it. Cancel assigns
    nothing. Returns the open dialog, if one was opened."""
    if clip.consent_at:
        on_confirmed()
        return None
    dialog = ConsentDialog(parent, clip, speaker)

    def answered(result: int) -> None:
        dialog.deleteLater()
        if result != QDialog.DialogCode.Accepted:
            return
        try:
            library.record_consent(clip.id, own_voice=dialog.own.isChecked())
        except CsmError as exc:
            show_exception(parent, exc)
            return
        on_confirmed()

    dialog.finished.connect(answered)
    dialog.open()
    return dialog


def ask_missing_consent(parent: QWidget, library: VoiceLibrary, project: Project,
                        then: Callable[[], None]) -> bool:
    """Before a render: when a clip the project's speakers use has no consent on record (given to
    its speaker before the app asked, or in another tool), ask about it and call ``then`` once it
    is confirmed. Returns whether it asked (the caller waits for ``then``)."""
    for speaker in project.speakers:
        for clip_id in speaker.clip_ids:
            try:
                clip = library.get(clip_id)
            except ClipError:
                continue  # the render itself says that the clip is missing
            if not clip.consent_at:
                ask_consent(parent, library, clip, speaker.name, then)
                return True
    return False
