"""What the side panels share: a colour swatch, a header, a row of buttons."""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

def swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def button_row(layout: QVBoxLayout, buttons) -> dict[str, QPushButton]:
    """A row of push buttons under a panel: ``buttons`` is ``[(text, slot), ...]``. Returns
    the buttons by their text."""
    row = QHBoxLayout()
    made = {}
    for text, slot in buttons:
        button = made[text] = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
    layout.addLayout(row)
    return made


def header(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; padding: 2px 0;")
    return label
