"""The timeline's canvas: one clip per rendered line on a lane per speaker (in the speaker's
colour), pauses and gaps where they fall, the line playing highlighted, a playhead. It shows the
whole dialogue, or a part of it when zoomed in (Ctrl+wheel, or + and - with the timeline
focused; the wheel alone scrolls): the speakers' names stay at the left, and a playhead that
leaves the part shown while playing brings the next part into view, as a DAW's does."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from csm_desktop.dialogue.export import Placement, Timeline, Unrendered

LABEL_W = 84  # the lanes' speaker names
RULER_H = 16
LANE_H = 20
MAX_LANES_SHOWN = 6  # more speakers share the same height (thinner lanes)
RIGHT_PAD = 10
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800)
PLAYHEAD = "#d9534f"
STALE = "#f08c00"
ZOOM_STEP = 1.5  # one wheel notch, or one press of + or -
CLOSEST_S = 2.0  # zoomed in all the way, the timeline shows this much of the dialogue
FOLLOW_MARGIN = 0.1  # a playhead that leaves the view comes back this far (of the view) from its left


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
    view_changed = Signal()  # zoomed or scrolled

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
        self.zoom = 1.0  # 1: the whole dialogue fits
        self.view_start = 0.0  # seconds at the left edge of the lanes

    # ----- state ------------------------------------------------------------------------------------
    def set_timeline(self, timeline: Timeline | None, colors: dict[str, str], stale=frozenset()) -> None:
        self.timeline = timeline
        self.colors = dict(colors)
        self.stale = frozenset(stale)
        lines: list[Placement | Unrendered] = []
        if timeline is not None:
            lines = sorted([*timeline.placements, *timeline.unrendered], key=lambda p: p.line)
        self.lanes = list(dict.fromkeys(p.speaker for p in lines))
        self.set_view(self.zoom, self.view_start)  # the dialogue's length may have changed
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

    # ----- zoom and scroll ----------------------------------------------------------------------------
    def visible_s(self) -> float:
        """How much of the dialogue the lanes show."""
        return self.total_s / self.zoom

    def max_zoom(self) -> float:
        return max(1.0, self.total_s / CLOSEST_S)

    def set_view(self, zoom: float, start: float) -> None:
        """Show ``total / zoom`` seconds from ``start`` (both kept within what the dialogue allows)."""
        zoom = min(max(1.0, zoom), self.max_zoom())
        start = min(max(0.0, start), max(0.0, self.total_s - self.total_s / zoom))
        if (zoom, start) != (self.zoom, self.view_start):
            self.zoom, self.view_start = zoom, start
            self.update()
            self.view_changed.emit()

    def zoom_by(self, factor: float, anchor: float | None = None) -> None:
        """Zoom in (``factor`` > 1) or out, keeping the moment ``anchor`` where it is on screen
        (default: the playhead when it is in view, else the middle of the view)."""
        visible = self.visible_s()
        if anchor is None:
            shown = self.playhead is not None and self.view_start <= self.playhead <= self.view_start + visible
            anchor = self.playhead if shown else self.view_start + visible / 2
        where = (anchor - self.view_start) / visible if visible else 0.0
        zoom = min(max(1.0, self.zoom * factor), self.max_zoom())
        self.set_view(zoom, anchor - where * self.total_s / zoom)

    def fit(self) -> None:
        """The whole dialogue in view."""
        self.set_view(1.0, 0.0)

    def scroll_by(self, seconds: float) -> None:
        self.set_view(self.zoom, self.view_start + seconds)

    def follow(self, seconds: float) -> None:
        """Bring ``seconds`` (the playhead, playing) into view when it is out of it."""
        visible = self.visible_s()
        if self.zoom > 1.0 and not self.view_start <= seconds <= self.view_start + visible:
            self.set_view(self.zoom, seconds - FOLLOW_MARGIN * visible)

    # ----- geometry -----------------------------------------------------------------------------------
    def _span(self) -> float:
        return max(1.0, self.width() - LABEL_W - RIGHT_PAD)

    def _x(self, seconds: float) -> float:
        visible = self.visible_s()
        return LABEL_W + ((seconds - self.view_start) / visible * self._span() if visible else 0.0)

    def seconds_at(self, x: float) -> float:
        return min(self.total_s, max(0.0, self.view_start + (x - LABEL_W) / self._span() * self.visible_s()))

    def _lanes_area(self) -> QRectF:
        """Where clips, ticks and the playhead may be drawn (not over the speakers' names)."""
        return QRectF(LABEL_W, 0, self.width() - LABEL_W, self.height())

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
        painter.setClipRect(self._lanes_area())
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
        visible = self.visible_s() or 1.0
        step = next((s for s in TICK_STEPS if s / visible * self._span() >= 64), TICK_STEPS[-1])
        painter.setPen(pal.placeholderText().color())
        painter.drawLine(QPointF(LABEL_W, RULER_H - 1), QPointF(self._x(self.total_s), RULER_H - 1))
        n = math.floor(self.view_start / step)
        while n * step <= min(self.total_s, self.view_start + visible) + 1e-9:
            x = self._x(n * step)
            painter.drawLine(QPointF(x, RULER_H - 5), QPointF(x, RULER_H - 1))
            label = clock(n * step).removesuffix(".0") if step >= 1 else clock(n * step)
            fits = x >= LABEL_W - 0.5 and x + 2 + painter.fontMetrics().horizontalAdvance(label) <= self.width()
            if fits:  # whole, or not at all (scrolled, a label half under the names would read ".5")
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
        area = self._lanes_area()
        for p in self.timeline.placements:
            rect = self.clip_rect(p)
            if not rect.intersects(area):
                continue
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
            text_rect = rect.intersected(area).adjusted(4, 0, -3, 0)  # a clip cut at the left shows its words
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

    # ----- the mouse and the keys ----------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.total_s > 0 and event.position().x() >= LABEL_W:
            self.seek_requested.emit(self.seconds_at(event.position().x()))

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        found = self.hit(event.position())
        if found is not None and found.line is not None:
            self.line_activated.emit(found.line)

    def wheelEvent(self, event) -> None:  # noqa: N802
        """Ctrl+wheel zooms about the moment under the mouse; the wheel alone scrolls when zoomed."""
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / 120
        if not notches or self.total_s <= 0:
            return event.ignore()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            x = max(float(LABEL_W), event.position().x())
            self.zoom_by(ZOOM_STEP ** notches, self.seconds_at(x))
        elif self.zoom > 1.0:
            self.scroll_by(-notches * self.visible_s() / 8)
        else:
            return event.ignore()  # nothing to scroll: the window's own scrolling, if any
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.zoom > 1.0:
            self.scroll_by((1 if key == Qt.Key.Key_Right else -1) * self.visible_s() / 8)
        else:
            super().keyPressEvent(event)

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
