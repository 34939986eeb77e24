"""Defects found by the UI-architecture review (issue 12), each reproduced and fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from csm_desktop.dialogue.export import ExportOptions


@pytest.fixture
def errors(monkeypatch):
    import csm_desktop.ui.main_window as main_window
    import csm_desktop.ui.controllers.exporting as exporting
    import csm_desktop.ui.controllers.rendering as rendering

    from csm_desktop.ui.errors import describe

    shown = []
    for module in (main_window, rendering, exporting):
        monkeypatch.setattr(module, "show_error", lambda parent, message, details="": shown.append(message))
        if hasattr(module, "show_exception"):
            monkeypatch.setattr(module, "show_exception", lambda parent, exc: shown.append(describe(exc)[0]))
    return shown


def test_an_export_that_cannot_be_written_says_so(make_window, qtbot, tmp_path, errors):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\n")
    assert w.save_as(tmp_path / "Export")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    blocker = tmp_path / "a-file.txt"
    blocker.write_text("not a folder")
    assert w.export(blocker / "out.wav", ExportOptions()) == []
    assert errors and "out.wav" in errors[0]
    assert Path(blocker).read_text() == "not a folder"


def test_undoing_a_clip_assignment_also_undoes_the_clips_speaker(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.speakers_ctl.import_files(voice_files[:1]) == []
    clip = w.library.record_consent(w.library.clips()[0].id)  # permission given before
    assert clip.speaker is None
    w.speakers_ctl.assign_clip("Alice", clip.id)
    assert w.library.get(clip.id).speaker == "Alice" and clip.id in w.project.speaker("Alice").clip_ids
    w.session.undo_stack.undo()
    assert w.library.get(clip.id).speaker is None and clip.id not in w.project.speaker("Alice").clip_ids
    w.session.undo_stack.redo()
    assert w.library.get(clip.id).speaker == "Alice" and clip.id in w.project.speaker("Alice").clip_ids


def test_settings_changed_during_a_render_take_effect_after_it(make_window, qtbot, tmp_path):
    import threading

    from fakes.engine import FakeEngine

    gate = threading.Event()
    made = []

    class GatedEngine(FakeEngine):
        def stream(self, *args, **kwargs):
            gate.wait(30)
            yield from super().stream(*args, **kwargs)

    def factory():
        made.append(GatedEngine())
        return made[-1]

    w = make_window(engine_factory=factory)
    released = []
    w.engine_host.released.connect(lambda: released.append(w.rendering.job))
    w.editor.setPlainText("Alice: One.\nBob: Two.\n")
    assert w.save_as(tmp_path / "Reload")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: len(made) == 1, timeout=10_000)
    w.drop_engine()  # what saving changed engine settings does
    gate.set()
    qtbot.waitUntil(lambda: released == [None], timeout=30_000)  # released once the render ended
    assert len(made) == 1 and len(made[0].calls) == 2  # the render kept its engine for both lines
    w.editor.setPlainText("Alice: One.\nBob: Two, changed.\n")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert len(made) == 2  # the next render loaded the engine the new settings ask for


def test_a_closed_setup_dialog_cancels_its_download_and_hears_nothing_more(make_window, qtbot, monkeypatch):
    """Issue 12 defect 9: each set-up dialog connected to the shared worker and never let go. Its
    download is now a job of its own, cancelled when the dialog closes."""
    import threading

    from csm_desktop.services import download, model_source
    from csm_desktop.ui.model_setup import ModelSetupDialog

    running, seen = threading.Event(), []

    def slow_plan(repo, token):
        running.set()
        while not job.should_stop():
            threading.Event().wait(0.01)
        raise download.DownloadCancelled("stopped")

    monkeypatch.setattr(model_source, "plan_model", slow_plan)
    monkeypatch.setenv("HF_TOKEN", "hf_a_token")  # without one, Download asks for it first
    w = make_window()
    dialog = ModelSetupDialog(w, w.settings, w.tasks)
    job = dialog.start_download()
    job.cancelled.connect(lambda: seen.append("cancelled"))
    assert running.wait(10)
    dialog.reject()
    assert dialog.job is None
    qtbot.waitUntil(lambda: seen == ["cancelled"] and w.tasks.running == 0, timeout=10_000)
    assert "stopped" not in dialog.status.text()  # the closed dialog was not updated


def test_the_gutter_explains_its_colours_on_hover(qtbot, monkeypatch):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    from csm_desktop.ui.widgets.editor import STATE_TIPS, ScriptEditor

    shown = []
    monkeypatch.setattr(QToolTip, "showText", lambda pos, text, widget=None: shown.append(text))
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    editor.resize(500, 300)
    editor.show()
    editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    editor.set_states(["done", "stale"])
    gutter = editor._gutter
    for n, state in enumerate(("done", "stale")):
        block = editor.document().findBlockByNumber(n)
        y = int(editor.blockBoundingGeometry(block).translated(editor.contentOffset()).center().y())
        QApplication.sendEvent(gutter, QHelpEvent(QEvent.Type.ToolTip, QPoint(2, y), gutter.mapToGlobal(QPoint(2, y))))
        assert shown[-1] == STATE_TIPS[state]


def test_an_expected_error_has_no_traceback_and_an_unexpected_one_has(make_window, qtbot):
    from csm_desktop.errors import CsmError

    w = make_window()
    failures = []

    def expected(job):
        raise CsmError("The URL is not a web address. Fix it in Settings.")

    def unexpected(job):
        raise KeyError("boom")

    for fn in (expected, unexpected):
        w.model_tasks.submit(fn, fn.__name__, on_error=lambda message, details: failures.append((message, details)))
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=5_000)
    assert failures[0] == ("The URL is not a web address. Fix it in Settings.", "")
    assert failures[1][0] == "Unexpected error: KeyError: 'boom'" and "Traceback" in failures[1][1]


def test_a_line_whose_render_failed_stays_marked_failed_with_the_reason(make_window, qtbot, tmp_path, errors,
                                                                       plan_states):
    from fakes.engine import FakeEngine

    w = make_window(engine_factory=lambda: FakeEngine(fail_on="Broken"))
    w.editor.setPlainText("Alice: Fine.\nBob: Broken line.\n")
    assert w.save_as(tmp_path / "Failed")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    plan_states(w)
    assert w.editor.states == ["done", "failed"]
    assert w.editor.gutter_tooltip(2).startswith("Failed: ") and w.editor.gutter_tooltip(1) == "Rendered"
    w.editor.setPlainText("Alice: Fine.\nBob: A line that works.\n")  # edited: no longer the failed line
    plan_states(w)
    assert w.editor.states[1] != "failed"


def test_dialogs_start_beside_the_project_not_in_the_apps_start_folder(make_window, tmp_path, monkeypatch):
    from csm_desktop.ui.dialogs import ExportDialog

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    w = make_window()
    assert w._projects_folder() == tmp_path / "home"
    w.editor.setPlainText("Alice: Hi.\n")
    assert w.save_as(tmp_path / "work" / "Play")
    assert w._projects_folder() == tmp_path / "work"
    dialog = ExportDialog(w, w.project.name, w.project.folder.parent)
    assert dialog.path.text() == str(tmp_path / "work" / "Play.wav")
