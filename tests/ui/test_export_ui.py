"""Export in the window: out-of-date lines are asked about (defect 4), the dialog remembers its
choices, MP3/Opus and a sample rate, "Show in folder", and the status bar tells of the export."""

from __future__ import annotations

import soundfile as sf
from PySide6.QtGui import QDesktopServices

from csm_desktop.dialogue.export import ExportOptions
from csm_desktop.ui.controllers.exporting import ExportController
from csm_desktop.ui.dialogs import ExportDialog

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\nAlice: Great!\n"


def _rendered(make_window, qtbot, tmp_path, name="Export"):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / name)
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    return w


def _answer(monkeypatch, answer):
    asked = []
    monkeypatch.setattr(ExportController, "ask", lambda self, text, can_export_anyway, can_render=True: asked.append((text, can_export_anyway)) or answer)
    return asked


def test_an_edited_line_is_asked_about_and_cancel_exports_nothing(make_window, qtbot, tmp_path, monkeypatch):
    """Defect 4: the old audio went out under the new words."""
    w = _rendered(make_window, qtbot, tmp_path)
    w.editor.setPlainText(SCRIPT.replace("Pretty good", "Not bad"))
    asked = _answer(monkeypatch, "cancel")
    out = tmp_path / "out.wav"
    w.exporting.check_then_export(out, ExportOptions())
    qtbot.waitUntil(lambda: bool(asked))
    text, can_export_anyway = asked[0]
    assert text.startswith("Lines 2, 3 changed since they were rendered (line 2: its words changed)")
    assert can_export_anyway and not out.exists()


def test_export_anyway_is_marked_in_the_status_bar_and_the_log(make_window, qtbot, tmp_path, monkeypatch, caplog):
    w = _rendered(make_window, qtbot, tmp_path)
    w.editor.setPlainText(SCRIPT.replace("Great!", "Fine!"))
    _answer(monkeypatch, "anyway")
    out = tmp_path / "out.wav"
    w.exporting.check_then_export(out, ExportOptions())
    qtbot.waitUntil(out.exists)
    assert w.statusBar().currentMessage().endswith("· line 3 out of date")
    assert "out-of-date takes for line 3" in caplog.text
    assert w.exporting.notice.isVisibleTo(w) and "with out-of-date lines" in w.exporting.notice.label.text()


def test_render_then_export_renders_the_stale_lines_and_exports_the_new_audio(make_window, qtbot, tmp_path,
                                                                              monkeypatch):
    w = _rendered(make_window, qtbot, tmp_path)
    old = w.project.line(1).chosen_take
    w.editor.setPlainText(SCRIPT.replace("Pretty good", "Not bad") + "Bob: A new line.\n")
    asked = _answer(monkeypatch, "render")
    out = tmp_path / "out.wav"
    subs = tmp_path / "out.srt"
    w.exporting.check_then_export(out, ExportOptions(subtitles=[subs]))
    qtbot.waitUntil(out.exists, timeout=30_000)
    assert "Line 4 has no take yet." in asked[0][0] and not asked[0][1]  # nothing to export for it anyway
    assert len(asked) == 1  # after the render nothing was left to ask about
    assert w.project.line(1).chosen_take != old
    assert "Bob: Not bad, pretty good." in subs.read_text() and "A new line." in subs.read_text()
    message = w.statusBar().currentMessage()
    assert message.startswith("Exported 2 files to ") and "Saved" not in message


def test_a_stopped_render_exports_nothing(make_window, qtbot, tmp_path, monkeypatch):
    w = _rendered(make_window, qtbot, tmp_path)
    w.editor.setPlainText(SCRIPT.replace("Great!", "Fine!"))
    _answer(monkeypatch, "render")
    monkeypatch.setattr(w.rendering, "start_render", lambda lines, force=False: None)  # e.g. a render runs
    w.exporting.check_then_export(tmp_path / "out.wav", ExportOptions())
    qtbot.waitUntil(lambda: w.exporting._pending is None)
    w.exporting.render_ended(None)
    assert not (tmp_path / "out.wav").exists()


def test_the_dialog_remembers_its_choices_and_checks_them(make_window, qtbot, tmp_path, monkeypatch):
    w = _rendered(make_window, qtbot, tmp_path)
    shown = []

    def fill(self):
        shown.append(self)
        if len(shown) == 1:
            self.path.setText(str(tmp_path / "elsewhere" / "Mix.wav"))
            self.format.setCurrentText("FLAC")
            self.rate.setCurrentIndex(self.rate.findData(48_000))
            self.srt.setChecked(True)
        return 1

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setattr(ExportDialog, "exec", fill)
    w.export_dialog()
    qtbot.waitUntil(lambda: (tmp_path / "elsewhere" / "Mix.flac").exists())
    assert sf.info(tmp_path / "elsewhere" / "Mix.flac").samplerate == 48_000
    assert (tmp_path / "elsewhere" / "Mix.srt").exists()
    w.export_dialog()
    again = shown[1]
    assert (again.fmt(), again.rate.currentData(), again.srt.isChecked()) == ("flac", 48_000, True)
    assert again.output() == tmp_path / "elsewhere" / "Export.flac"
    odd = ExportDialog(w, "X", tmp_path, {"format": "aiff", "sample_rate": "fast", "srt": 1, "lufs": 1e9,
                                          "folder": str(tmp_path / "gone")})
    assert (odd.fmt(), odd.rate.currentData(), odd.srt.isChecked(), odd.output()) == ("wav", 24_000, False,
                                                                                      tmp_path / "X.wav")


def test_opus_offers_only_the_rates_it_can_be_written_at(make_window):
    w = make_window()
    dialog = ExportDialog(w, "Demo")
    dialog.rate.setCurrentIndex(dialog.rate.findData(44_100))
    dialog.format.setCurrentText("Opus")
    rates = [dialog.rate.itemData(i) for i in range(dialog.rate.count())]
    assert 44_100 not in rates and dialog.rate.currentData() == 24_000
    assert dialog.output().suffix == ".opus" and not dialog.depth.isEnabled()
    assert dialog.options().format == "opus"


def test_show_in_folder_opens_the_exports_folder(make_window, qtbot, tmp_path, monkeypatch):
    w = _rendered(make_window, qtbot, tmp_path)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    assert w.export(tmp_path / "mixes" / "out.mp3", ExportOptions(format="mp3"))
    w.session.save()  # a save after the export does not hide it
    assert w.exporting.notice.isVisibleTo(w)
    w.exporting.notice.show_button.click()
    assert opened == [str(tmp_path / "mixes")]
