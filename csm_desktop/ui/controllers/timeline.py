"""The dialogue on the timeline: where each rendered line sits, playing the whole dialogue
(play, pause, stop, seek), and which line plays, highlighted in the script and the timeline.

The timeline is laid out again whenever the project changes (shortly after typing pauses);
lines with no take yet are left out and counted. While the dialogue plays, an edit that moves
no audio (words of a line typed, lines inserted above) only renumbers what is highlighted; one
that moves audio (a new take chosen, a render finished) plays on from the same moment with the
new mix.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from csm_desktop.dialogue.export import Timeline, build_timeline
from csm_desktop.dialogue.project import Project
from csm_desktop.errors import CsmError
from csm_desktop.ui.errors import show_exception
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.widgets.playback import PlaybackError, Player
from csm_desktop.ui.widgets.timeline import TimelineView

DIALOGUE = "dialogue"  # the player's source while the dialogue plays
REFRESH_MS = 250  # the timeline is laid out again once typing pauses
FOLLOW_AFTER_TYPING_S = 3.0  # the script scrolls to the line playing, unless the user just typed


def _layout(timeline: Timeline | None) -> tuple:
    """What the mixdown's audio depends on (not the lines' numbers or words)."""
    if timeline is None:
        return ()
    return timeline.total, tuple((p.key, p.start, p.length) for p in timeline.placements)


class TimelineController(QObject):
    def __init__(self, session: ProjectSession, editor: ScriptEditor, player: Player, view: TimelineView,
                 window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.player = player
        self.view = view
        self.window = window  # the parent of its messages
        self.timeline: Timeline | None = None  # as shown
        self.state = "stopped"  # "playing", "paused" or "stopped" (the dialogue; other audio is not ours)
        self.position: float | None = None  # seconds into the dialogue: the playhead
        self._paused_line: int | None = None  # the utterance the script's cursor was on when paused
        self._mix: np.ndarray | None = None
        self._mix_layout: tuple = ()
        self._starting = False  # our own play() stops what plays first: that stop is no end
        self._typed_at = 0.0
        self._rendering: Project | None = None  # while a render runs: the copy it works on
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        session.edited.connect(self._on_edited)
        session.project_replaced.connect(self._on_project_replaced)
        for signal in (session.takes_changed, session.speakers_changed):
            signal.connect(self.refresh)
        view.play_pause_requested.connect(self.play_pause)
        view.stop_requested.connect(self.stop)
        view.seek_requested.connect(self.seek)
        view.line_activated.connect(self._go_to_line)
        player.position_changed.connect(self._on_position)
        player.playing_changed.connect(self._on_playing)

    # ----- the layout ---------------------------------------------------------------------------------
    def _on_edited(self) -> None:
        self._typed_at = time.monotonic()
        self._refresh_timer.start()

    def _on_project_replaced(self) -> None:
        """Another project: the one playing (or paused) is over, and no render's copy is shown."""
        self._rendering = None
        if self.state == "playing":
            self.player.stop()
        self._clear()
        self.timeline = None
        self.refresh()

    def follow_render(self, rendering: Project | None) -> None:
        """A render finished a line: lay out ``rendering`` (the copy it works on, whose chosen takes
        the session's project gets at the render's end), so lines join the timeline as they
        render. None: the render ended, the session's project again."""
        self._rendering = rendering
        self.refresh()

    def refresh(self) -> None:
        """Lay the dialogue out again from the project (or the render's copy) and its takes."""
        self._refresh_timer.stop()
        store = self.session.store()
        if store is None:
            self._show(None, empty_text="Save the project and render lines to hear and see the dialogue here")
            return
        try:
            timeline = build_timeline(self._rendering or self.session.project, store, partial=True)
        except CsmError as exc:  # a script error while typing: the last layout stays, and why
            self._show(self.timeline, note=f"Not up to date: {exc}")
            return
        except (OSError, RuntimeError) as exc:  # a take file that cannot be read (soundfile)
            self._show(self.timeline, note=f"A take could not be read ({exc}); render its line again.")
            return
        missing = len(timeline.unrendered)
        note = ""
        if missing:
            note = f"{missing} line{'s' if missing != 1 else ''} not rendered yet"
        moved = _layout(timeline) != _layout(self.timeline)
        self._show(timeline, note=note)
        if self.state == "playing" and _layout(timeline) != self._mix_layout:
            # The same moment, with the new audio. While a render runs, the audio playing stays
            # (a new mix per line of a long script is a lot of memory); its end brings the new one.
            if self._rendering is None:
                self.play_from(self.position or 0.0)
        elif moved and self.state == "paused" and self.position is not None:
            self.position = min(self.position, self._total())
            self._show_position()

    def _show(self, timeline: Timeline | None, note: str = "", empty_text: str | None = None) -> None:
        self.timeline = timeline
        colors, stale = {}, set()
        if timeline is not None:
            for p in (*timeline.placements, *timeline.unrendered):
                colors[p.speaker] = self.editor.color_for(p.speaker)
            states = self.editor.states
            stale = {p.line for p in timeline.placements if p.line < len(states) and states[p.line] == "stale"}
        kwargs = {} if empty_text is None else {"empty_text": empty_text}
        self.view.set_timeline(timeline, colors, stale, note, **kwargs)
        if self.state == "stopped" and timeline is None:
            self._clear()
        else:
            self._show_position()

    def _total(self) -> float:
        t = self.timeline
        return t.total / t.sample_rate if t is not None else 0.0

    def _mix_for(self, timeline: Timeline) -> np.ndarray:
        """The dialogue as one track (kept while its layout holds)."""
        if self._mix is None or self._mix_layout != _layout(timeline):
            store = self.session.store()
            mix = np.zeros(timeline.total, dtype=np.float32)
            for p in timeline.placements:
                mix[p.start : p.start + p.length] = store.load(p.key).numpy()[: p.length]
            self._mix, self._mix_layout = mix, _layout(timeline)
        return self._mix

    # ----- playing --------------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.state == "playing"

    def play_pause(self) -> None:
        """Pause the dialogue, or play it: on from where it was paused (unless the script's
        cursor moved since), else from the line the cursor is on, else from the start."""
        if self.state == "playing":
            self.pause()
            return
        if self.timeline is None:
            self.refresh()
        start = self._start_point()
        if start is not None:
            self.play_from(start)

    def _start_point(self) -> float | None:
        t = self.timeline
        if t is None or not t.placements:
            return None
        here = self.editor.current_utterance()
        if self.state == "paused" and self.position is not None and here == self._paused_line:
            return self.position if self.position < self._total() - 0.05 else 0.0
        return self.start_of_editor_line(self.editor.textCursor().blockNumber() + 1)

    def start_of_editor_line(self, line: int) -> float:
        """Where the first line at or below editor line ``line`` starts (rendered or not)."""
        t = self.timeline
        if t is None:
            return 0.0
        starts = sorted([(p.script_line, p.start) for p in t.placements]
                        + [(u.script_line, u.at) for u in t.unrendered])
        sample = next((start for script_line, start in starts if script_line >= line), 0)
        return sample / t.sample_rate

    def play_all(self) -> None:
        """The dialogue from its start."""
        if self.timeline is None:
            self.refresh()
        self.play_from(0.0)

    def play_from(self, seconds: float) -> None:
        t = self.timeline
        if t is None or not t.placements:
            return
        try:
            mix = self._mix_for(t)
        except CsmError as exc:
            show_exception(self.window, exc)
            return
        seconds = min(max(0.0, seconds), self._total())
        self._starting = True
        try:
            self.player.play(mix, seconds, DIALOGUE)
        except PlaybackError as exc:
            show_exception(self.window, exc)
            self._clear()
            return
        finally:
            self._starting = False
        self.state = "playing"
        self.position = seconds
        self.view.set_playing(True)
        self._show_position(follow=True)

    def seek(self, seconds: float) -> None:
        """A click on the timeline: play from there."""
        self.play_from(seconds)

    def pause(self) -> None:
        if self.state != "playing":
            return
        self.state = "paused"
        self._paused_line = self.editor.current_utterance()
        self.player.stop()
        self.view.set_playing(False)
        self._show_can_stop()  # paused: Stop takes the playhead away
        self._show_position()  # the playhead stays where it paused

    def stop(self) -> None:
        """Stop playback (of anything: a take, a clip, the dialogue); no playhead is left."""
        self.player.stop()
        self._clear()

    def _clear(self) -> None:
        self.state = "stopped"
        self.position = None
        self._paused_line = None
        self.view.set_playing(False)
        self.view.set_position(None, None)
        self.editor.set_playing_line(None)
        self._show_can_stop()

    def _show_can_stop(self) -> None:
        self.view.set_can_stop(self.player.playing or self.state == "paused")

    # ----- the player's news ----------------------------------------------------------------------------
    def _on_playing(self, playing: bool) -> None:
        self._show_can_stop()  # Stop stops any audio: a take, a clip, the dialogue
        if self._starting:
            return
        if self.state == "playing" and (not playing or self.player.source != DIALOGUE):
            self._clear()  # played to its end, stopped, or other audio took the player

    def _on_position(self, seconds: float) -> None:
        if self.state == "playing" and self.player.source == DIALOGUE:
            self.position = seconds
            self._show_position(follow=time.monotonic() - self._typed_at > FOLLOW_AFTER_TYPING_S)

    def _show_position(self, follow: bool = False) -> None:
        t = self.timeline
        if self.position is None or t is None:
            self.view.set_position(None, None)
            self.editor.set_playing_line(None)
            return
        p = t.placement_at(int(self.position * t.sample_rate))
        self.view.set_position(self.position, None if p is None else p.line, follow=self.state == "playing")
        self.editor.set_playing_line(None if p is None else p.script_line, follow=follow)

    def _go_to_line(self, utterance: int) -> None:
        self.editor.select_utterance(utterance)
        self.editor.setFocus()
