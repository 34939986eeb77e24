"""A waveform of the selected take with a moving playhead; click to seek."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from csm_desktop.audio import SAMPLE_RATE


class Waveform(QWidget):
    seek_requested = Signal(float)  # seconds

    def __init__(self, sample_rate: int = SAMPLE_RATE, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("waveform")
        self.sample_rate = sample_rate
        self.setMinimumHeight(72)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Click to play from there")
        self._audio = np.zeros(0, dtype=np.float32)
        self._peaks: np.ndarray | None = None
        self.playhead: float | None = None
        self.label = ""
        self.key: str | None = None  # the take shown, when it is one

    @property
    def duration(self) -> float:
        return self._audio.size / self.sample_rate

    def set_audio(self, audio: np.ndarray | None, label: str = "", key: str | None = None) -> None:
        self.key = None if audio is None else key
        self._audio = np.zeros(0, dtype=np.float32) if audio is None else np.asarray(audio, dtype=np.float32)
        self._peaks = None
        self.playhead = None
        self.label = label
        self.update()

    def set_playhead(self, seconds: float | None) -> None:
        self.playhead = seconds
        self.update()

    def _compute_peaks(self, columns: int) -> np.ndarray:
        """``[columns, 2]`` min and max per pixel column."""
        n = self._audio.size
        if n == 0 or columns <= 0:
            return np.zeros((0, 2), dtype=np.float32)
        edges = np.linspace(0, n, columns + 1).astype(int)
        peaks = np.zeros((columns, 2), dtype=np.float32)
        for i in range(columns):
            seg = self._audio[edges[i] : max(edges[i + 1], edges[i] + 1)]
            peaks[i] = (seg.min(), seg.max())
        return peaks

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.base())
        w, h = self.width(), self.height()
        mid = h / 2
        if self._audio.size == 0:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Select a rendered line to see its take")
            return
        if self._peaks is None or len(self._peaks) != w:
            self._peaks = self._compute_peaks(w)
        painter.setPen(QPen(QColor("#2f7ed8"), 1))
        for x, (lo, hi) in enumerate(self._peaks):
            painter.drawLine(QPointF(x, mid - hi * mid * 0.95), QPointF(x, mid - lo * mid * 0.95))
        painter.setPen(pal.text().color())
        painter.drawText(QRectF(6, 2, w - 12, 16), Qt.AlignmentFlag.AlignLeft,
                         f"{self.label}  ·  {self.duration:.2f} s")
        if self.playhead is not None and self.duration > 0:
            x = min(w - 1, self.playhead / self.duration * w)
            painter.setPen(QPen(QColor("#d9534f"), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, h))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._audio.size and self.width() > 0:
            self.seek_requested.emit(max(0.0, event.position().x() / self.width() * self.duration))
