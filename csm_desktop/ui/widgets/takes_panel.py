"""The takes of the selected line: each with a small waveform, its number, length, age and star;
play it, play the chosen one (A/B), use it, star it, delete it, regenerate the line. Above the
list, the line's state: why it is out of date, or what to do when it has no take. Below its own
takes, greyed under a heading, the takes of the words the line had before: to play, not to use."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPainter, QPalette, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.ui.widgets.common import button_row, header

WAVE_SIZE = QSize(88, 30)


@dataclass(frozen=True)
class TakeRow:
    """What the list shows of one take."""

    key: str
    number: int  # 1 for the line's oldest take
    duration: float
    created: float  # seconds since the epoch
    seed: int
    peaks: np.ndarray  # [columns, 2] min and max
    chosen: bool = False
    starred: bool = False
    details: str = ""  # temperature and the like, for the tooltip
    problems: tuple[str, ...] = ()  # what the take's checks found (dialogue/checks.py's vocabulary)
    score: float | None = None  # the checks' score, None while unchecked
    checks: str = ""  # the checks in words, for the tooltip
    earlier: bool = False  # a take of the line's earlier words: to play and compare, never to use


PROBLEM_COLOR = "#c2185b"


def check_badge(row: TakeRow) -> str:
    """The take's checks on its row: its problems, or that it passed, with the score."""
    if row.score is None:
        return ""
    if row.problems:
        return f"\n⚠ {', '.join(p.replace('_', ' ') for p in row.problems)} · {row.score:.2f}"
    return f" · ✓ {row.score:.2f}"


