"""Trimming a voice clip: its waveform with a start and an end handle (drag them, or the
keyboard), "Trim silence", and a button that plays the part that is kept."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.clip_trim import MIN_TRIM_S, speech_bounds

HANDLE_PX = 8  # how near a press must be to grab a handle


class TrimView(QWidget):
    """A waveform with two handles; what lies outside them is greyed out."""

    changed = Signal(float, float)  # start, end (seconds)

    def __init__(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("trimView")
        self.audio = np.asarray(audio, dtype=np.float32)
        self.sample_rate = sample_rate
        self.duration = self.audio.size / sample_rate
        self.start, self.end = 0.0, self.duration
        self._dragging: str | None = None
        self._peaks: np.ndarray | None = None
        self.setMinimumSize(520, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setToolTip("Drag the handles to choose what to keep. Left/Right move the start, Shift+Left/Right the "
                        "end (by 50 ms).")

    def set_range(self, start: float, end: float) -> None:
        start = min(max(0.0, start), self.duration)
        end = min(max(start, end), self.duration)
        if (start, end) != (self.start, self.end):
            self.start, self.end = start, end
            self.changed.emit(start, end)
            self.update()

    def _x(self, seconds: float) -> float:
        return 0.0 if self.duration == 0 else seconds / self.duration * self.width()

    def _seconds(self, x: float) -> float:
        return min(max(0.0, x / max(1, self.width()) * self.duration), self.duration)

    def _peaks_for(self, columns: int) -> np.ndarray:
        if self._peaks is None or len(self._peaks) != columns:
            n = self.audio.size
            edges = np.linspace(0, n, columns + 1).astype(int)
            self._peaks = np.array([(self.audio[a:max(b, a + 1)].min(), self.audio[a:max(b, a + 1)].max())
                                    if n else (0.0, 0.0) for a, b in zip(edges[:-1], edges[1:])], dtype=np.float32)
        return self._peaks

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        pal = self.palette()
        w, h = self.width(), self.height()
        mid = h / 2
        painter.fillRect(self.rect(), pal.base())
        x0, x1 = self._x(self.start), self._x(self.end)
        for x, (lo, hi) in enumerate(self._peaks_for(w)):
            kept = x0 <= x <= x1
            painter.setPen(QPen(QColor("#2f7ed8" if kept else "#9e9e9e"), 1))
            painter.drawLine(QPointF(x, mid - hi * mid * 0.95), QPointF(x, mid - lo * mid * 0.95))
        shade = QColor(pal.window().color())
        shade.setAlpha(150)
        painter.fillRect(QRectF(0, 0, x0, h), shade)
        painter.fillRect(QRectF(x1, 0, w - x1, h), shade)
        for x in (x0, x1):
            painter.setPen(QPen(QColor("#e08e0b"), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, h))
            painter.setBrush(QColor("#e08e0b"))
            painter.drawRect(QRectF(x - 5, 0, 10, 14))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        x = event.position().x()
        near = min((abs(x - self._x(self.start)), "start"), (abs(x - self._x(self.end)), "end"))
        self._dragging = near[1] if near[0] <= HANDLE_PX * 3 else ("start" if x < self._x(self.start) else "end")
        self._drag_to(x)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        x = event.position().x()
        if self._dragging:
            self._drag_to(x)
        else:
            grab = min(abs(x - self._x(self.start)), abs(x - self._x(self.end))) <= HANDLE_PX
            self.setCursor(Qt.CursorShape.SizeHorCursor if grab else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._dragging = None

    def _drag_to(self, x: float) -> None:
        t = self._seconds(x)
        if self._dragging == "start":
            self.set_range(min(t, self.end - MIN_TRIM_S), self.end)
        elif self._dragging == "end":
            self.set_range(self.start, max(t, self.start + MIN_TRIM_S))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        step = {Qt.Key.Key_Left: -0.05, Qt.Key.Key_Right: 0.05}.get(event.key())
        if step is None:
            return super().keyPressEvent(event)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.set_range(self.start, max(self.end + step, self.start + MIN_TRIM_S))
        else:
            self.set_range(min(self.start + step, self.end - MIN_TRIM_S), self.end)


class TrimDialog(QDialog):
    """Choose the part of a clip to keep; ``play`` plays audio (the app's player)."""

    def __init__(self, parent: QWidget | None, name: str, audio: np.ndarray,
                 play: Callable[[np.ndarray], None], stop: Callable[[], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Trim \u201c{name}\u201d")
        self._play, self._stop = play, stop
        layout = QVBoxLayout(self)
        intro = QLabel("Keep 6-12 s of one person speaking, without long silences or other voices. A trimmed "
                       "copy is added to the library and used by the speakers that had this clip; the original "
                       "stays in the library.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.view = TrimView(audio)
        layout.addWidget(self.view, 1)
        self.readout = QLabel()
        self.readout.setObjectName("trimReadout")
        layout.addWidget(self.readout)
        row = QHBoxLayout()
        for text, slot in (("Play selection", self.play_selection), ("Stop", stop),
                           ("Trim silence", self.trim_silence), ("Reset", self.reset)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.addButton("Save trimmed copy", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.view.changed.connect(self._show_range)
        self._show_range(self.view.start, self.view.end)
        self.resize(760, 320)

    def selection(self) -> tuple[float, float]:
        return self.view.start, self.view.end

    def _show_range(self, start: float, end: float) -> None:
        whole = self.view.duration
        self.readout.setText(f"Keep {start:.2f} s \u2013 {end:.2f} s  \u00b7  {end - start:.2f} s of {whole:.2f} s")
        self.ok.setEnabled((start, end) != (0.0, whole) and end - start >= MIN_TRIM_S)

    def play_selection(self) -> None:
        a, b = (int(round(t * self.view.sample_rate)) for t in self.selection())
        self._play(self.view.audio[a:b])

    def trim_silence(self) -> None:
        self.view.set_range(*speech_bounds(self.view.audio, self.view.sample_rate))

    def reset(self) -> None:
        self.view.set_range(0.0, self.view.duration)

    def done(self, result: int) -> None:
        self._stop()
        super().done(result)
