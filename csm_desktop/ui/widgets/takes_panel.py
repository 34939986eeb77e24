"""The takes of the selected line: play, use, regenerate."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QSizePolicy, QVBoxLayout, QWidget

from csm_desktop.dialogue.takes import TakeInfo
from csm_desktop.ui.widgets.common import button_row, header

class TakesPanel(QWidget):
    play_requested = Signal(str)
    choose_requested = Signal(str)
    regenerate_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = header("Takes")
        # The line's words must not widen the panel (and re-wrap the editor beside it).
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.title)
        self.list = QListWidget()
        self.list.setObjectName("takesList")
        self.list.itemDoubleClicked.connect(lambda item: self.play_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.list)
        button_row(layout, [("Play", self._play), ("Use this take", self._choose),
                          ("Regenerate", self.regenerate_requested.emit)])

    def show_takes(self, line_label: str, takes: list[TakeInfo], chosen: str | None) -> None:
        self.title.setText(f"Takes · {line_label}" if line_label else "Takes")
        self.title.setToolTip(self.title.text())  # the panel keeps its width: a long line is cut, whole here
        self.list.clear()
        for n, t in enumerate(takes, start=1):
            mark = "✔ " if t.key == chosen else "   "
            item = QListWidgetItem(f"{mark}Take {n}  ·  {t.duration:.2f} s  ·  seed {t.seed % 100000}")
            item.setData(Qt.ItemDataRole.UserRole, t.key)
            if t.key == chosen:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)

    def _key(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _play(self) -> None:
        if key := self._key():
            self.play_requested.emit(key)

    def _choose(self) -> None:
        if key := self._key():
            self.choose_requested.emit(key)
