"""Main-window behaviour for listening: takes, the whole dialogue, the waveform."""

from __future__ import annotations

import numpy as np

from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_exception
from csm_desktop.ui.playback import PlaybackError


class TransportMixin:
    """Part of :class:`~csm_desktop.ui.main_window.MainWindow`."""

    # ----- playback -----------------------------------------------------------------------------------
    def show_waveform(self, key: str | None, label: str = "") -> None:
        store = self._store()
        if not key or store is None or not store.has(key):
            self._waveform_key = None
            self.waveform.set_audio(None)
            return
        if key != self._waveform_key:
            self._waveform_key = key
            self.waveform.set_audio(store.load(key).numpy(), label)

    def _on_playhead(self, seconds: float) -> None:
        if self._playing_key is not None and self._playing_key == self._waveform_key:
            self.waveform.set_playhead(seconds)

    def seek(self, seconds: float) -> None:
        if self._waveform_key:
            self._play_take(self._waveform_key, seconds)

    def _play(self, audio: np.ndarray, start_s: float = 0.0, key: str | None = None) -> None:
        self._playing_key = key
        try:
            self.player.play(audio, start_s)
        except PlaybackError as exc:
            self._playing_key = None
            show_exception(self, exc)

    def _play_take(self, key: str, start_s: float = 0.0) -> None:
        store = self._store()
        if store and store.has(key):
            self._play(store.load(key).numpy(), start_s, key)

    def play_pause(self) -> None:
        """Space: pause what plays, or play the dialogue from the selected line."""
        if self.player.playing:
            self.player.stop()
            return
        n = self.editor.current_utterance() or 0
        self.play_all(from_line=n)

    def _play_clip(self, clip_id: str) -> None:
        try:
            self._play(self.library.get(clip_id).load().numpy())
        except CsmError as exc:
            show_exception(self, exc)

    def play_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None and (key := self.project.line(n).chosen_take):
            self._play_take(key)

    def play_all(self, from_line: int = 0) -> None:
        store = self._store()
        if store is None:
            return
        from csm_desktop.dialogue.export import build_timeline

        try:
            timeline = build_timeline(self.project, store)
        except CsmError as exc:
            show_exception(self, exc)
            return
        mix = np.zeros(timeline.total, dtype=np.float32)
        for p in timeline.placements:
            mix[p.start : p.start + p.length] = store.load(p.key).numpy()[: p.length]
        start = timeline.placements[from_line].start if 0 <= from_line < len(timeline.placements) else 0
        self._play(mix, start / timeline.sample_rate)
