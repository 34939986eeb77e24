"""The speakers panel: each speaker with its colour, CSM id and voice clips (listed under it), a
mark on a speaker with no voice, and "did you mean…?" for a tag that is probably a typo. A clip
(from the library) or an audio file dropped on a speaker gives it that voice; a speaker's menu
does the same without dragging."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QTreeWidgetItem, QVBoxLayout, QWidget

from csm_desktop.ui.widgets.common import HintTree, button_row, header, local_files, swatch
from csm_desktop.wording import count_of

CLIP_MIME = "application/x-csm-clip"
WARN = "#e08e0b"
NO_VOICE_TIP = ("No voice clip: CSM makes up a random voice for these lines, a different one on each render. "
                "Drop a clip from the library (or an audio file) here, or right-click › Give a voice clip.")


@dataclass(frozen=True)
class ClipView:
    """What the panels show of a library clip."""

    id: str
    name: str
    duration: float
    transcript: str = ""


@dataclass(frozen=True)
class SpeakerView:
    name: str
    csm_id: int
    color: str
    clips: list[ClipView] = field(default_factory=list)
    missing: int = 0  # clip ids the library does not hold
    suggestion: str | None = None  # a voiced speaker this tag is probably a typo of
    lines: tuple[int, ...] = ()  # the editor's numbers of the lines it speaks


class _SpeakerTree(HintTree):
    dropped = Signal(object, object)  # QTreeWidgetItem | None, QMimeData

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)

    @staticmethod
    def _wanted(event) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(CLIP_MIME) or bool(local_files(mime))

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction() if self._wanted(event) else event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if not self._wanted(event):
            return event.ignore()
        item = self.itemAt(event.position().toPoint())
        if item is not None:
            self.setCurrentItem(item.parent() or item)  # the speaker the drop goes to
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        if not self._wanted(event):
            return event.ignore()
        self.dropped.emit(self.itemAt(event.position().toPoint()), event.mimeData())
        event.acceptProposedAction()


class SpeakersPanel(QWidget):
    add_requested = Signal()
    rename_requested = Signal(str)
    remove_requested = Signal(str)
    clip_dropped = Signal(str, str)  # speaker name, clip id: give the speaker this clip
    files_dropped = Signal(str, list)  # speaker name ("" for none), paths: import, and give them to it
    import_for_requested = Signal(str)  # speaker name: choose files to import for it
    unassign_requested = Signal(str, str)  # speaker name, clip id
    play_requested = Signal(str)  # clip id
    retag_requested = Signal(str, str)  # tag, the speaker it should be

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(header("Speakers"))
        self.hint = QWidget()
        self.hint.setObjectName("tagHint")
        row = QHBoxLayout(self.hint)
        row.setContentsMargins(6, 4, 6, 4)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_fix = QPushButton()
        self.hint_keep = QPushButton("Keep")
        self.hint_keep.setToolTip("Keep the tag as it is: a new speaker")
        row.addWidget(self.hint_label, 1)
        row.addWidget(self.hint_fix)
        row.addWidget(self.hint_keep)
        self.hint.setStyleSheet("#tagHint{background:#fff3cd;border-radius:4px;} #tagHint QLabel{color:#664d03;}")
        self.hint.setVisible(False)
        self.hint_fix.clicked.connect(self._fix_hint)
        self.hint_keep.clicked.connect(self._keep_hint)
        layout.addWidget(self.hint)
        self.tree = _SpeakerTree()
        self.tree.setObjectName("speakersList")
        self.tree.setHeaderHidden(True)
        self.tree.setIndentation(14)
        self.tree.placeholder = ("No speakers yet.\n\nType a line such as \u201cAlice: Hello.\u201d in the script, "
                                 "or click Add.")
        self.tree.dropped.connect(self._drop)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        layout.addWidget(self.tree)
        self.buttons = button_row(layout, [("Add", self.add_requested.emit, "Add a speaker"),
                                           ("Rename", self._rename, "Rename the selected speaker and its lines"),
                                           ("Remove", self._remove, "Remove the selected speaker")])
        self.tree.currentItemChanged.connect(lambda *_: self._enable())
        self._enable()
        self.speakers: list[SpeakerView] = []
        self.library: list[ClipView] = []
        self._kept: set[str] = set()  # tags the user chose to keep as they are
        self._hint_fix: tuple[str, str] | None = None

    # ----- showing ------------------------------------------------------------------------------------
    def show_speakers(self, speakers: list[SpeakerView], library: list[ClipView]) -> None:
        """``library``: every clip, for the "Give a voice clip" menu."""
        current = self.selected_speaker()
        self.speakers, self.library = list(speakers), list(library)
        self.tree.clear()
        for s in speakers:
            item = QTreeWidgetItem([self._title(s)])
            item.setIcon(0, swatch(s.color))
            item.setData(0, Qt.ItemDataRole.UserRole, s.name)
            font = item.font(0)
            font.setWeight(QFont.Weight.DemiBold)
            item.setFont(0, font)
            if not s.clips:
                item.setForeground(0, QBrush(QColor(WARN)))
                item.setToolTip(0, NO_VOICE_TIP)
            else:
                item.setToolTip(0, f"CSM speaker id {s.csm_id}. Drop more clips here to add them to this voice.")
            for c in s.clips:
                child = QTreeWidgetItem([f"{c.name}  \u00b7  {c.duration:.1f} s"])
                child.setData(0, Qt.ItemDataRole.UserRole + 1, c.id)
                child.setToolTip(0, c.transcript)
                if not c.transcript.strip():
                    child.setText(0, f"{child.text(0)}  \u00b7  no transcript")
                    child.setForeground(0, QBrush(QColor(WARN)))
                    child.setToolTip(0, "No transcript: type what is said in the clip in the library (double-click "
                                        "its Transcript cell). CSM follows a voice much better when it knows the words.")
                item.addChild(child)
            if s.missing:
                child = QTreeWidgetItem([f"{count_of(s.missing, 'clip')} missing from the library"])
                child.setForeground(0, QBrush(QColor(WARN)))
                child.setToolTip(0, "Import the recording again and give it to this speaker.")
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
            if s.name == current:
                self.tree.setCurrentItem(item)
        self._show_hint()

    @staticmethod
    def _title(s: SpeakerView) -> str:
        title = f"{s.name}   id {s.csm_id}"
        if s.suggestion:
            return f"{title}   \u26a0 did you mean {s.suggestion}?"
        if not s.clips:
            return f"{title}   \u26a0 no voice clip"
        return title

    def _show_hint(self) -> None:
        fixes = [s for s in self.speakers if s.suggestion and s.name not in self._kept]
        if not fixes:
            self._hint_fix = None
            self.hint.setVisible(False)
            return
        s = fixes[0]
        self._hint_fix = (s.name, s.suggestion)
        where = f"line {s.lines[0]}" if len(s.lines) == 1 else f"lines {', '.join(map(str, s.lines[:5]))}"
        self.hint_label.setText(f"\u201c{s.name}\u201d ({where}) has no voice clip. Did you mean {s.suggestion}?")
        self.hint_fix.setText(f"Change to {s.suggestion}")
        self.hint.setVisible(True)

    def _fix_hint(self) -> None:
        if self._hint_fix is not None:
            self.retag_requested.emit(*self._hint_fix)

    def _keep_hint(self) -> None:
        if self._hint_fix is not None:
            self._kept.add(self._hint_fix[0])
            self._show_hint()

    # ----- selection and intents ----------------------------------------------------------------------
    def _enable(self) -> None:
        """Rename and Remove act on the selected speaker: with none, there is nothing to act on."""
        selected = self.selected_speaker() is not None
        for name in ("Rename", "Remove"):
            self.buttons[name].setEnabled(selected)

    def _speaker_of(self, item: QTreeWidgetItem | None) -> str | None:
        if item is None:
            return None
        return (item.parent() or item).data(0, Qt.ItemDataRole.UserRole)

    def selected_speaker(self) -> str | None:
        return self._speaker_of(self.tree.currentItem())

    def _rename(self) -> None:
        if (name := self.selected_speaker()) is not None:
            self.rename_requested.emit(name)

    def _remove(self) -> None:
        if (name := self.selected_speaker()) is not None:
            self.remove_requested.emit(name)

    def _drop(self, item, mime) -> None:
        speaker = self._speaker_of(item)
        if mime.hasFormat(CLIP_MIME):
            if speaker is not None:
                self.clip_dropped.emit(speaker, bytes(mime.data(CLIP_MIME)).decode())
            return
        self.files_dropped.emit(speaker or "", local_files(mime))

    def _menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        speaker = self._speaker_of(item)
        menu = QMenu(self)
        if speaker is None:
            menu.addAction("Add speaker…", self.add_requested.emit)
            menu.exec(self.tree.viewport().mapToGlobal(pos))
            return
        view = next(s for s in self.speakers if s.name == speaker)
        if view.suggestion:
            menu.addAction(f"Change \u201c{speaker}\u201d to {view.suggestion}",
                           lambda: self.retag_requested.emit(speaker, view.suggestion))
            menu.addSeparator()
        give = menu.addMenu("Give a voice clip")
        own = {c.id for c in view.clips}
        for clip in self.library:
            if clip.id not in own:
                give.addAction(f"{clip.name}  ({clip.duration:.1f} s)",
                               lambda c=clip.id: self.clip_dropped.emit(speaker, c))
        if give.isEmpty():
            give.addAction("(no other clips in the library)").setEnabled(False)
        menu.addAction("Import a voice clip for it…", lambda: self.import_for_requested.emit(speaker))
        clip_id = item.data(0, Qt.ItemDataRole.UserRole + 1) if item.parent() is not None else None
        if clip_id:
            menu.addSeparator()
            menu.addAction("Play this clip", lambda: self.play_requested.emit(clip_id))
            menu.addAction(f"Take this clip from {speaker}", lambda: self.unassign_requested.emit(speaker, clip_id))
        menu.addSeparator()
        menu.addAction("Rename…", lambda: self.rename_requested.emit(speaker))
        menu.addAction("Remove", lambda: self.remove_requested.emit(speaker))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
