"""The script editor's gutter (issue 13, defect 3): it never covers the text, and on wrapped
lines each number and state mark sits beside its own line."""

from __future__ import annotations

from PySide6.QtGui import QColor

from csm_desktop.dialogue.project import Project
from csm_desktop.ui.widgets.editor import STATE_COLORS, ScriptEditor

TWELVE = "".join(f"{'Alice' if n % 2 else 'Bob'}: Line number {n}.\n" for n in range(1, 13))


def _text_left(editor: ScriptEditor) -> int:
    """Where the text starts, in the editor's coordinates."""
    return editor.viewport().geometry().left()


def test_the_gutter_never_covers_the_text_of_a_project_opened_from_disk(make_window, qtbot, tmp_path):
    Project.new(TWELVE).save(tmp_path / "Twelve.csmproj")
    w = make_window()
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(tmp_path / "Twelve.csmproj")  # the text is set with the editor's signals blocked
    editor = w.editor
    assert editor.blockCount() >= 12
    w.resize(w.width() - 40, w.height() - 20)
    qtbot.waitUntil(lambda: editor._gutter.width() == editor.gutter_width())
    gutter = editor._gutter.geometry()
    assert gutter.right() < _text_left(editor)  # two digits' room, and the text starts after it


def _shown_editor(qtbot, width: int) -> ScriptEditor:
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.resize(width, 300)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


def test_setting_text_programmatically_widens_the_gutter_with_the_numbers(qtbot):
    editor = _shown_editor(qtbot, 500)
    one_digit = editor.gutter_width()
    editor.blockSignals(True)
    editor.setPlainText(TWELVE)
    editor.blockSignals(False)
    assert editor.gutter_width() > one_digit
    assert editor.viewportMargins().left() == editor.gutter_width() == editor._gutter.width()


def _mark_rows(editor: ScriptEditor, color: str) -> list[int]:
    """The gutter's pixel rows painted in ``color`` (the state marks)."""
    image = editor._gutter.grab().toImage()
    x = editor._gutter.width() - 6
    want = QColor(color).rgb()
    return [y for y in range(image.height()) if image.pixelColor(x, y).rgb() == want]


def test_on_wrapped_lines_each_state_mark_sits_beside_its_line(qtbot):
    editor = _shown_editor(qtbot, 320)
    long_words = " ".join(["wrapping"] * 20)
    editor.setPlainText(f"Alice: {long_words}\nBob: Short.\nAlice: {long_words}\nBob: Last.\n")
    first, second, third = (editor.document().findBlockByNumber(i) for i in range(3))
    assert first.layout().lineCount() > 1  # the first line wraps
    editor.set_states(["done", "stale", "failed", "none"])
    offset = editor.contentOffset()
    for block, state in ((first, "done"), (second, "stale"), (third, "failed")):
        box = editor.blockBoundingGeometry(block).translated(offset)
        rows = _mark_rows(editor, STATE_COLORS[state])
        assert rows, state
        # the mark stands beside its own line, all its rows, and no further
        assert box.top() <= min(rows) <= box.top() + 4, (state, box, min(rows))
        assert box.bottom() - 6 <= max(rows) <= box.bottom(), (state, box, max(rows))
