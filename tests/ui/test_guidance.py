"""Empty states: Render, Play and Export are off while they have nothing to act on, and say why."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor

from csm_desktop.ui.controllers import guidance


def _cursor_to_line(w, line: int) -> None:
    cursor = QTextCursor(w.editor.document().findBlockByNumber(line - 1))
    w.editor.setTextCursor(cursor)


def _state(action) -> tuple[bool, str]:
    return action.isEnabled(), action.toolTip()


def test_a_new_project_offers_nothing_to_render_play_or_export(make_window):
    w = make_window()
    assert _state(w.act_render_all) == (False, guidance.NO_LINES)
    assert _state(w.act_render_sel) == (False, guidance.NO_LINES)
    assert _state(w.act_play_all) == (False, guidance.NO_TAKES)
    assert _state(w.act_play_line) == (False, guidance.NO_TAKES)
    assert _state(w.act_export) == (False, guidance.NOTHING_RENDERED)
    assert w.act_render_all.statusTip() == guidance.NO_LINES


def test_typing_a_line_enables_render_and_the_cursor_decides_render_selected(make_window):
    w = make_window()
    w.editor.setPlainText("# a comment\nAlice: Hello.\n")
    assert w.act_render_all.isEnabled() and w.act_render_all.toolTip() == "Render all"
    assert w.act_render_all.statusTip() == "Render every line that needs it"  # its own tip is back
    _cursor_to_line(w, 1)
    assert _state(w.act_render_sel) == (False, guidance.NOT_A_LINE)
    _cursor_to_line(w, 2)
    assert w.act_render_sel.isEnabled()
    w.editor.setPlainText("")
    assert _state(w.act_render_all) == (False, guidance.NO_LINES)


def test_after_a_render_play_and_export_come_on_and_a_new_line_has_no_take(make_window, qtbot, tmp_path,
                                                                           plan_states):
    w = make_window()
    w.editor.setPlainText("Alice: One.\nBob: Two.\n")
    assert w.save_as(tmp_path / "Guide")
    assert w.rendering.start_render(None) is not None
    assert _state(w.act_render_all) == (False, guidance.RENDERING)
    assert _state(w.act_render_sel)[1] == guidance.RENDERING
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=20_000)
    plan_states(w)
    assert w.act_render_all.isEnabled()
    assert w.act_play_all.isEnabled() and w.act_export.isEnabled()
    _cursor_to_line(w, 1)
    assert w.act_play_line.isEnabled()
    w.editor.moveCursor(QTextCursor.MoveOperation.End)
    w.editor.insertPlainText("Carol: Three.")
    plan_states(w)
    _cursor_to_line(w, 3)
    assert _state(w.act_play_line) == (False, guidance.NO_TAKE_HERE)
    assert w.act_play_all.isEnabled()


def test_an_opened_project_with_takes_can_be_played_and_exported_at_once(make_window, qtbot, tmp_path):
    """Its line states were planned before the editor showed its text: every line showed no
    take, so Play and Export stayed off until something else replanned."""
    first = make_window()
    first.editor.setPlainText("Alice: One.\nBob: Two.\n")
    assert first.save_as(tmp_path / "Reopen")
    first.rendering.start_render(None)
    qtbot.waitUntil(lambda: first.rendering.job is None, timeout=20_000)
    w = make_window()
    w.open_project(tmp_path / "Reopen.csmproj")
    qtbot.waitUntil(lambda: w.editor.states == ["done", "done"], timeout=10_000)
    assert w.act_play_all.isEnabled() and w.act_export.isEnabled()
