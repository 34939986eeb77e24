"""Draft script with Gemini, in the window, against a fake Gemini server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fakes.gemini import FakeGemini, error_reply, text_reply

KEY = "AIza-ui-draft-key"


@pytest.fixture
def gemini(monkeypatch):
    with FakeGemini(KEY) as fake:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        monkeypatch.setenv("GOOGLE_API_KEY", KEY)
        yield fake


def _lines(*pairs):
    return json.dumps({"lines": [{"speaker": s, "text": t} for s, t in pairs]})


def _box(parent) -> QMessageBox | None:
    """The error box open on ``parent`` (closed ones stay its children)."""
    return next((b for b in parent.findChildren(QMessageBox, "errorBox") if b.isVisible()), None)


def _ask(qtbot, w, prompt="Two friends at a station.", lines=3, speakers=None):
    dialog = w.drafting.open_dialog()
    dialog.prompt.setPlainText(prompt)
    dialog.lines.setValue(lines)
    if speakers is not None:
        dialog.speakers.setText(speakers)
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    return dialog


def test_a_draft_is_previewed_then_inserted_as_one_undoable_step(make_window, qtbot, gemini):
    w = make_window()
    w.editor.setPlainText("Carol: Before.\nCarol: After.\n")
    w.session.add_speaker("Dan")
    cursor = w.editor.textCursor()
    cursor.setPosition(0)
    w.editor.setTextCursor(cursor)  # on line 1: the draft goes after it
    gemini.replies.append(text_reply(_lines(("Carol", "Hi Dan!"), ("dan", "Carol! (laughs) Long time."),
                                            ("Narrator", "They hug."), ("Carol", "Too long."))))
    dialog = _ask(qtbot, w)
    assert dialog.speakers.text() == "Carol, Dan"  # the project's speakers, filled in
    assert dialog.status.text() == "Drafting with Gemini…" and not dialog.draft_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.insert_button.isEnabled(), timeout=20_000)
    assert dialog.preview.toPlainText() == "Carol: Hi Dan!\nDan: Carol! Long time.\nCarol: Too long.\n"
    assert "Narrator" in dialog.notes.text() and "Took stage directions out" in dialog.notes.text()
    body = json.dumps(gemini.requests[0]["body"])
    assert "Carol, Dan" in body and "Exactly 3 lines" in body and "Two friends at a station." in body

    qtbot.mouseClick(dialog.insert_button, Qt.MouseButton.LeftButton)
    expected = "Carol: Before.\nCarol: Hi Dan!\nDan: Carol! Long time.\nCarol: Too long.\nCarol: After.\n"
    assert w.editor.toPlainText() == expected == w.project.script_text
    assert w.drafting.dialog is None and w.editor.textCursor().blockNumber() == 1
    assert "Inserted 3 drafted lines" in w.statusBar().currentMessage()
    w.undo()  # one step takes the whole draft out
    assert w.editor.toPlainText() == "Carol: Before.\nCarol: After.\n"
    w.redo()
    assert w.editor.toPlainText() == expected


def test_a_draft_with_new_speakers_replaces_the_script_and_undo_takes_them_back(make_window, qtbot, gemini):
    w = make_window()
    w.editor.setPlainText("Old: Line.\n")
    gemini.replies.append(text_reply(_lines(("Maya", "Hello."), ("Theo", "Hi."))))
    dialog = _ask(qtbot, w, lines=2, speakers="Maya, Theo")
    qtbot.waitUntil(lambda: dialog.insert_button.isEnabled(), timeout=20_000)
    dialog.replace.setChecked(True)
    qtbot.mouseClick(dialog.insert_button, Qt.MouseButton.LeftButton)
    assert w.editor.toPlainText() == "Maya: Hello.\nTheo: Hi.\n"
    assert {"Maya", "Theo"} <= {s.name for s in w.project.speakers}
    w.undo()
    assert w.editor.toPlainText() == "Old: Line.\n"
    assert not {"Maya", "Theo"} & {s.name for s in w.project.speakers}


def test_failures_are_said_and_the_dialog_can_try_again(make_window, qtbot, gemini):
    w = make_window()
    gemini.replies.append(error_reply(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
    dialog = _ask(qtbot, w, speakers="Alice")
    qtbot.waitUntil(lambda: dialog.draft_button.isEnabled(), timeout=20_000)
    box = _box(dialog)
    assert box is not None and "quota for this key is used up" in box.text()
    assert "No draft" in dialog.status.text() and not dialog.busy.isVisible()
    assert not dialog.insert_button.isEnabled() and w.project.script_text == ""
    box.close()
    # A bad request is said at once, nothing is sent.
    dialog.speakers.setText("A & B")
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    box = _box(dialog)
    assert box is not None and "cannot be a speaker's name" in box.text() and len(gemini.requests) == 1
    box.close()
    # Then it works.
    dialog.speakers.setText("Alice")
    gemini.replies.append(text_reply(_lines(("Alice", "Better now."))))
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.insert_button.isEnabled(), timeout=20_000)
    assert dialog.preview.toPlainText() == "Alice: Better now.\n"


def test_a_wrong_key_says_where_to_fix_it(make_window, qtbot, gemini, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-not-the-right-one")
    w = make_window()
    dialog = _ask(qtbot, w, speakers="Alice")
    qtbot.waitUntil(lambda: dialog.draft_button.isEnabled(), timeout=20_000)
    box = _box(dialog)
    assert "did not accept the API key" in box.text() and "Settings > Credentials" in box.text()
    assert "AIza-not-the-right-one" not in box.text()


def test_stop_and_close_drop_the_answer(make_window, qtbot, gemini):
    w = make_window()
    gemini.delay_s = 1.0
    gemini.replies.append(text_reply(_lines(("Alice", "Too late."))))
    dialog = _ask(qtbot, w, speakers="Alice")
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.drafting.job is None, timeout=20_000)
    assert dialog.status.text().startswith("Stopped") and dialog.preview.toPlainText() == ""
    gemini.replies.append(text_reply(_lines(("Alice", "Also too late."))))
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    dialog.reject()  # closed while Gemini writes: nothing arrives in the script
    qtbot.waitUntil(lambda: w.drafting.job is None, timeout=20_000)
    assert w.drafting.dialog is None and w.project.script_text == ""
