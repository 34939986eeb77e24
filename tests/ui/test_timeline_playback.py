"""The timeline under the script and playing the dialogue: clips on speaker lanes, the line
playing highlighted in the script and the timeline, position / total, play / pause / stop, a
click to seek; Play/Pause from the keyboard while typing (issue 13, defect 1); no playhead left
after playback (defect 11)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

SR = 24_000
# Editor lines: 1 comment, 2 Alice, 3 Bob, 4 pause, 5 Carol, 6 Alice
SCRIPT = "# a short scene\nAlice: Hey, how are you doing?\nBob: Pretty good.\n[pause 800ms]\nCarol: Hi both!\nAlice: Great!\n"


def _render(qtbot, w, lines=None):
    assert w.rendering.start_render(lines) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.timeline_ctl.refresh()


@pytest.fixture
def rendered(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Time")
    _render(qtbot, w)
    return w


def _placement(w, script_line):
    return next(p for p in w.timeline_ctl.timeline.placements if p.script_line == script_line)


def test_a_clip_per_rendered_line_on_a_lane_per_speaker(rendered):
    w = rendered
    canvas = w.timeline.canvas
    tl = canvas.timeline
    assert [p.script_line for p in tl.placements] == [2, 3, 5, 6]  # the editor's numbers
    assert canvas.lanes == ["Alice", "Bob", "Carol"]
    assert [g.kind for g in tl.gaps] == ["gap", "pause", "gap"]  # [pause 800ms] after Bob's line
    assert canvas.colors["Bob"] == w.editor.color_for("Bob")  # the speaker's colour, as in the script
    # clips sit in their speaker's lane, in time order
    a, b, c, d = (canvas.clip_rect(p) for p in tl.placements)
    assert a.center().y() == d.center().y() < b.center().y() < c.center().y()
    assert a.right() < b.left() < c.left() < d.left()
    total = tl.total / SR
    assert w.timeline.readout.text() == f"0:00.0 / 0:0{total:.1f}"  # the length, before anything plays
    assert w.timeline.note.text() == ""


def test_unrendered_lines_are_counted_and_marked(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Partly")
    _render(qtbot, w, [0, 3])  # Alice's two lines
    canvas = w.timeline.canvas
    assert [p.script_line for p in canvas.timeline.placements] == [2, 6]
    assert [u.script_line for u in canvas.timeline.unrendered] == [3, 5]
    assert w.timeline.note.text() == "2 lines not rendered yet"
    assert canvas.lanes == ["Alice", "Bob", "Carol"]  # lanes for the speakers still to come
    mark = canvas._unrendered_rect(canvas.timeline.unrendered[0])
    assert "not rendered yet" in canvas.hit(mark.center()).tip


def test_an_unsaved_project_says_what_to_do(make_window):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    w.timeline_ctl.refresh()
    assert w.timeline_ctl.timeline is None and "Save the project" in w.timeline.canvas.empty_text
    assert not w.timeline.play_button.isEnabled()


def test_playing_highlights_the_line_in_the_script_and_the_timeline(rendered):
    w = rendered
    player = w.player
    w.editor.select_utterance(1)  # Bob, editor line 3
    w.timeline_ctl.play_pause()
    bob = _placement(w, 3)
    assert player.playing and player.source == "dialogue"
    assert player.starts[-1] == pytest.approx(bob.start / SR)
    assert player.played[-1].size == w.timeline_ctl.timeline.total  # the whole dialogue, gaps and all
    assert w.timeline.play_button.text() == "Pause"
    player.advance(0.01)
    assert w.editor.playing_line == 3 and w.timeline.canvas.playing_line == bob.line
    carol = _placement(w, 5)
    player.advance(carol.start / SR - player.position() + 0.01)
    assert w.editor.playing_line == 5 and w.timeline.canvas.playing_line == carol.line
    position = player.position()
    assert w.timeline.readout.text().startswith(f"0:0{position:.1f} / ")
    assert w.timeline.canvas.playhead == pytest.approx(position)
    assert len(w.editor.extraSelections()) == 1  # the script shows it too


def test_pause_keeps_the_place_and_play_goes_on_from_it(rendered):
    w = rendered
    player = w.player
    w.editor.select_utterance(0)
    w.timeline_ctl.play_pause()
    player.advance(0.7)
    w.timeline_ctl.play_pause()  # pause
    assert not player.playing and w.timeline_ctl.state == "paused"
    assert w.timeline.canvas.playhead == pytest.approx(0.7)  # the playhead stays while paused
    assert w.timeline.play_button.text() == "Play"
    w.timeline_ctl.play_pause()  # resume
    assert player.playing and player.starts[-1] == pytest.approx(0.7)
    w.timeline_ctl.play_pause()
    w.editor.select_utterance(3)  # the cursor moved: play from that line now
    w.timeline_ctl.play_pause()
    assert player.starts[-1] == pytest.approx(_placement(w, 6).start / SR)


def test_stop_and_the_end_leave_no_playhead(rendered):
    w = rendered
    player = w.player
    w.timeline_ctl.play_all()
    player.advance(0.5)
    assert w.timeline.canvas.playhead is not None
    w.timeline_ctl.stop()
    assert not player.playing
    assert w.timeline.canvas.playhead is None and w.editor.playing_line is None
    assert w.editor.extraSelections() == [] and w.timeline.readout.text().startswith("0:00.0 / ")
    w.timeline_ctl.play_all()
    player.finish()  # played to its end
    assert w.timeline_ctl.state == "stopped" and w.timeline.canvas.playhead is None
    assert w.editor.playing_line is None and w.timeline.play_button.text() == "Play"


def test_the_waveform_playhead_is_cleared_when_a_take_ends(rendered):
    """Defect 11: the take's playhead stayed on the waveform after playback stopped."""
    w = rendered
    w.editor.select_utterance(0)
    w.transport.seek(0.1)
    w.player.advance(0.2)
    assert w.waveform.playhead == pytest.approx(0.3)
    w.player.finish()
    assert w.waveform.playhead is None
    w.transport.seek(0.1)
    w.player.advance(0.2)
    w.act_stop_audio.trigger()
    assert w.waveform.playhead is None


