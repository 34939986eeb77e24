"""The window and a voice library in trouble: a damaged file is reported once and the app
starts with an empty library; a library locked by another program stops the start with a
plain message."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QApplication, QMessageBox

from csm_desktop.dialogue import voices
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.ui import app as app_module


def test_a_damaged_library_is_reported_once_and_the_window_starts_empty(make_window, qtbot, tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    (root / "library.sqlite3").write_bytes(b"\x00garbage, not a database" * 300)
    w = make_window()
    qtbot.waitUntil(lambda: w.findChild(QMessageBox, "errorBox") is not None, timeout=5_000)
    boxes = w.findChildren(QMessageBox, "errorBox")
    assert len(boxes) == 1 and "set aside as library.damaged-" in boxes[0].text()
    assert w.library.clips() == [] and list(root.glob("library.damaged-*.sqlite3"))
    assert w.library.take_notice() is None  # shown once; a later window says nothing


def test_a_locked_library_stops_the_start_with_a_plain_message(qtbot, monkeypatch, tmp_path):
    root = tmp_path / "data"
    root.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(root / "library.sqlite3").close()
    holder = sqlite3.connect(root / "library.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(voices, "BUSY_TIMEOUT_S", 0.2)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text)))
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    try:
        assert app_module.run_app([]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(shown) == 1 and "locked by another program" in shown[0]
    assert VoiceLibrary(root).notice is None  # not mistaken for damage: nothing was set aside
    assert not list(root.glob("library.damaged-*"))
