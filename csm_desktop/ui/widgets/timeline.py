"""The dialogue on a timeline, under the script (the lanes are drawn by
:class:`~csm_desktop.ui.widgets.timeline_canvas.TimelineCanvas`); above it Play/Pause, Stop, the
time (position / total) and the zoom (out, in, fit all), under it a scroll bar for when zoomed in.
Click anywhere to play from there; double-click a clip to go to its line in the script."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.dialogue.export import Timeline
from csm_desktop.ui.icons import icon
from csm_desktop.ui.widgets.timeline_canvas import ZOOM_STEP, TimelineCanvas, clock

__all__ = ["TimelineCanvas", "TimelineView", "clock"]


def _tool_button(name: str, icon_name: str, tip: str, text: str = "") -> QToolButton:
    button = QToolButton()
    button.setObjectName(name)
    button.setIcon(icon(icon_name))
    button.setToolTip(tip)
    if text:
        button.setText(text)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


class TimelineView(QWidget):
    """The timeline with its transport: Play/Pause, Stop, position / total, what is missing, zoom."""

    play_pause_requested = Signal()
    stop_requested = Signal()
    can_stop_changed = Signal(bool)  # Stop's state, for the window's Playback › Stop playback

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.play_button = _tool_button("timelinePlay", "play", "", "Play")
        self.play_button.clicked.connect(self.play_pause_requested.emit)
        self.stop_button = _tool_button("timelineStop", "stop-playback", "", "Stop")
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
        self.canvas = TimelineCanvas()
        self.zoom_out_button = _tool_button("timelineZoomOut", "zoom-out", "Zoom out (Ctrl+wheel, or - on the timeline)")
        self.zoom_out_button.clicked.connect(lambda: self.canvas.zoom_by(1 / ZOOM_STEP))
        self.zoom_in_button = _tool_button("timelineZoomIn", "zoom-in", "Zoom in (Ctrl+wheel, or + on the timeline)")
        self.zoom_in_button.clicked.connect(lambda: self.canvas.zoom_by(ZOOM_STEP))
        self.fit_button = _tool_button("timelineFit", "zoom-fit", "Show the whole dialogue (0 on the timeline)", "Fit")
        self.fit_button.clicked.connect(self.canvas.fit)
        for w in (self.play_button, self.stop_button, self.readout):
            bar.addWidget(w)
        bar.addWidget(self.note, 1)
        for w in (self.zoom_out_button, self.zoom_in_button, self.fit_button):
            bar.addWidget(w)
        layout.addLayout(bar)
        layout.addWidget(self.canvas)
        self.scroll = QScrollBar(Qt.Orientation.Horizontal)  # the part of the dialogue shown, while zoomed in
        self.scroll.setObjectName("timelineScroll")
        self.scroll.valueChanged.connect(lambda ms: self.canvas.set_view(self.canvas.zoom, ms / 1000))
        layout.addWidget(self.scroll)
        self.canvas.view_changed.connect(self._show_view)
        self.seek_requested = self.canvas.seek_requested
        self.line_activated = self.canvas.line_activated
        self.position: float | None = None
        self.set_playing(False)
        self.set_can_stop(False)
        self.set_timeline(None, {})
        self._show_view()

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
        self._show_view()

    def set_playing(self, playing: bool) -> None:
        """The dialogue plays (the button offers Pause) or not (it offers Play)."""
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setIcon(icon("pause" if playing else "play"))

    def set_can_stop(self, can: bool) -> None:
        """Whether anything plays, or waits paused, for Stop to stop."""
        self.stop_button.setEnabled(can)
        self.can_stop_changed.emit(can)

    def set_position(self, seconds: float | None, line: int | None = None, follow: bool = False) -> None:
        """The playhead (None: none) and the utterance playing (highlighted); ``follow``: the
        dialogue plays, so a playhead outside the part shown brings its part into view."""
        self.position = seconds
        self.canvas.playhead = seconds
        self.canvas.playing_line = line
        if follow and seconds is not None:
            self.canvas.follow(seconds)
        self.canvas.update()
        self._show_readout()

    def _show_readout(self) -> None:
        self.readout.setText(f"{clock(self.position or 0.0)} / {clock(self.canvas.total_s)}")

    def _show_view(self) -> None:
        """The zoom buttons and the scroll bar, as the canvas's view now is."""
        c = self.canvas
        has_audio = c.total_s > 0 and c.timeline is not None and bool(c.timeline.placements)
        self.zoom_in_button.setEnabled(has_audio and c.zoom < c.max_zoom())
        self.zoom_out_button.setEnabled(has_audio and c.zoom > 1.0)
        self.fit_button.setEnabled(has_audio and c.zoom > 1.0)
        zoomed = has_audio and c.zoom > 1.0
        self.scroll.setVisible(has_audio)  # there from the first audio on: zooming does not move the layout
        self.scroll.setEnabled(zoomed)
        self.scroll.blockSignals(True)
        self.scroll.setRange(0, round((c.total_s - c.visible_s()) * 1000) if zoomed else 0)
        self.scroll.setPageStep(max(1, int(c.visible_s() * 1000)))
        self.scroll.setSingleStep(max(1, int(c.visible_s() * 1000 / 8)))
        self.scroll.setValue(round(c.view_start * 1000))
        self.scroll.blockSignals(False)
