"""Listening: a take, a voice clip, the whole dialogue from a line; the waveform's playhead and
seeking."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from csm_desktop.dialogue.export import build_timeline
from csm_desktop.errors import CsmError
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.errors import show_exception
from csm_desktop.ui.widgets.playback import PlaybackError, Player
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.waveform import Waveform


class TransportController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, player: Player, waveform: Waveform,
                 window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.player = player
        self.waveform = waveform
        self.window = window  # the parent of its messages
        self.playing_key: str | None = None  # the take playing, when it is one
        waveform.seek_requested.connect(self.seek)
        if hasattr(player, "position_changed"):
            player.position_changed.connect(self._on_playhead)

    def _on_playhead(self, seconds: float) -> None:
        if self.playing_key is not None and self.playing_key == self.waveform.key:
            self.waveform.set_playhead(seconds)

    def seek(self, seconds: float) -> None:
        if self.waveform.key:
            self.play_take(self.waveform.key, seconds)

    def _play(self, audio: np.ndarray, start_s: float = 0.0, key: str | None = None) -> None:
        self.playing_key = key
        try:
            self.player.play(audio, start_s)
        except PlaybackError as exc:
            self.playing_key = None
            show_exception(self.window, exc)

    def play_take(self, key: str, start_s: float = 0.0) -> None:
        store = self.session.store()
        if store and store.has(key):
            self._play(store.load(key).numpy(), start_s, key)

    def play_clip(self, clip_id: str) -> None:
        try:
            self._play(self.session.library.get(clip_id).load().numpy())
        except CsmError as exc:
            show_exception(self.window, exc)

    def play_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None and (key := self.session.project.line(n).chosen_take):
            self.play_take(key)

    def play_pause(self) -> None:
        """Space: pause what plays, or play the dialogue from the selected line."""
        if self.player.playing:
            self.player.stop()
            return
        self.play_all(from_line=self.editor.current_utterance() or 0)

    def play_all(self, from_line: int = 0) -> None:
        store = self.session.store()
        if store is None:
            return
        try:
            timeline = build_timeline(self.session.project, store)
        except CsmError as exc:
            show_exception(self.window, exc)
            return
        mix = np.zeros(timeline.total, dtype=np.float32)
        for p in timeline.placements:
            mix[p.start : p.start + p.length] = store.load(p.key).numpy()[: p.length]
        start = timeline.placements[from_line].start if 0 <= from_line < len(timeline.placements) else 0
        self._play(mix, start / timeline.sample_rate)

    def play_live(self, audio: np.ndarray) -> bool:
        """Streamed audio of a render: appended to what plays. Returns False when the audio
        device failed (said to the user)."""
        try:
            if self.player.playing:
                self.player.append(audio)
            else:
                self.playing_key = None
                self.player.play(audio)
        except PlaybackError as exc:
            show_exception(self.window, exc)
            return False
        return True
