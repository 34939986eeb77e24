"""Playback through sounddevice: an OutputStream with a callback; the playhead is the stream's
own position. With no output device, a clear message and everything else keeps working.

One player serves the whole window: whoever plays says what it plays (``source``: a take, a
clip, the dialogue), so each listener of ``position_changed`` knows whether the position is
its own."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.errors import CsmError


class PlaybackError(CsmError):
    """No sound output is available."""


class Player(QObject):
    position_changed = Signal(float)  # seconds
    playing_changed = Signal(bool)  # started (True) or ended: stopped, or played to its end (False)

    def __init__(self, sample_rate: int = SAMPLE_RATE, parent=None) -> None:
        super().__init__(parent)
        self.sample_rate = sample_rate
        self._audio = np.zeros(0, dtype=np.float32)
        self._pos = 0
        self._lock = threading.Lock()
        self._stream = None
        self.source: object = None  # what plays, as its player said (see play)
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._stream is not None

    def position(self) -> float:
        return self._pos / self.sample_rate

    def play(self, audio: np.ndarray, start_s: float = 0.0, source: object = None) -> None:
        """Play ``audio`` from ``start_s``; ``source`` names it for the listeners (e.g.
        ``("take", key)``)."""
        self.stop()
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio missing
            raise PlaybackError(f"Sound output is not available ({exc}). Install PortAudio (libportaudio2).") from None
        with self._lock:
            self._audio = np.asarray(audio, dtype=np.float32)
            self._pos = int(start_s * self.sample_rate)

        def callback(outdata, frames, _time, _status):
            with self._lock:
                chunk = self._audio[self._pos : self._pos + frames]
                self._pos += len(chunk)
            outdata[: len(chunk), 0] = chunk
            outdata[len(chunk) :, 0] = 0
            if len(chunk) < frames:
                raise sd.CallbackStop

        try:
            self._stream = sd.OutputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                           callback=callback, finished_callback=lambda: None)
            self._stream.start()
        except Exception as exc:  # sd.PortAudioError: no device
            self._stream = None
            raise PlaybackError(f"No sound output device could be opened ({exc}). Check your audio settings; "
                                "you can still render and export.") from None
        self.source = source
        self._timer.start()
        self.playing_changed.emit(True)

    def append(self, audio: np.ndarray) -> None:
        """Extend what is playing (audio arriving while a line renders)."""
        with self._lock:
            self._audio = np.concatenate([self._audio, np.asarray(audio, dtype=np.float32)])

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        self._timer.stop()
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # closing a stream whose device vanished
                pass
            self.playing_changed.emit(False)

    def _tick(self) -> None:
        self.position_changed.emit(self.position())
        if self._stream is not None and not self._stream.active:
            self.stop()
