"""The speakers panel: each speaker with its colour, CSM id and voice clips; a clip dropped on a speaker gives it that clip."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from csm_desktop.ui.widgets.common import button_row, header, swatch

class SpeakersPanel(QWidget):
    add_requested = Signal()
    rename_requested = Signal(str)
    remove_requested = Signal(str)
    clip_dropped = Signal(str, str)  # speaker name, clip id

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(header("Speakers"))
        self.list = QListWidget()
        self.list.setObjectName("speakersList")
        self.list.setAcceptDrops(True)
        self.list.viewport().setAcceptDrops(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.list.dragEnterEvent = self._drag_enter
        self.list.dragMoveEvent = self._drag_enter
        self.list.dropEvent = self._drop
        layout.addWidget(self.list)
        button_row(layout, [("Add", self.add_requested.emit), ("Rename", self._rename), ("Remove", self._remove)])

    def show_speakers(self, speakers, colors: dict[str, str], clip_names: dict[str, str]) -> None:
        self.list.clear()
        for s in speakers:
            clips = ", ".join(clip_names.get(c, "missing clip") for c in s.clip_ids) or "no voice clip"
            item = QListWidgetItem(swatch(colors.get(s.name, "#888888")), f"{s.name}  ·  id {s.csm_id}\n   {clips}")
            item.setData(Qt.ItemDataRole.UserRole, s.name)
            item.setToolTip("Drag a clip from the library onto a speaker to use it as that voice.")
            self.list.addItem(item)

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _rename(self) -> None:
        if (name := self._selected()) is not None:
            self.rename_requested.emit(name)

    def _remove(self) -> None:
        if (name := self._selected()) is not None:
            self.remove_requested.emit(name)

    def _drag_enter(self, event) -> None:
        if event.mimeData().hasFormat("application/x-csm-clip"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _drop(self, event) -> None:
        item = self.list.itemAt(event.position().toPoint())
        if item is None or not event.mimeData().hasFormat("application/x-csm-clip"):
            return event.ignore()
        clip_id = bytes(event.mimeData().data("application/x-csm-clip")).decode()
        self.clip_dropped.emit(item.data(Qt.ItemDataRole.UserRole), clip_id)
        event.acceptProposedAction()
