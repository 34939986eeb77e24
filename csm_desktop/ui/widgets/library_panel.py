"""The context library panel: voice clips with their speaker's colour, length, speaker (a combo
box) and transcript. Files dropped here are imported; a clip dragged onto a speaker gives it that
voice. Names, speakers and transcripts are edited in place; the rest is in a clip's menu."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QMenu,
    QStyledItemDelegate,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.voices import Clip
from csm_desktop.ui.widgets.common import HintTree, button_row, header, local_files, swatch

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".m4b", ".aac", ".mp4"}
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.aac *.mp4);;All files (*)"
CLIP_MIME = "application/x-csm-clip"
NO_SPEAKER = "\u2014"  # what the Speaker column shows for a clip no speaker uses
NAME, LENGTH, SPEAKER, TRANSCRIPT = range(4)


class _ClipTree(HintTree):
    files_dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)

    def mimeData(self, items):  # noqa: N802 - a clip dragged onto a speaker
        data = super().mimeData(items)
        if items:
            data.setData(CLIP_MIME, items[0].data(0, Qt.ItemDataRole.UserRole).encode())
        return data

    # Files are taken; a clip dragged within the library is not (the library has no order to change).
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction() if local_files(event.mimeData()) else event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction() if local_files(event.mimeData()) else event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = local_files(event.mimeData())
        if not files:
            return event.ignore()
        self.files_dropped.emit(files)
        event.acceptProposedAction()


class _SpeakerChoice(QStyledItemDelegate):
    """The Speaker column is edited with a combo box of the project's speakers."""

    def __init__(self, panel: "LibraryPanel") -> None:
        super().__init__(panel)
        self.panel = panel

    def createEditor(self, parent, option, index):  # noqa: N802
        box = QComboBox(parent)
        box.addItems([NO_SPEAKER, *self.panel.speaker_names])
        box.activated.connect(lambda _i: self.commitData.emit(box))
        return box

    def setEditorData(self, editor, index) -> None:  # noqa: N802
        editor.setCurrentText(index.data() or NO_SPEAKER)
        editor.showPopup()

    def setModelData(self, editor, model, index) -> None:  # noqa: N802
        model.setData(index, editor.currentText())


