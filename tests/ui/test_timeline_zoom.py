"""Zooming the timeline (issue 13): the zoom buttons, Ctrl+wheel about the mouse, the wheel and the
scroll bar to move along, keys on the focused timeline, a click still plays from the moment
under it, and while the dialogue plays the playhead stays in view. Stop is there only when
something plays."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from csm_desktop.ui.widgets.timeline_canvas import CLOSEST_S, LABEL_W, ZOOM_STEP

SCRIPT = "\n".join(f"{'Alice' if i % 2 else 'Bob'}: This is line number {i} of a longer scene, spoken slowly."
                   for i in range(1, 13)) + "\n"


@pytest.fixture
def shown(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Zoom")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.timeline_ctl.refresh()
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    return w


def _wheel(widget, x: float, notches: int, ctrl: bool) -> None:
    pos = QPointF(x, widget.height() / 2)
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        mods, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_zoom_buttons_zoom_in_out_and_fit(shown):
    view = shown.timeline
    canvas = view.canvas
    first = shown.timeline_ctl.timeline.placements[0]
    assert canvas.total_s > 20 and canvas.zoom == 1.0
    assert not view.zoom_out_button.isEnabled() and not view.fit_button.isEnabled()  # all is in view
    assert view.zoom_in_button.isEnabled()
    width = canvas.clip_rect(first).width()
    view.zoom_in_button.click()
    view.zoom_in_button.click()
    assert canvas.zoom == pytest.approx(ZOOM_STEP ** 2)
    assert canvas.clip_rect(first).width() == pytest.approx(width * ZOOM_STEP ** 2, rel=0.02)
    assert canvas.visible_s() == pytest.approx(canvas.total_s / ZOOM_STEP ** 2)
    assert view.zoom_out_button.isEnabled() and view.fit_button.isEnabled() and view.scroll.isEnabled()
    view.zoom_out_button.click()
    assert canvas.zoom == pytest.approx(ZOOM_STEP)
    view.fit_button.click()
    assert canvas.zoom == 1.0 and canvas.view_start == 0.0 and not view.scroll.isEnabled()
    for _ in range(40):  # all the way in: a couple of seconds across, no further
        view.zoom_in_button.click()
    assert canvas.visible_s() == pytest.approx(CLOSEST_S) and not view.zoom_in_button.isEnabled()


def test_ctrl_wheel_zooms_about_the_mouse_and_the_wheel_scrolls(shown):
    canvas = shown.timeline.canvas
    x = LABEL_W + (canvas.width() - LABEL_W) * 0.7
    under = canvas.seconds_at(x)
    _wheel(canvas, x, 2, ctrl=True)
    assert canvas.zoom == pytest.approx(ZOOM_STEP ** 2)
    assert canvas.seconds_at(x) == pytest.approx(under, abs=0.05)  # the same moment under the mouse
    start = canvas.view_start
    _wheel(canvas, x, -1, ctrl=False)  # scrolling down moves on in time
    assert canvas.view_start > start
    assert shown.timeline.scroll.value() == pytest.approx(canvas.view_start * 1000, abs=1)
    shown.timeline.scroll.setValue(0)  # the scroll bar moves the view
    assert canvas.view_start == 0.0
    _wheel(canvas, x, -3, ctrl=True)
    assert canvas.zoom == 1.0


def test_keys_on_the_focused_timeline_zoom(shown, qtbot):
    canvas = shown.timeline.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.zoom == pytest.approx(ZOOM_STEP)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert canvas.view_start > 0
    qtbot.keyClick(canvas, Qt.Key.Key_0)
    assert canvas.zoom == 1.0 and canvas.view_start == 0.0


def test_a_click_plays_from_the_moment_under_it_when_zoomed(shown, qtbot):
    canvas = shown.timeline.canvas
    canvas.set_view(4.0, 10.0)
    x = LABEL_W + (canvas.width() - LABEL_W - 10) / 2
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(x), 30))
    assert shown.player.starts[-1] == pytest.approx(10.0 + canvas.visible_s() / 2, abs=0.05)
    assert canvas.view_start == 10.0  # the view did not jump: the playhead is in it


def test_the_playhead_stays_in_view_while_playing(shown):
    w = shown
    canvas = w.timeline.canvas
    canvas.set_view(6.0, 0.0)
    w.timeline_ctl.play_all()
    seen = []
    for _ in range(80):
        w.player.advance(0.25)
        if not w.player.playing:
            break
        seen.append(canvas.view_start)
        assert canvas.view_start <= canvas.playhead <= canvas.view_start + canvas.visible_s()
    assert max(seen) > 0  # it did move along with the playhead
    w.timeline_ctl.stop()
    canvas.scroll_by(-100)  # stopped: the view stays where the user puts it
    assert canvas.view_start == 0.0


def test_stop_is_offered_only_while_something_plays(shown):
    w = shown
    stop = w.timeline.stop_button
    assert not stop.isEnabled()
    w.timeline_ctl.play_all()
    assert stop.isEnabled()
    w.timeline_ctl.play_pause()  # paused: Stop takes the playhead away
    assert w.timeline_ctl.state == "paused" and stop.isEnabled()
    stop.click()
    assert not stop.isEnabled() and w.timeline.canvas.playhead is None
    w.transport.play_selected()  # a take plays: Stop stops it too
    assert w.player.playing and stop.isEnabled()
    w.player.finish()
    assert not stop.isEnabled()
