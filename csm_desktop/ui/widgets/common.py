"""What the side panels share: a colour swatch, a header, a row of buttons."""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

def swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def button_row(layout: QVBoxLayout, buttons) -> None:
    """A row of push buttons under a panel: ``buttons`` is ``[(text, slot), ...]``."""
    row = QHBoxLayout()
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
    layout.addLayout(row)


def header(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; padding: 2px 0;")
    return label
