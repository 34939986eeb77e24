"""The dialogue on a timeline, under the script: one clip per rendered line on a lane per speaker
(in the speaker's colour), pauses and gaps where they fall, the line playing highlighted, a
playhead; above it Play/Pause, Stop and the time (position / total). Click anywhere to play
from there; double-click a clip to go to its line in the script."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QToolTip, QVBoxLayout, QWidget

from csm_desktop.dialogue.export import Placement, Timeline, Unrendered
from csm_desktop.paths import resources_dir

LABEL_W = 84  # the lanes' speaker names
RULER_H = 16
LANE_H = 20
MAX_LANES_SHOWN = 6  # more speakers share the same height (thinner lanes)
RIGHT_PAD = 10
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800)
PLAYHEAD = "#d9534f"
STALE = "#f08c00"


def clock(seconds: float) -> str:
    """``m:ss.s`` (``h:mm:ss.s`` past an hour): the readout's and the tooltips' times."""
    tenths = int(round(max(0.0, seconds) * 10))
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenths // 10:02d}.{tenths % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


@dataclass
class _Hit:
    kind: str  # "clip", "unrendered", "pause", "gap"
    tip: str
    line: int | None = None  # an utterance index


class TimelineCanvas(QWidget):
    """The lanes, the clips and the playhead (the panel around it holds the controls)."""

    seek_requested = Signal(float)
    line_activated = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineCanvas")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.timeline: Timeline | None = None
        self.colors: dict[str, str] = {}
        self.stale: frozenset[int] = frozenset()  # utterance indexes changed since they were rendered
        self.lanes: list[str] = []
        self.playhead: float | None = None  # seconds
        self.playing_line: int | None = None  # an utterance index
        self.empty_text = ""

    # ----- state ------------------------------------------------------------------------------------
    def set_timeline(self, timeline: Timeline | None, colors: dict[str, str], stale=frozenset()) -> None:
        self.timeline = timeline
        self.colors = dict(colors)
        self.stale = frozenset(stale)
        lines: list[Placement | Unrendered] = []
        if timeline is not None:
            lines = sorted([*timeline.placements, *timeline.unrendered], key=lambda p: p.line)
        self.lanes = list(dict.fromkeys(p.speaker for p in lines))
        self.updateGeometry()
        self.update()

    @property
    def total_s(self) -> float:
        t = self.timeline
        return t.total / t.sample_rate if t and t.sample_rate else 0.0

    def lane_height(self) -> float:
        shown = max(1, min(len(self.lanes), MAX_LANES_SHOWN))
        return LANE_H * shown / max(1, len(self.lanes))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, RULER_H + LANE_H * max(2, min(len(self.lanes), MAX_LANES_SHOWN)) + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(LABEL_W + 60, self.sizeHint().height())

    # ----- geometry -----------------------------------------------------------------------------------
    def _x(self, seconds: float) -> float:
        span = max(1.0, self.width() - LABEL_W - RIGHT_PAD)
        return LABEL_W + (seconds / self.total_s * span if self.total_s else 0.0)

    def seconds_at(self, x: float) -> float:
        span = max(1.0, self.width() - LABEL_W - RIGHT_PAD)
        return min(self.total_s, max(0.0, (x - LABEL_W) / span * self.total_s))

    def _lane_rect(self, speaker: str) -> QRectF:
        h = self.lane_height()
        i = self.lanes.index(speaker) if speaker in self.lanes else 0
        return QRectF(0, RULER_H + i * h, self.width(), h)

    def clip_rect(self, p: Placement) -> QRectF:
        sr = self.timeline.sample_rate
        lane = self._lane_rect(p.speaker)
        x0, x1 = self._x(p.start / sr), self._x((p.start + p.length) / sr)
        return QRectF(x0, lane.top() + 2, max(2.0, x1 - x0), lane.height() - 4)

    def _unrendered_rect(self, u: Unrendered) -> QRectF:
        lane = self._lane_rect(u.speaker)
        x = self._x(u.at / self.timeline.sample_rate)
        return QRectF(x - 3, lane.top() + 2, 6, lane.height() - 4)

    def hit(self, pos: QPointF) -> _Hit | None:
        """What is under ``pos``: a clip, an unrendered line's mark, a pause or a gap."""
        t = self.timeline
        if t is None or pos.x() < LABEL_W:
            return None
        sr = t.sample_rate
        for u in t.unrendered:
            if self._unrendered_rect(u).adjusted(-2, 0, 2, 0).contains(pos):
                return _Hit("unrendered", f"Line {u.script_line} ({u.speaker}) is not rendered yet", u.line)
        for p in t.placements:
            if self.clip_rect(p).contains(pos):
                tip = (f"Line {p.script_line} · {p.speaker}: {p.text}\n"
                       f"{clock(p.start / sr)} – {clock((p.start + p.length) / sr)}  ({p.length / sr:.2f} s)")
                if p.line in self.stale:
                    tip += "\nOut of date: this is the old take, from before the changes; render again to update it"
                return _Hit("clip", tip, p.line)
        seconds = self.seconds_at(pos.x())
        for g in t.gaps:
            if g.start / sr <= seconds <= (g.start + g.length) / sr:
                what = "Pause" if g.kind == "pause" else "Gap"
                return _Hit(g.kind, f"{what} {g.length / sr:.2f} s")
        return None

    # ----- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.base())
        t = self.timeline
        if t is None or not t.placements:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        painter.setFont(font)
        self._paint_lanes(painter)
        self._paint_ruler(painter)
        self._paint_gaps(painter)
        self._paint_clips(painter)
        if self.playhead is not None and self.total_s > 0:
            x = min(self._x(self.total_s), self._x(self.playhead))
            painter.setPen(QPen(QColor(PLAYHEAD), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def _paint_lanes(self, painter: QPainter) -> None:
        pal = self.palette()
        for i, speaker in enumerate(self.lanes):
            lane = self._lane_rect(speaker)
            if i % 2:
                painter.fillRect(lane, pal.alternateBase())
            painter.setPen(QColor(self.colors.get(speaker, "#888888")))
            painter.drawText(lane.adjusted(6, 0, -(lane.width() - LABEL_W + 4), 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             painter.fontMetrics().elidedText(speaker, Qt.TextElideMode.ElideRight, LABEL_W - 10))

    def _paint_ruler(self, painter: QPainter) -> None:
        pal = self.palette()
        total = self.total_s
        span = max(1.0, self.width() - LABEL_W - RIGHT_PAD)
        step = next((s for s in TICK_STEPS if total == 0 or s / total * span >= 64), TICK_STEPS[-1])
        painter.setPen(pal.placeholderText().color())
        painter.drawLine(QPointF(LABEL_W, RULER_H - 1), QPointF(self._x(total), RULER_H - 1))
        n = 0
        while n * step <= total + 1e-9:
            x = self._x(n * step)
            painter.drawLine(QPointF(x, RULER_H - 5), QPointF(x, RULER_H - 1))
            label = clock(n * step).removesuffix(".0") if step >= 1 else clock(n * step)
            if x + 2 + painter.fontMetrics().horizontalAdvance(label) <= self.width():  # whole, or not at all
                painter.drawText(QRectF(x + 2, 0, 60, RULER_H - 3), Qt.AlignmentFlag.AlignLeft, label)
            n += 1

    def _paint_gaps(self, painter: QPainter) -> None:
        t = self.timeline
        sr = t.sample_rate
        top, bottom = RULER_H, RULER_H + self.lane_height() * len(self.lanes)
        for g in t.gaps:
            if g.kind != "pause":
                continue  # a plain gap is the empty space itself
            x0, x1 = self._x(g.start / sr), self._x((g.start + g.length) / sr)
            rect = QRectF(x0, top, max(1.0, x1 - x0), bottom - top)
            color = self.palette().placeholderText().color()
            color.setAlpha(90)
            painter.fillRect(rect, QBrush(color, Qt.BrushStyle.BDiagPattern))
            if rect.width() > 44:
                painter.setPen(self.palette().placeholderText().color())
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{g.length / sr:.1f} s")

    def _paint_clips(self, painter: QPainter) -> None:
        pal = self.palette()
        metrics = painter.fontMetrics()
        for p in self.timeline.placements:
            rect = self.clip_rect(p)
            color = QColor(self.colors.get(p.speaker, "#888888"))
            playing = p.line == self.playing_line
            fill = QColor(color)
            fill.setAlpha(230 if playing else 80)
            painter.setBrush(fill)
            if p.line in self.stale:
                painter.setPen(QPen(QColor(STALE), 1.5, Qt.PenStyle.DashLine))
            else:
                painter.setPen(QPen(color.darker(130) if playing else color, 2 if playing else 1))
            painter.drawRoundedRect(rect, 3, 3)
            text_rect = rect.adjusted(4, 0, -3, 0)
            number = str(p.script_line)
            if text_rect.width() >= metrics.horizontalAdvance(number):  # the line's number first, then its words
                room = int(text_rect.width()) - metrics.horizontalAdvance(f"{number}  ")
                words = metrics.elidedText(p.text, Qt.TextElideMode.ElideRight, room) if room > 24 else ""
                painter.setPen(QColor("#ffffff") if playing else pal.text().color())
                painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 f"{number}  {words}" if words else number)
        for u in self.timeline.unrendered:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(self.colors.get(u.speaker, "#888888")), 1.2, Qt.PenStyle.DotLine))
            painter.drawRoundedRect(self._unrendered_rect(u), 2, 2)

    # ----- the mouse -----------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.total_s > 0 and event.position().x() >= LABEL_W:
            self.seek_requested.emit(self.seconds_at(event.position().x()))

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        found = self.hit(event.position())
        if found is not None and found.line is not None:
            self.line_activated.emit(found.line)

    def event(self, e) -> bool:
        if e.type() == e.Type.ToolTip:
            found = self.hit(QPointF(e.pos()))
            if found is not None:
                QToolTip.showText(e.globalPos(), found.tip, self)
            elif self.total_s > 0 and e.pos().x() >= LABEL_W:
                QToolTip.showText(e.globalPos(), f"Click to play from {clock(self.seconds_at(e.pos().x()))}", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)


