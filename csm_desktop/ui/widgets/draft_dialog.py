"""The "Draft script with Gemini" dialog: what the dialogue is about, how many lines, who speaks;
a preview of the draft and what was fixed in it; Insert puts it in the script. It shows state and
emits intents: the drafting controller asks Gemini and inserts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.drafting import MAX_DRAFT_LINES
from csm_desktop.wording import count_of

DEFAULT_LINES = 10


class DraftDialog(QDialog):
    draft_requested = Signal(str, int, list)  # prompt, lines, speakers
    stop_requested = Signal()
    insert_requested = Signal(str, bool)  # the draft's text, replace the whole script

    def __init__(self, parent: QWidget | None, speakers: list[str], script_empty: bool) -> None:
        super().__init__(parent)
        self.setObjectName("draftDialog")
        self.setWindowTitle("Draft script with Gemini")
        self.setMinimumWidth(560)
        self._draft_text = ""
        layout = QVBoxLayout(self)
        intro = QLabel("Describe the scene and Gemini writes the lines. You can read the draft before it goes "
                       "into the script, and Edit › Undo takes it out again.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("draftPrompt")
        self.prompt.setPlaceholderText("Two old friends meet at a train station after ten years; warm, a little "
                                       "awkward, ends with a plan to have dinner.")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setFixedHeight(90)
        form.addRow("About", self.prompt)
        self.lines = QSpinBox()
        self.lines.setRange(1, MAX_DRAFT_LINES)
        self.lines.setValue(DEFAULT_LINES)
        form.addRow("Lines", self.lines)
        self.speakers = QLineEdit(", ".join(speakers))
        self.speakers.setPlaceholderText("Alice, Bob (empty: Gemini chooses the names)")
        self.speakers.setToolTip("Separate names with commas. The project's speakers are filled in.")
        form.addRow("Speakers", self.speakers)
        layout.addLayout(form)
        self.replace = QCheckBox("Replace the whole script (otherwise the draft goes in after the cursor's line)")
        self.replace.setVisible(not script_empty)
        layout.addWidget(self.replace)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        policy = self.busy.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.busy.setSizePolicy(policy)
        self.busy.setVisible(False)
        layout.addWidget(self.busy)
        self.status = QLabel("")
        self.status.setObjectName("draftStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("draftPreview")
        self.preview.setReadOnly(True)
        self.preview.setPlaceholderText("The draft appears here.")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.preview.setFont(mono)
        layout.addWidget(self.preview, 1)
        self.notes = QLabel("")
        self.notes.setObjectName("draftNotes")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.PlainText)
        self.notes.setVisible(False)
        layout.addWidget(self.notes)
        buttons = QHBoxLayout()
        self.draft_button = QPushButton("Draft")
        self.draft_button.setDefault(True)
        self.draft_button.clicked.connect(self._ask)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_requested)
        self.insert_button = QPushButton("Insert into script")
        self.insert_button.setEnabled(False)
        self.insert_button.clicked.connect(self._insert)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons.addWidget(self.draft_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.insert_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.resize(640, 560)

    def _ask(self) -> None:
        names = [n.strip() for n in self.speakers.text().split(",") if n.strip()]
        self.draft_requested.emit(self.prompt.toPlainText(), self.lines.value(), names)

    def _insert(self) -> None:
        if self._draft_text:
            self.insert_requested.emit(self._draft_text, self.replace.isVisible() and self.replace.isChecked())

    # ----- what the controller shows -------------------------------------------------------------
    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.stop_button.setEnabled(busy)
        self.draft_button.setEnabled(not busy)
        self.insert_button.setEnabled(not busy and bool(self._draft_text))
        self.status.setText(text)

    def show_draft(self, text: str, lines: int, speakers: list[str], notes: list[str]) -> None:
        self._draft_text = text
        self.preview.setPlainText(text)
        self.notes.setText("\n".join(f"• {n}" for n in notes))
        self.notes.setVisible(bool(notes))
        self.draft_button.setText("Draft again")
        self.set_busy(False, f"{count_of(lines, 'line')} for {', '.join(speakers)}. Insert them, or change the description "
                             "and draft again.")
        self.insert_button.setFocus()
