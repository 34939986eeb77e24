"""Responsible voice in the window: the permission prompt before a clip is first assigned, Tools >
Check a file for the AI watermark (on the side pool), Settings > Responsible voice, and exports
that carry content credentials."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMessageBox

from csm_desktop.audio import SAMPLE_RATE, write_audio
from csm_desktop.dialogue.export import ExportOptions
from csm_desktop.services.content_credentials import ASSERTION, read_manifest
from csm_desktop.settings import Settings
from csm_desktop.ui.settings_dialog import SettingsDialog
from fakes.speech import SpeakingEngine, espeak


def _prompt(w) -> QDialog | None:
    shown = [d for d in w.findChildren(QDialog, "consentDialog") if d.isVisible()]
    assert len(shown) <= 1
    return shown[0] if shown else None


def test_the_first_assignment_of_a_clip_asks_for_permission(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Alice: Hi.\nBob: Hello.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.clips()[0]

    w.speakers_ctl.assign_clip("Alice", clip.id)
    prompt = _prompt(w)
    assert prompt is not None
    texts = [label.text() for label in prompt.findChildren(QLabel)]
    assert any(f"<b>{clip.name}</b>" in t and "<b>Alice</b>" in t for t in texts)
    assert not prompt.confirm.isEnabled()  # a statement must be chosen first
    prompt.reject()  # Cancel: nothing assigned, nothing recorded
    assert w.project.speaker("Alice").clip_ids == [] and w.library.get(clip.id).consent_at is None
    assert not w.session.undo_stack.canUndo()

    w.speakers_ctl.assign_clip("Alice", clip.id)
    prompt = _prompt(w)
    prompt.own.setChecked(True)
    assert prompt.confirm.isEnabled()
    prompt.confirm.click()
    assert w.project.speaker("Alice").clip_ids == [clip.id]
    recorded = w.library.get(clip.id)
    assert recorded.consent_at is not None and recorded.own_voice

    w.speakers_ctl.assign_clip("Bob", clip.id)  # once per clip: not asked again
    assert _prompt(w) is None and w.project.speaker("Bob").clip_ids == [clip.id]


def test_the_menu_checks_files_on_the_side_pool(make_window, qtbot, perth, tmp_path, monkeypatch):
    w = make_window()
    action = w.act_check_watermark
    assert action.text() == "Check a file for the AI &watermark…"
    assert any(a.menu() is not None and action in a.menu().actions() for a in w.menuBar().actions())
    speech = espeak("Is this recording real, or was it generated?")
    write_audio(tmp_path / "marked.wav", perth.watermark(speech, SAMPLE_RATE), SAMPLE_RATE)
    write_audio(tmp_path / "plain.wav", speech, SAMPLE_RATE)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not a wave file")
    chosen = [str(tmp_path / n) for n in ("marked.wav", "plain.wav", "broken.wav")]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (chosen, "")))
    with qtbot.waitSignal(w.watermark_check.shown, timeout=30_000) as shown:
        action.trigger()
        assert w.watermark_check.job.parent() is w.tasks  # the side pool, not the model's lane
    box: QMessageBox = shown.args[0]
    assert box.isVisible() and box.text() == "The AI watermark is in 1 of 3 files."
    lines = box.informativeText().splitlines()
    assert lines[0].endswith("marked.wav: AI watermark present (confidence 1.00)")
    assert "plain.wav: no AI watermark found" in lines[1]
    assert "broken.wav: not checked" in lines[2]
    assert w.watermark_check.job is None
    box.accept()


def test_settings_keep_the_own_voice_choice_and_refuse_a_bad_certificate(make_window, tmp_path):
    w = make_window()
    dialog = SettingsDialog(w, w.settings)
    tab = dialog.responsible
    assert tab.watermark_own_voice.isChecked()  # on by default
    assert "nobody is impersonated" in tab.findChild(QLabel, "ownVoiceReason").text()
    tab.cert.setText(str(tmp_path / "missing.pem"))
    tab.key.setText(str(tmp_path / "missing.key"))
    dialog.show()
    dialog.accept()
    assert dialog.isVisible() and dialog.tabs.currentWidget() is tab  # kept open, on the tab, saying why
    assert "could not be read" in tab.problem_label.text()
    tab.cert.clear()
    tab.key.clear()
    tab.watermark_own_voice.setChecked(False)
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    w.apply_settings(dialog)
    assert Settings.load().watermark_own_voice is False


def test_an_export_from_the_window_carries_credentials_and_the_watermark(make_window, qtbot, perth, tmp_path):
    w = make_window(SpeakingEngine)
    w.editor.setPlainText("Alice: The tickets are in the blue envelope.\nBob: Thanks, I will bring it.\n")
    assert w.save_as(tmp_path / "Trip")
    w.rendering.render_all()
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=60_000)
    out = tmp_path / "trip.wav"
    written = w.export(out, ExportOptions(normalize_lufs=-16.0))
    assert written == [out]
    manifest = read_manifest(out)
    assert manifest["validation_state"] == "Valid"
    ours = next(a["data"] for a in manifest["assertions"] if a["label"] == ASSERTION)
    assert ours["watermark"] == {"name": ours["watermark"]["name"], "lines": 2, "lines_without": []}
    audio, rate = sf.read(out, dtype="float32")
    assert perth.detect(audio, rate).present and np.abs(audio).max() > 0.1


def test_a_render_asks_for_clips_given_before_the_app_asked(make_window, qtbot, voice_files, tmp_path):
    """A clip given to its speaker without the prompt (a library from before consent was asked):
    rendering asks first, renders nothing on Cancel, and starts once permission is confirmed."""
    w = make_window()
    w.editor.setPlainText("Alice: Hi.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.clips()[0]
    w.session.assign_clip("Alice", clip.id)  # as an older version did it
    assert w.save_as(tmp_path / "Old")
    assert w.rendering.start_render(None) is None
    _prompt(w).reject()
    assert w.rendering.job is None and w.project.line(0).chosen_take is None
    w.rendering.render_all()
    prompt = _prompt(w)
    prompt.permitted.setChecked(True)
    prompt.confirm.click()
    assert w.rendering.job is not None  # started by the confirmation
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.project.line(0).chosen_take and w.library.get(clip.id).consent_at
