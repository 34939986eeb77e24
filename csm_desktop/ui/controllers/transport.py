"""Listening to a take or a voice clip, and to a render as it streams; the waveform's playhead
and seeking. (The whole dialogue plays from the timeline: controllers/timeline.py.)"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.playback import PlaybackError, Player
from csm_desktop.ui.widgets.waveform import Waveform

LIVE = "live"  # the player's source while a render streams


class TransportController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, player: Player, waveform: Waveform,
                 window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.player = player
        self.waveform = waveform
        self.window = window  # the parent of its messages
        waveform.seek_requested.connect(self.seek)
        player.position_changed.connect(self._on_playhead)
        player.playing_changed.connect(self._on_playing)

    @property
    def playing_key(self) -> str | None:
        """The take playing, when it is one."""
        source = self.player.source if self.player.playing else None
        return source[1] if isinstance(source, tuple) and source[0] == "take" else None

    def _on_playhead(self, seconds: float) -> None:
        if self.playing_key is not None and self.playing_key == self.waveform.key:
            self.waveform.set_playhead(seconds)

    def _on_playing(self, playing: bool) -> None:
        if not playing:  # stopped, or played to its end: no playhead is left standing
            self.waveform.set_playhead(None)

    def seek(self, seconds: float) -> None:
        if self.waveform.key:
            self.play_take(self.waveform.key, seconds)

    def _play(self, audio: np.ndarray, start_s: float = 0.0, source: object = None) -> None:
        try:
            self.player.play(audio, start_s, source)
        except PlaybackError as exc:
            show_exception(self.window, exc)

    def play_take(self, key: str, start_s: float = 0.0) -> None:
        store = self.session.store()
        if store and store.has(key):
            self._play(store.load(key).numpy(), start_s, ("take", key))

    def play_clip(self, clip_id: str) -> None:
        try:
            self._play(self.session.library.get(clip_id).load().numpy(), source=("clip", clip_id))
        except CsmError as exc:
            show_exception(self.window, exc)

    def play_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None and (key := self.session.project.line(n).chosen_take):
            self.play_take(key)

    def play_live(self, audio: np.ndarray) -> bool:
        """Streamed audio of a render: appended to what plays. Returns False when the audio
        device failed (said to the user)."""
        try:
            if self.player.playing and self.player.source == LIVE:
                self.player.append(audio)
            else:
                self.player.play(audio, source=LIVE)
        except PlaybackError as exc:
            show_exception(self.window, exc)
            return False
        return True