def test_other_audio_takes_over_from_the_dialogue(rendered):
    w = rendered
    w.timeline_ctl.play_all()
    w.player.advance(0.3)
    w.editor.select_utterance(2)
    w.transport.play_selected()  # a take plays instead
    assert w.timeline_ctl.state == "stopped" and w.timeline.canvas.playhead is None
    w.player.advance(0.1)  # the take's position is not the dialogue's
    assert w.timeline.canvas.playhead is None and w.editor.playing_line is None


def test_a_click_on_the_timeline_plays_from_there(rendered, qtbot):
    w = rendered
    w.resize(1280, 760)
    w.show()
    qtbot.waitExposed(w)
    canvas = w.timeline.canvas
    carol = canvas.clip_rect(_placement(w, 5))
    where = QPoint(int(carol.center().x()), int(carol.center().y()))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=where)
    assert w.player.playing and w.player.source == "dialogue"
    assert w.player.starts[-1] == pytest.approx(canvas.seconds_at(where.x()))
    w.player.advance(0.01)
    assert w.editor.playing_line == 5
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=where)  # double-click: go to the line
    assert w.editor.textCursor().blockNumber() + 1 == 5


def test_play_pause_works_while_typing_in_the_script(rendered, qtbot):
    """Defect 1: Space typed a space into the script (and made lines stale) instead of playing."""
    w = rendered
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    w.editor.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w and w.editor.hasFocus())  # shortcuts reach it
    w.editor.select_utterance(0)
    text = w.editor.toPlainText()
    qtbot.keyClick(w.editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert w.player.playing and w.timeline_ctl.state == "playing"
    assert w.editor.toPlainText() == text  # nothing typed
    qtbot.keyClick(w.editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert w.timeline_ctl.state == "paused"
    qtbot.keyClick(w.editor, Qt.Key.Key_Space)  # plain Space still types in the script
    assert w.editor.toPlainText() != text and w.timeline_ctl.state == "paused"
    w.timeline.canvas.setFocus()
    qtbot.keyClick(w.timeline.canvas, Qt.Key.Key_Space)  # and plays where focus is not in the text
    assert w.timeline_ctl.state == "playing"


def test_the_playback_controls_are_visible_and_work(rendered, qtbot):
    w = rendered
    w.show()
    qtbot.waitExposed(w)
    assert w.timeline.play_button.isVisible() and w.timeline.stop_button.isVisible()
    assert "Ctrl+Space" in w.timeline.play_button.toolTip()
    qtbot.mouseClick(w.timeline.play_button, Qt.MouseButton.LeftButton)
    assert w.timeline_ctl.state == "playing"
    qtbot.mouseClick(w.timeline.stop_button, Qt.MouseButton.LeftButton)
    assert w.timeline_ctl.state == "stopped" and not w.player.playing


def test_a_new_take_while_playing_plays_on_with_the_new_audio(rendered, qtbot):
    w = rendered
    w.timeline_ctl.play_all()
    w.player.advance(0.4)
    old_mix = w.player.played[-1]
    w.editor.select_utterance(0)
    w.rendering.regenerate_selected()
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    qtbot.waitUntil(lambda: w.player.played[-1] is not old_mix, timeout=5_000)
    assert w.timeline_ctl.state == "playing" and w.player.starts[-1] == pytest.approx(0.4)


def test_typing_above_renumbers_the_line_playing(rendered, qtbot):
    w = rendered
    w.editor.select_utterance(1)
    w.timeline_ctl.play_pause()
    w.player.advance(0.01)
    assert w.editor.playing_line == 3
    played = len(w.player.played)
    cursor = w.editor.textCursor()
    cursor.setPosition(0)
    cursor.insertText("# one more comment\n")  # Bob's line is editor line 4 now
    qtbot.waitUntil(lambda: any(p.script_line == 4 for p in w.timeline_ctl.timeline.placements), timeout=5_000)
    w.player.advance(0.01)
    assert w.editor.playing_line == 4
    assert len(w.player.played) == played  # the audio did not move: playing was not restarted


def test_every_place_numbers_lines_as_the_editor_does(make_window, qtbot, tmp_path):
    """Defect 10: the status bar, the waveform and the timeline say the editor's line numbers
    (comments, pauses and blank lines count), as do the stems (tests/unit/test_timeline_layout.py)."""
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Numbers")
    messages = []
    w.statusBar().messageChanged.connect(messages.append)
    _render(qtbot, w)
    assert list(dict.fromkeys(m.split(":")[0] for m in messages if m.startswith("Rendering line"))) == [
        "Rendering line 2", "Rendering line 3", "Rendering line 5", "Rendering line 6"]
    w.editor.select_utterance(2)  # Carol
    assert w.waveform.label.startswith("Line 5 ")
    canvas = w.timeline.canvas
    assert canvas.hit(canvas.clip_rect(_placement(w, 5)).center()).tip.startswith("Line 5 · Carol: Hi both!")


def test_a_line_changed_since_it_was_rendered_is_marked_on_the_timeline(rendered, qtbot, plan_states):
    w = rendered
    w.editor.setPlainText(w.editor.toPlainText().replace("Pretty good.", "Not so good, really."))
    assert plan_states(w)[1] == "stale"
    canvas = w.timeline.canvas
    # Bob's line, and the lines after it (their context changed), play old takes: marked as such
    assert canvas.stale == {1, 2, 3}
    assert "old take" in canvas.hit(canvas.clip_rect(_placement(w, 3)).center()).tip
    assert "old take" not in canvas.hit(canvas.clip_rect(_placement(w, 2)).center()).tip


def test_a_new_project_stops_the_dialogue_of_the_old_one(rendered):
    w = rendered
    w.timeline_ctl.play_all()
    w.player.advance(0.3)
    w.session.dirty = False
    w.new_project()
    assert not w.player.playing and w.timeline_ctl.state == "stopped"
    assert w.timeline_ctl.timeline is None and w.timeline.canvas.playhead is None
    assert w.timeline.readout.text() == "0:00.0 / 0:00.0"
