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


def _line_takes(w):
    """What the takes list shows: (text's first line, selectable) of each row."""
    from PySide6.QtCore import Qt

    rows = []
    for i in range(w.takes.list.count()):
        item = w.takes.list.item(i)
        rows.append((item.text().split("\n")[0], bool(item.flags() & Qt.ItemFlag.ItemIsSelectable)))
    return rows


def test_a_line_whose_words_changed_lists_the_earlier_takes_to_play_not_to_use(make_window, qtbot, tmp_path,
                                                                              plan_states):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Earlier")
    for lines, force in ((None, False), ([0], True)):  # two takes of the first wording
        w.rendering.start_render(lines, force=force)
        qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    old = w.project.line(0).chosen_take
    w.editor.setPlainText("Alice: Hello over there.\nBob: Hi.\n")
    assert plan_states(w)[0] == "stale"
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    assert _line_takes(w) == [("Takes of the earlier wording", False), ("Take 1", True), ("✔ Take 2", True)]
    status = w.takes.status.text()
    assert status.startswith("Out of date: its words changed.") and "2 takes of the earlier wording are kept" in status
    assert "Render this line to make takes of the new words" in status
    w.takes.select(old)
    assert w.takes.buttons["▶ This take"].isEnabled() and not w.takes.buttons["Use this take"].isEnabled()
    first = w.takes.rows[0].key
    w.takes.select(first)
    w.takes.buttons["▶ This take"].click()
    assert w.player.source == ("take", first)  # the earlier takes play
    assert not w.takes.buttons["Use this take"].isEnabled()
    assert not w.session.choose_take(0, first)  # and never become the take of the new words
    assert w.project.line(0).chosen_take == old

    w.rendering.start_render([0])  # takes of the new words: listed first, the earlier ones stay below
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.takes_ctl.refresh()
    assert [t for t, _ in _line_takes(w)] == ["✔ Take 1"]  # the chosen take is of these words: nothing earlier
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi.\n")  # the words back: their takes come back
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    assert _line_takes(w) == [("Take 1", True), ("Take 2", True), ("Takes of the earlier wording", False),
                              ("✔ Take 1", True)]
    assert w.takes.list.item(2).text() == "Takes of the earlier wording\n\u201cHello over there.\u201d"


def test_settings_grey_out_compile_where_it_is_refused(make_window, monkeypatch):
    from PySide6.QtCore import Qt

    from csm_desktop.engine import backends
    from csm_desktop.ui.settings_dialog import SettingsDialog

    def compile_offered(dialog) -> tuple[bool, str]:
        index = dialog.accel.findData("compile")
        return dialog.accel.model().item(index).isEnabled(), dialog.accel.itemData(index, Qt.ItemDataRole.ToolTipRole)

    w = make_window()
    monkeypatch.setattr(backends, "is_apple_silicon", lambda: False)
    dialog = SettingsDialog(w, w.settings)
    assert compile_offered(dialog) == (True, None)  # auto on Linux: the CPU or CUDA compile
    dialog.device.setCurrentText("mps")
    offered, why = compile_offered(dialog)
    assert not offered and "not offered on a Mac's GPU (MPS)" in why

    dialog.device.setCurrentText("cpu")
    dialog.accel.setCurrentIndex(dialog.accel.findData("compile"))
    dialog.device.setCurrentText("mlx")  # compile was chosen: back to Automatic
    offered, why = compile_offered(dialog)
    assert not offered and "MLX engine" in why and dialog.accel.currentData() == "auto"

    monkeypatch.setattr(backends, "is_apple_silicon", lambda: True)  # a Mac: auto is MLX or the Mac's GPU
    for mlx, says in ((True, "MLX engine"), (False, "(MPS)")):
        monkeypatch.setattr(backends, "mlx_installed", lambda mlx=mlx: mlx)
        w.settings.device, w.settings.accel = "auto", "compile"
        dialog = SettingsDialog(w, w.settings)
        offered, why = compile_offered(dialog)
        assert not offered and says in why and dialog.accel.currentData() == "auto"


def test_a_chosen_take_whose_audio_is_gone_lists_nothing_as_earlier_wording(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\n")
    assert w.save_as(tmp_path / "Gone")
    for lines, force in ((None, False), ([0], True)):
        w.rendering.start_render(lines, force=force)
        qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    store = w.session.store()
    store.audio_path(w.project.line(0).chosen_take).unlink()  # the chosen take's file, removed by hand
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    assert _line_takes(w) == [("Take 1", True)]  # the other take of these words, once, and no heading