class _ReadOnly(QStyledItemDelegate):
    def createEditor(self, parent, option, index):  # noqa: N802
        return None


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
    rename_requested = Signal(str, str)  # clip id, new name
    speaker_chosen = Signal(str, str)  # clip id, speaker name ("" for none)
    new_speaker_requested = Signal(str)  # clip id: ask for a name, then give it the clip
    trim_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(header("Context library"))
        self.tree = _ClipTree()
        self.tree.setObjectName("libraryTree")
        self.tree.setHeaderLabels(["Clip", "Length", "Speaker", "Transcript"])
        self.tree.setRootIsDecorated(False)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.setItemDelegateForColumn(LENGTH, _ReadOnly(self))
        self.tree.setItemDelegateForColumn(SPEAKER, _SpeakerChoice(self))
        self.tree.placeholder = ("Drop voice clips here\n\nWAV, FLAC, OGG, MP3 or M4A; 6-12 s of one person "
                                 "speaking works best. Or click Import\u2026")
        self.tree.files_dropped.connect(self.files_dropped)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.setToolTip("Drop voice clips or folders here. Double-click a name, speaker or transcript to "
                             "change it; right-click for more.")
        layout.addWidget(self.tree)
        self.buttons = button_row(layout, [
            ("Import\u2026", self.import_requested.emit, "Import voice clips (WAV, FLAC, OGG, MP3, M4A)"),
            ("Play", self._play, "Play the selected clip"),
            ("Trim\u2026", self._trim, "Trim the selected clip (a trimmed copy is made; the original is kept)"),
            ("Transcribe", self._transcribe, "Fill in the selected clip's transcript with Gemini"),
            ("Remove", self._remove, "Remove the selected clip from the library")])
        self.speaker_names: list[str] = []
        self._owners: dict[str, str] = {}
        self._filling = False
        self.tree.currentItemChanged.connect(lambda *_: self._enable())
        self._enable()

    def show_clips(self, clips: list[Clip], owners: dict[str, str] | None = None,
                   colors: dict[str, str] | None = None, speakers: list[str] | None = None) -> None:
        """``owners``: clip id -> the name of the open project's speaker using it (clips no
        speaker of this project uses show none, whatever other projects did with them);
        ``colors``: speaker name -> colour; ``speakers``: the project's speakers, for the combo box."""
        owners, colors = owners or {}, colors or {}
        self._owners = dict(owners)
        self.speaker_names = list(speakers or [])
        current = self.selected_clip()
        self._filling = True
        self.tree.clear()
        for c in clips:
            owner = owners.get(c.id)
            item = QTreeWidgetItem([c.name, f"{c.duration:.1f} s", owner or NO_SPEAKER, c.transcript])
            item.setData(0, Qt.ItemDataRole.UserRole, c.id)
            item.setIcon(NAME, swatch(colors.get(owner) if owner else None))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setToolTip(NAME, "Double-click to rename. Drag onto a speaker to give it this voice.")
            item.setToolTip(SPEAKER, "Double-click to choose the speaker who speaks with this voice.")
            item.setToolTip(TRANSCRIPT, c.transcript or "Double-click to type what is said in the clip (the model "
                                                       "needs it), or use Transcribe.")
            if not c.transcript:
                item.setText(TRANSCRIPT, "")
            if c.warnings:
                item.setForeground(LENGTH, QColor("#e08e0b"))
                item.setToolTip(LENGTH, "\n".join(c.warnings))
                item.setText(LENGTH, f"{c.duration:.1f} s \u26a0")
            self.tree.addTopLevelItem(item)
            if c.id == current:
                self.tree.setCurrentItem(item)
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self._filling = False
        self._enable()

    def select_clip(self, clip_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == clip_id:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
                return

    def selected_clip(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _enable(self) -> None:
        selected = self.selected_clip() is not None
        for button in list(self.buttons.values())[1:]:
            button.setEnabled(selected)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling:
            return
        clip_id = item.data(0, Qt.ItemDataRole.UserRole)
        if column == TRANSCRIPT:
            self.transcript_edited.emit(clip_id, item.text(TRANSCRIPT))
        elif column == NAME:
            self.rename_requested.emit(clip_id, item.text(NAME).strip())
        elif column == SPEAKER:
            chosen = item.text(SPEAKER)
            if chosen != (self._owners.get(clip_id) or NO_SPEAKER):
                self.speaker_chosen.emit(clip_id, "" if chosen == NO_SPEAKER else chosen)

    def _menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        menu = QMenu(self)
        if item is None:
            menu.addAction("Import voice clips\u2026", self.import_requested.emit)
            menu.exec(self.tree.viewport().mapToGlobal(pos))
            return
        clip_id = item.data(0, Qt.ItemDataRole.UserRole)
        owner = self._owners.get(clip_id)
        give = menu.addMenu("Give to speaker")
        for name in self.speaker_names:
            act = give.addAction(name, lambda n=name: self.speaker_chosen.emit(clip_id, n))
            act.setCheckable(True)
            act.setChecked(name == owner)
        give.addSeparator()
        give.addAction("New speaker\u2026", lambda: self.new_speaker_requested.emit(clip_id))
        if owner:
            menu.addAction(f"Take from {owner}", lambda: self.speaker_chosen.emit(clip_id, ""))
        menu.addSeparator()
        menu.addAction("Play", lambda: self.play_requested.emit(clip_id))
        menu.addAction("Trim\u2026", lambda: self.trim_requested.emit(clip_id))
        menu.addAction("Rename", lambda: self.tree.editItem(item, NAME))
        menu.addAction("Edit transcript", lambda: self.tree.editItem(item, TRANSCRIPT))
        menu.addAction("Transcribe with Gemini", lambda: self.transcribe_requested.emit(clip_id))
        menu.addSeparator()
        menu.addAction("Remove from library", lambda: self.remove_requested.emit(clip_id))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _play(self) -> None:
        if clip := self.selected_clip():
            self.play_requested.emit(clip)

    def _trim(self) -> None:
        if clip := self.selected_clip():
            self.trim_requested.emit(clip)

    def _transcribe(self) -> None:
        if clip := self.selected_clip():
            self.transcribe_requested.emit(clip)

    def _remove(self) -> None:
        if clip := self.selected_clip():
            self.remove_requested.emit(clip)
