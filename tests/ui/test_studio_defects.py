"""Issue 13, defect 11 (parts): the set-up dialog asks for the token before Download; Gemini's
"Transcribing…" goes when it fails; Preferences has a shortcut on Linux."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox


def test_download_without_a_token_asks_for_it_and_keeps_the_explanation(make_window, qtbot, monkeypatch):
    from csm_desktop.services import credentials
    from csm_desktop.ui.model_setup import ModelSetupDialog

    monkeypatch.setattr(credentials, "get_secret", lambda name: None)
    w = make_window()
    dialog = ModelSetupDialog(w, w.settings, w.tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    intro = dialog.findChildren(type(dialog.status))[0]
    before = (dialog.height(), intro.height())
    assert "huggingface.co/settings/tokens" in intro.text()
    assert dialog.start_download() is None  # nothing is asked of the hub without a token
    assert dialog.job is None and dialog.download_button.isEnabled() and w.tasks.running == 0
    assert "Paste your Hugging Face access token above first" in dialog.status.text()
    assert "huggingface.co/settings/tokens" in dialog.status.text() and dialog.status.openExternalLinks()
    assert dialog.focusWidget() is dialog.token
    assert intro.isVisible() and (dialog.height(), intro.height()) >= before
    assert not [b for b in dialog.findChildren(QMessageBox) if b.isVisible()]


def test_the_setup_dialog_grows_for_a_long_status_but_never_shrinks(make_window, qtbot):
    from csm_desktop.ui.model_setup import ModelSetupDialog

    w = make_window()
    dialog = ModelSetupDialog(w, w.settings, w.tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.resize(dialog.width(), 900)
    dialog._say("Short.")
    assert dialog.height() == 900
    dialog.resize(dialog.width(), 200)
    dialog._say("A long status line that wraps. " * 30)
    assert dialog.height() > 200


def test_transcribing_goes_from_the_status_bar_when_gemini_fails(make_window, qtbot, voice_files, monkeypatch):
    from fakes.gemini import FakeGemini, error_reply

    with FakeGemini("AIza-ui-key") as fake:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        monkeypatch.setenv("GOOGLE_API_KEY", "AIza-ui-key")
        fake.replies.append(error_reply(503, "UNAVAILABLE", "overloaded"))
        w = make_window()
        w.speakers_ctl.import_files(voice_files[:1])
        w.speakers_ctl.transcribe_clip(w.library.clips()[0].id)
        assert w.statusBar().currentMessage() == "Transcribing with Gemini…"
        qtbot.waitUntil(lambda: w.tasks.running == 0, timeout=20_000)
        box = next(b for b in w.findChildren(QMessageBox, "errorBox") if b.isVisible())
        assert "server error" in box.text()
        assert "Transcribing" not in w.statusBar().currentMessage()


def test_ctrl_comma_opens_the_settings(make_window, qtbot, monkeypatch):
    from PySide6.QtGui import QKeySequence

    w = make_window()
    opened = []
    monkeypatch.setattr(w, "settings_dialog", lambda remote=False: opened.append(remote))
    w.act_settings.triggered.disconnect()
    w.act_settings.triggered.connect(lambda: w.settings_dialog())
    assert QKeySequence("Ctrl+,") in w.act_settings.shortcuts()
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    w.editor.setFocus()
    qtbot.keyClick(w.editor, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert opened == [False]
