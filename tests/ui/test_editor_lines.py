"""The editor's text blocks and the parser's lines are numbered the same, whatever separators
arrive (set, pasted, typed with Shift+Enter, or inserted by an input method)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, Qt

from csm_desktop.dialogue.script import Utterance, parse_lines
from csm_desktop.ui.widgets.editor import ScriptEditor

SEPARATORS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def _blocks(editor):
    doc = editor.document()
    return [doc.findBlockByNumber(i).text() for i in range(doc.blockCount())]


def _assert_agree(editor):
    """Every utterance's line number points at the block that holds it; no separator is left
    inside a block."""
    blocks = _blocks(editor)
    raw = editor.document().toRawText()
    assert not any(c in raw for c in ScriptEditor._IN_BLOCK)
    items, _ = parse_lines(editor.toPlainText())
    for item in items:
        if isinstance(item, Utterance):
            assert item.text.split()[0] in blocks[item.line - 1], (item, blocks)
    assert len(editor.utterance_lines) == sum(isinstance(i, Utterance) for i in items)


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(s[-1]):04X}" for s in SEPARATORS])
def test_set_and_pasted_text_keep_one_numbering(qtbot, sep):
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.setPlainText(f"Alice: one{sep}Bob: two\nCarol: three")
    _assert_agree(editor)
    assert editor.utterance_lines[-1] == editor.document().blockCount()
    data = QMimeData()
    data.setText(f"\nDan: four{sep}Eve: five")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    editor.insertFromMimeData(data)
    _assert_agree(editor)
    assert editor.utterance_lines[-1] == editor.document().blockCount()


def test_shift_enter_makes_a_new_line_not_a_line_separator(qtbot):
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.setPlainText("Alice: one")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(editor, "Bob: two")
    assert editor.document().blockCount() == 2
    _assert_agree(editor)
    assert editor.utterance_lines == [1, 2]


def test_a_separator_inserted_by_other_means_is_replaced_where_it_lands(qtbot):
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.setPlainText("Alice: one")
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    cursor.insertText("\u2028Bob: two\x0bthree")  # as an input method could
    _assert_agree(editor)
    assert editor.toPlainText() == "Alice: one\nBob: two three"
    assert editor.utterance_lines == [1, 2]


def test_a_scene_marker_is_shown_like_a_pause(qtbot):
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.setPlainText("[pause 1s]\n[Scene The kitchen]\nAlice: hi")
    doc = editor.document()
    pause, scene = (doc.findBlockByNumber(n).layout().formats() for n in (0, 1))
    assert scene and [f.format.foreground().color() for f in scene] == [f.format.foreground().color() for f in pause]
    assert 2 not in editor.errors and editor.utterance_lines == [3]
