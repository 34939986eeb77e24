"""What a new user's trial found after issue 13: counts in messages, where Import opens, the Stop
playback item, a changed line's earlier takes, a pause after a long gap, the compile speed-up where
it is refused."""

from __future__ import annotations


def test_a_render_of_one_line_says_line_not_lines(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Counts")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.statusBar().currentMessage() == "Rendered 2 lines; 0 unchanged."
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi, you.\n")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.statusBar().currentMessage() == "Rendered 1 line; 1 unchanged."
