"""The context library panel: voice clips with length, speaker and transcript; files dropped here are imported."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from csm_desktop.dialogue.voices import Clip
from csm_desktop.ui.widgets.common import button_row, header

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"}


class _ClipTree(QTreeWidget):
    files_dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.setDragEnabled(True)

    def mimeData(self, items):  # noqa: N802 - a clip dragged onto a speaker
        data = super().mimeData(items)
        if items:
            data.setData("application/x-csm-clip", items[0].data(0, Qt.ItemDataRole.UserRole).encode())
        return data

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            self.files_dropped.emit([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
            event.acceptProposedAction()
        else:
            super().dropEvent(event)


def expand_audio_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders expanded to the audio files inside them (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        else:
            out.append(p)
    return out


class LibraryPanel(QWidget):
    import_requested = Signal()
    files_dropped = Signal(list)
    play_requested = Signal(str)
    transcribe_requested = Signal(str)
    transcript_edited = Signal(str, str)
    remove_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(header("Context library"))
        self.tree = _ClipTree()
        self.tree.setObjectName("libraryTree")
        self.tree.setHeaderLabels(["Clip", "Length", "Speaker", "Transcript"])
        self.tree.setRootIsDecorated(False)
        self.tree.files_dropped.connect(self.files_dropped)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.setToolTip("Drop voice clips or folders here (WAV, FLAC, OGG, MP3).")
        layout.addWidget(self.tree)
        button_row(layout, [("Import…", self.import_requested.emit), ("Play", self._play),
                          ("Transcribe with Gemini", self._transcribe), ("Remove", self._remove)])
        self._filling = False

    def show_clips(self, clips: list[Clip]) -> None:
        self._filling = True
        self.tree.clear()
        for c in clips:
            item = QTreeWidgetItem([c.name, f"{c.duration:.1f} s", c.speaker or "", c.transcript])
            item.setData(0, Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
            if c.warnings:
                item.setForeground(1, QColor("#e08e0b"))
                item.setToolTip(1, "\n".join(c.warnings))
                item.setText(1, f"{c.duration:.1f} s ⚠")
            self.tree.addTopLevelItem(item)
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self._filling = False

    def selected_clip(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._filling and column == 3:
            self.transcript_edited.emit(item.data(0, Qt.ItemDataRole.UserRole), item.text(3))

    def _play(self) -> None:
        if clip := self.selected_clip():
            self.play_requested.emit(clip)

    def _transcribe(self) -> None:
        if clip := self.selected_clip():
            self.transcribe_requested.emit(clip)

    def _remove(self) -> None:
        if clip := self.selected_clip():
            self.remove_requested.emit(clip)
