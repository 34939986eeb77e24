"""Take checks in the window (issue 14): badges on takes, a mark in the gutter, the export asks,
and "Re-render lines with problems" renders exactly those lines again."""

from __future__ import annotations

from csm_desktop.dialogue.checks import TakeCheck


def _checked(problems: list[str], score: float) -> TakeCheck:
    return TakeCheck(duration_s=2.0, speech_start_s=0.1, speech_end_s=1.2, trailing_nonspeech_s=0.8,
                     longest_silence_s=0.0, expected_s=1.0, trim_start_s=0.0, trim_end_s=1.35,
                     problems=problems, score=score)


def _rendered(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\nBob: Hi, how are you?\n")
    assert w.save_as(tmp_path / "Checked")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    store = w.session.store()
    for n in range(2):  # what the checks would say of real speech: the first line clean, the second not
        key = w.project.line(n).chosen_take
        store.save_check(key, _checked(["runaway_tail"], 0.55) if n == 1 else _checked([], 0.97))
    return w, store


def test_a_take_with_problems_is_marked_in_the_gutter_and_on_its_row(make_window, qtbot, tmp_path, plan_states):
    w, _store = _rendered(make_window, qtbot, tmp_path)
    assert plan_states(w) == ["done", "done"]  # both current; the second with problems, marked beside
    assert list(w.editor.problems) == [2] and "runaway tail (score 0.55)" in w.editor.gutter_tooltip(2)
    w.editor.select_utterance(1)
    w.takes_ctl.refresh()
    row = w.takes.list.item(0)
    assert "⚠ runaway tail · 0.55" in row.text()
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    assert "✓ 0.97" in w.takes.list.item(0).text()


def test_re_rendering_lines_with_problems_renders_only_those(make_window, qtbot, tmp_path, plan_states):
    w, store = _rendered(make_window, qtbot, tmp_path)
    first = w.project.line(0).chosen_take
    before = set(p.name for p in store.root.glob("*.wav")) if hasattr(store, "root") else None
    events = []
    progress = w.rendering._on_progress
    w.rendering._on_progress = lambda e: (events.append(e), progress(e))
    assert w.rendering.redo_problems() is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    rendered = {e.line for e in events if getattr(e, "state", "") in ("done", "rendering")}
    assert rendered == {1}
    assert w.project.line(0).chosen_take == first
    del before


def test_nothing_to_redo_is_said_not_rendered(make_window, qtbot, tmp_path):
    w, store = _rendered(make_window, qtbot, tmp_path)
    store.save_check(w.project.line(1).chosen_take, _checked([], 0.9))
    assert w.rendering.redo_problems() is None
    assert "No line's take has problems" in w.statusBar().currentMessage()


def test_export_asks_about_takes_with_problems(make_window, qtbot, tmp_path, monkeypatch):
    from csm_desktop.dialogue.export import ExportOptions
    from csm_desktop.ui.controllers.exporting import ExportController

    w, _store = _rendered(make_window, qtbot, tmp_path)
    asked = []
    monkeypatch.setattr(ExportController, "ask",
                        lambda self, text, can_export_anyway, can_render=True:
                        asked.append((text, can_export_anyway, can_render)) or "cancel")
    w.exporting.check_then_export(tmp_path / "out.wav", ExportOptions())
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    text, anyway, render = asked[0]
    assert "Line 2" in text and "problems" in text and anyway and not render
    assert not (tmp_path / "out.wav").exists()


def test_best_of_is_a_project_setting_and_a_render_keeps_every_candidate(make_window, qtbot, tmp_path):
    from csm_desktop.ui.widgets.project_settings import ProjectSettingsDialog

    w = make_window()
    w.editor.setPlainText("Alice: Hello there.\n")
    assert w.save_as(tmp_path / "Best")
    dialog = ProjectSettingsDialog(w, "Best", w.project.settings)
    dialog.best_of.setValue(3)
    assert w.generation.set_project_settings(dialog.values())
    assert w.project.settings.best_of == 3
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    takes = w.session.store().takes_for("Hello there.", "Alice")
    assert sorted(t.candidate for t in takes) == [0, 1, 2]
    assert w.project.line(0).chosen_take in {t.key for t in takes}
    assert w.project.line(0).auto_choice == w.project.line(0).chosen_take
    w.session.undo_stack.undo()
    assert w.project.settings.best_of == 1
