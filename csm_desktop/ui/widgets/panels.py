"""Side panels: speakers, the context library, and the takes of the selected line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.takes import TakeInfo
from csm_desktop.dialogue.voices import Clip

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"}


def _swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def _buttons(layout: QVBoxLayout, buttons) -> None:
    """A row of push buttons under a panel: ``buttons`` is ``[(text, slot), ...]``."""
    row = QHBoxLayout()
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
    layout.addLayout(row)


def _header(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; padding: 2px 0;")
    return label


class SpeakersPanel(QWidget):
    add_requested = Signal()
    rename_requested = Signal(str)
    remove_requested = Signal(str)
    clip_dropped = Signal(str, str)  # speaker name, clip id

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_header("Speakers"))
        self.list = QListWidget()
        self.list.setObjectName("speakersList")
        self.list.setAcceptDrops(True)
        self.list.viewport().setAcceptDrops(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.list.dragEnterEvent = self._drag_enter
        self.list.dragMoveEvent = self._drag_enter
        self.list.dropEvent = self._drop
        layout.addWidget(self.list)
        _buttons(layout, [("Add", self.add_requested.emit), ("Rename", self._rename), ("Remove", self._remove)])

    def show_speakers(self, speakers, colors: dict[str, str], clip_names: dict[str, str]) -> None:
        self.list.clear()
        for s in speakers:
            clips = ", ".join(clip_names.get(c, "missing clip") for c in s.clip_ids) or "no voice clip"
            item = QListWidgetItem(_swatch(colors.get(s.name, "#888888")), f"{s.name}  ·  id {s.csm_id}\n   {clips}")
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
        layout.addWidget(_header("Context library"))
        self.tree = _ClipTree()
        self.tree.setObjectName("libraryTree")
        self.tree.setHeaderLabels(["Clip", "Length", "Speaker", "Transcript"])
        self.tree.setRootIsDecorated(False)
        self.tree.files_dropped.connect(self.files_dropped)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.setToolTip("Drop voice clips or folders here (WAV, FLAC, OGG, MP3).")
        layout.addWidget(self.tree)
        _buttons(layout, [("Import…", self.import_requested.emit), ("Play", self._play),
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


class TakesPanel(QWidget):
    play_requested = Signal(str)
    choose_requested = Signal(str)
    regenerate_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = _header("Takes")
        # The line's words must not widen the panel (and re-wrap the editor beside it).
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.title)
        self.list = QListWidget()
        self.list.setObjectName("takesList")
        self.list.itemDoubleClicked.connect(lambda item: self.play_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.list)
        _buttons(layout, [("Play", self._play), ("Use this take", self._choose),
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