def _icon(name: str) -> QIcon:
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


class TimelineView(QWidget):
    """The timeline with its transport: Play/Pause, Stop, position / total, what is missing."""

    play_pause_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.play_button = QToolButton()
        self.play_button.setObjectName("timelinePlay")
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.play_button.clicked.connect(self.play_pause_requested.emit)
        self.stop_button = QToolButton()
        self.stop_button.setObjectName("timelineStop")
        self.stop_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.stop_button.setText("Stop")
        self.stop_button.setIcon(_icon("stop-playback"))
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.readout = QLabel()
        self.readout.setObjectName("timelineReadout")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.readout.setFont(mono)
        self.readout.setToolTip("Position / length of the dialogue")
        self.note = QLabel()
        self.note.setObjectName("timelineNote")
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the window
        self.note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for w in (self.play_button, self.stop_button, self.readout):
            bar.addWidget(w)
        bar.addWidget(self.note, 1)
        layout.addLayout(bar)
        self.canvas = TimelineCanvas()
        layout.addWidget(self.canvas)
        self.seek_requested = self.canvas.seek_requested
        self.line_activated = self.canvas.line_activated
        self.position: float | None = None
        self.set_playing(False)
        self.set_timeline(None, {})

    def set_shortcut_hints(self, play_pause: str, stop: str) -> None:
        """The keys of the window's Play/Pause and Stop playback, said on the buttons' tooltips."""
        self.play_button.setToolTip(f"Play or pause the dialogue ({play_pause})")
        self.stop_button.setToolTip(f"Stop playback ({stop})")

    def set_timeline(self, timeline: Timeline | None, colors: dict[str, str], stale=frozenset(),
                     note: str = "", empty_text: str = "Render lines to hear and see the dialogue here") -> None:
        self.canvas.empty_text = empty_text
        self.canvas.set_timeline(timeline, colors, stale)
        self.note.setText(note)
        self.note.setToolTip(note)
        self.play_button.setEnabled(bool(timeline and timeline.placements))
        self._show_readout()

    def set_playing(self, playing: bool) -> None:
        """The dialogue plays (the button offers Pause) or not (it offers Play)."""
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setIcon(_icon("pause" if playing else "play"))

    def set_position(self, seconds: float | None, line: int | None = None) -> None:
        """The playhead (None: none) and the utterance playing (highlighted)."""
        self.position = seconds
        self.canvas.playhead = seconds
        self.canvas.playing_line = line
        self.canvas.update()
        self._show_readout()

    def _show_readout(self) -> None:
        self.readout.setText(f"{clock(self.position or 0.0)} / {clock(self.canvas.total_s)}")
