"""A player with no sound device: it records what would be played, and its clock moves only when
told (tests), or in real time (``ClockedPlayer``: screenshots and trials of the window)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal


class SilentPlayer(QObject):
    """Stands in for the sounddevice player: records what would be played; ``advance`` and
    ``finish`` play it on, as the real player's clock would."""

    position_changed = Signal(float)
    playing_changed = Signal(bool)
    sample_rate = 24_000

    def __init__(self):
        super().__init__()
        self.played = []
        self.starts = []  # where each play started, in seconds
        self.playing = False
        self.source = None
        self._pos = 0.0

    def play(self, audio, start_s=0.0, source=None):
        self.stop()
        self.played.append(np.asarray(audio))
        self.starts.append(start_s)
        self.source = source
        self._pos = start_s
        self.playing = True
        self.playing_changed.emit(True)

    def append(self, audio):
        self.played[-1] = np.concatenate([self.played[-1], audio])

    def position(self):
        return self._pos

    def advance(self, seconds):
        """``seconds`` more of playing: the position moves (and the end stops it)."""
        end = len(self.played[-1]) / self.sample_rate
        self._pos = min(end, self._pos + seconds)
        self.position_changed.emit(self._pos)
        if self._pos >= end:
            self.stop()

    def finish(self):
        self.advance(len(self.played[-1]) / self.sample_rate)

    def stop(self):
        if self.playing:
            self.playing = False
            self.playing_changed.emit(False)


class ClockedPlayer(SilentPlayer):
    """A silent player whose position moves on in real time while it plays, as a sound card's would."""

    TICK_MS = 40

    def __init__(self):
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(lambda: self.advance(self.TICK_MS / 1000))
        self.playing_changed.connect(lambda playing: self._timer.start() if playing else self._timer.stop())