def peaks_of(audio: np.ndarray, columns: int = WAVE_SIZE.width()) -> np.ndarray:
    """``[columns, 2]``: the lowest and highest sample of each column of ``audio``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        return np.zeros((0, 2), dtype=np.float32)
    edges = np.linspace(0, audio.size, columns + 1).astype(int)
    return np.array([(audio[a:max(b, a + 1)].min(), audio[a:max(b, a + 1)].max())
                     for a, b in zip(edges[:-1], edges[1:])], dtype=np.float32)


def when(created: float, now: float | None = None) -> str:
    """``14:05`` today, ``yesterday 14:05``, else ``27 Nov 14:05``."""
    now = time.time() if now is None else now
    then, today = time.localtime(created), time.localtime(now)
    clock = time.strftime("%H:%M", then)
    days = (time.mktime(today[:3] + (0, 0, 0) + today[6:]) - time.mktime(then[:3] + (0, 0, 0) + then[6:])) / 86400
    if round(days) == 0:
        return clock
    if round(days) == 1:
        return f"yesterday {clock}"
    return time.strftime("%d %b %H:%M", then).lstrip("0")


def _wave_pixmap(peaks: np.ndarray, color: QColor) -> QPixmap:
    pix = QPixmap(WAVE_SIZE)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setPen(QPen(color, 1))
    mid = WAVE_SIZE.height() / 2
    scale = mid * 0.95 / max(1e-6, float(np.abs(peaks).max()) if peaks.size else 1.0)
    for x, (lo, hi) in enumerate(peaks):
        painter.drawLine(QPointF(x, mid - hi * scale), QPointF(x, mid - min(lo, hi - 1 / scale) * scale))
    painter.end()
    return pix


def _wave_icon(peaks: np.ndarray, palette, greyed: bool = False) -> QIcon:
    """The take's waveform, in the selection's text colour when selected (else it would vanish)."""
    color = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text) if greyed else palette.highlight().color()
    icon = QIcon(_wave_pixmap(peaks, color))
    icon.addPixmap(_wave_pixmap(peaks, palette.highlightedText().color()), QIcon.Mode.Selected)
    return icon


def _chosen_note(row: TakeRow) -> str:
    if not row.chosen:
        return ""
    return " (the line's take before its words changed)" if row.earlier else " (chosen for this line)"


ICONS_KEPT = 256  # waveform icons kept for takes shown again (a line's takes, browsing back and forth)


class TakesPanel(QWidget):
    play_requested = Signal(str)
    choose_requested = Signal(str)
    regenerate_requested = Signal()
    star_requested = Signal(str, bool)  # key, starred
    delete_requested = Signal(str)
    pin_seed_requested = Signal(str)  # use this take's seed for the line

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = header("Takes", elide=True)  # the line's words never widen the panel (nor re-wrap the editor)
        layout.addWidget(self.title)
        self.status = QLabel()
        self.status.setObjectName("takeStatus")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.status)
        self.list = QListWidget()
        self.list.setObjectName("takesList")
        self.list.setIconSize(WAVE_SIZE)
        self.list.setSpacing(1)
        # A narrow panel wraps a row's words (the checks' problems) rather than cutting them off.
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemDoubleClicked.connect(self._play_item)
        self.list.currentItemChanged.connect(lambda *_: self._enable())
        QShortcut(QKeySequence.StandardKey.Delete, self.list, self._delete,
                  context=Qt.ShortcutContext.WidgetShortcut)
        layout.addWidget(self.list)
        self.buttons = {}
        for row in ([("▶ This take", self._play), ("▶ Chosen", self._play_chosen), ("Use this take", self._choose)],
                    [("☆ Star", self._star), ("Delete…", self._delete), ("Regenerate", self.regenerate_requested.emit)]):
            self.buttons.update(button_row(layout, row))
        self.buttons["▶ This take"].setToolTip("Play the selected take (double-click a take to play it too)")
        self.buttons["▶ Chosen"].setToolTip("Play the line's chosen take, to compare it with the one selected")
        self.buttons["Regenerate"].setToolTip("Render the line again with the next seed: a new take")
        self.buttons["Regenerate"].setEnabled(False)  # until a line is selected
        self.rows: list[TakeRow] = []
        self.chosen: str | None = None
        # Take key and palette -> its icon, least recently shown first. Qt keeps every icon
        # pixmap it paints in QPixmapCache (up to its 10 MiB limit) under the pixmap's own
        # identity: an icon made afresh at every visit to a line filled that cache with copies
        # of the same waveforms (the soak test, tests/ui/test_long_session.py).
        self._icons: dict[tuple[str, int, bool], QIcon] = {}
        self._enable()

    def _icon(self, row: TakeRow) -> QIcon:
        palette = self.palette()
        key = (row.key, palette.cacheKey(), row.earlier)
        icon = self._icons.pop(key, None)
        if icon is None:
            icon = _wave_icon(row.peaks, palette, row.earlier)
        self._icons[key] = icon
        while len(self._icons) > ICONS_KEPT:
            self._icons.pop(next(iter(self._icons)))
        return icon

    # ----- what is shown ----------------------------------------------------------------------------
    def show_takes(self, line_label: str, rows: list[TakeRow], status: str = "", earlier_label: str = "") -> None:
        """``rows``: the line's takes, then those of its earlier words (``earlier_label``)."""
        selected = self.selected_key()
        self.title.setText(f"Takes · {line_label}" if line_label else "Takes")  # cut to fit; whole in its tooltip
        self.status.setText(status)
        self.status.setVisible(bool(status))
        self.buttons["Regenerate"].setEnabled(bool(line_label))  # no line selected: nothing to regenerate
        # Out of date or failed: in the gutter's colours for those states.
        color = "#d9534f" if status.startswith("Failed") else "#b86e00" if status.startswith("Out of date") else ""
        self.status.setStyleSheet(f"color: {color};" if color else "")
        self.rows = rows
        self.chosen = next((r.key for r in rows if r.chosen), None)
        self.list.clear()
        greyed = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        first_earlier = next((r.key for r in rows if r.earlier), None)
        for r in rows:
            if r.earlier and r.key == first_earlier:
                self.list.addItem(self._earlier_heading(earlier_label, greyed))
            star = "  ★" if r.starred else ""
            mark = "✔ " if r.chosen else ""
            item = QListWidgetItem(self._icon(r),
                                   f"{mark}Take {r.number}{star}\n{r.duration:.1f} s · {when(r.created)}"
                                   f"{check_badge(r)}")
            item.setData(Qt.ItemDataRole.UserRole, r.key)
            made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created))
            item.setToolTip("\n".join(filter(None, [
                f"Take {r.number}{_chosen_note(r)}{' · starred' if r.starred else ''}",
                f"Seed {r.seed}", f"Made {made}", r.details, r.checks,
                "Of the line's earlier words: play it to compare; render the line for takes of its words now."
                if r.earlier else ""])))
            if r.earlier:
                item.setForeground(greyed)
            elif r.problems:
                item.setForeground(QColor(PROBLEM_COLOR))
            if r.chosen:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
            if r.key == selected:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.chosen is not None:
            self.select(self.chosen)
        self._enable()

    def _earlier_heading(self, words: str, color: QColor) -> QListWidgetItem:
        """The heading over the takes of the line's earlier words: a row that cannot be selected."""
        item = QListWidgetItem(f"Takes of the earlier wording\n\u201c{words}\u201d")
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setForeground(color)
        font = item.font()
        font.setItalic(True)
        item.setFont(font)
        item.setToolTip("The line's words changed since these takes were made. They are kept: they come back "
                        "if you change the words back. Render the line to make takes of its words now.")
        return item

    def select(self, key: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.list.setCurrentRow(i)

    def selected_key(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _row(self, key: str | None) -> TakeRow | None:
        return next((r for r in self.rows if r.key == key), None)

    def _enable(self) -> None:
        row = self._row(self.selected_key())
        for name in ("▶ This take", "Use this take", "☆ Star", "Delete…"):
            self.buttons[name].setEnabled(row is not None)
        self.buttons["▶ Chosen"].setEnabled(self.chosen is not None)
        self.buttons["Use this take"].setEnabled(row is not None and not row.chosen and not row.earlier)
        self.buttons["☆ Star"].setText("★ Unstar" if row is not None and row.starred else "☆ Star")

    # ----- intents --------------------------------------------------------------------------------------
    def _play(self) -> None:
        if key := self.selected_key():
            self.play_requested.emit(key)

    def _play_item(self, item: QListWidgetItem) -> None:
        if key := item.data(Qt.ItemDataRole.UserRole):  # the earlier words' heading has none
            self.play_requested.emit(key)

    def _play_chosen(self) -> None:
        if self.chosen:
            self.play_requested.emit(self.chosen)

    def _choose(self) -> None:
        if key := self.selected_key():
            self.choose_requested.emit(key)

    def _star(self) -> None:
        if row := self._row(self.selected_key()):
            self.star_requested.emit(row.key, not row.starred)

    def _delete(self) -> None:
        if key := self.selected_key():
            self.delete_requested.emit(key)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.list.setCurrentItem(item)
        row = self._row(item.data(Qt.ItemDataRole.UserRole))
        menu = QMenu(self)
        menu.addAction("Play", self._play)
        menu.addAction("Use this take", self._choose).setEnabled(row is not None and not row.chosen and not row.earlier)
        menu.addAction("Unstar" if row and row.starred else "Star", self._star)
        menu.addAction("Use its seed for this line",
                       lambda: self.pin_seed_requested.emit(row.key) if row else None)
        menu.addSeparator()
        menu.addAction("Delete…", self._delete)
        menu.popup(self.list.viewport().mapToGlobal(pos))
