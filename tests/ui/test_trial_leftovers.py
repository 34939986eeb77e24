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


def test_import_opens_in_the_documents_folder_then_where_the_last_import_came_from(
        make_window, voice_files, tmp_path, monkeypatch):
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    from csm_desktop.settings import Settings

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "home" / "Documents").mkdir(parents=True)
    (tmp_path / "started").mkdir()
    monkeypatch.chdir(tmp_path / "started")  # the folder the app was started from: never where Import opens
    opened = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        staticmethod(lambda parent, title, folder, filters: (opened.append(folder), ([], ""))[1]))
    w = make_window()
    w.library_panel.import_requested.emit()
    assert opened == [str(tmp_path / "home" / "Documents")]

    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        staticmethod(lambda parent, title, folder, filters: (opened.append(folder), (voice_files[:1], ""))[1]))
    w.library_panel.import_requested.emit()
    assert len(w.library.clips()) == 1
    w.library_panel.import_requested.emit()
    assert opened[2] == str(Path(voice_files[0]).parent)
    assert Settings.load().import_folder == str(Path(voice_files[0]).parent)  # and in the next run


def test_stop_playback_in_the_menu_is_on_only_while_something_plays_or_waits_paused(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi.\n")
    stop = w.act_stop_audio
    assert not stop.isEnabled()  # nothing to stop in a new window
    assert w.save_as(tmp_path / "Stop")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.timeline_ctl.refresh()
    seen = []
    for step in (w.timeline_ctl.play_all, w.timeline_ctl.pause, w.timeline_ctl.stop, w.transport.play_selected,
                 w.player.finish):
        if step == w.transport.play_selected:
            w.editor.select_utterance(0)
        step()
        seen.append((stop.isEnabled(), w.timeline.stop_button.isEnabled()))
    assert seen == [(True, True), (True, True), (False, False), (True, True), (False, False)]
