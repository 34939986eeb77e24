"""What the side panels share: a colour swatch, a header (cut with "…" where it is long), a row of
buttons, a tree that says what to do while it is empty, the files a drag carries."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QVBoxLayout,
)


def swatch(color: str | None) -> QIcon:
    """A square of ``color``; an empty outline for None (a clip no speaker uses)."""
    pix = QPixmap(12, 12)
    if color is None:
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setPen(QColor("#9e9e9e"))
        painter.drawRect(0, 0, 11, 11)
        painter.end()
    else:
        pix.fill(QColor(color))
    return QIcon(pix)


def button_row(layout: QVBoxLayout, buttons) -> dict[str, QPushButton]:
    """A row of push buttons under a panel: ``buttons`` is ``[(text, slot), ...]`` or
    ``[(text, slot, tooltip), ...]``. Returns the buttons by their text, in order."""
    row = QHBoxLayout()
    made = {}
    for text, slot, *tip in buttons:
        button = made[text] = QPushButton(text)
        button.clicked.connect(slot)
        if tip:
            button.setToolTip(tip[0])
        row.addWidget(button)
    layout.addLayout(row)
    return made


class ElidedLabel(QLabel):
    """One line of text that never widens its panel: cut with "…" at the label's width, the whole
    text in its tooltip."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.setToolTip(text)

    def shown_text(self) -> str:
        """What fits: the text, or its start and "…"."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())


def header(text: str, elide: bool = False) -> QLabel:
    """A panel's title; ``elide``: it may be long (a line's words) and is cut to the panel's width."""
    label = ElidedLabel(text) if elide else QLabel(text)
    label.setStyleSheet("font-weight: 600; padding: 2px 0;")
    return label


class HintTree(QTreeWidget):
    """A tree that says what to do while it is empty (its ``placeholder``), like an empty folder
    in a file manager."""

    placeholder = ""

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.topLevelItemCount() == 0 and self.placeholder:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            rect = self.viewport().rect().adjusted(12, 12, -12, -12)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)


def local_files(mime: QMimeData) -> list[str]:
    """The local files a drag carries (none for text or a clip dragged inside the app)."""
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
