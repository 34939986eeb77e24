"""Per-line gap, seed and temperature in the line inspector; the project's own generation
settings; Settings > Generation as defaults for new projects (defect 9)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\n"


def _render(qtbot, w, lines=None, force=False):
    assert w.rendering.start_render(lines, force=force) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)


def test_the_inspector_edits_the_selected_line_and_undo_sets_it_back(make_window, qtbot, tmp_path, plan_states):
    w = make_window()
    ins = w.line_inspector
    assert not ins.fields.isVisibleTo(ins)  # no line selected yet: it says what to do
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Lines")
    _render(qtbot, w)
    w.editor.select_utterance(1)
    assert ins.title() == "Line 2 · Bob" and ins.fields.isVisibleTo(ins)
    assert ins.gap.text() == "Default (300 ms)"
    ins.gap.setValue(750)
    assert w.project.line(1).gap_after_ms == 750 and w.dirty
    assert plan_states(w) == ["done", "done"]  # a gap moves the line, it does not change its take
    ins.own_temperature.setChecked(True)
    ins.temperature.setValue(0.5)
    assert w.project.line(1).temperature == 0.5
    assert plan_states(w) == ["done", "stale"]
    assert w.editor.gutter_tooltip(2) == "Out of date: settings changed (this line's temperature)"
    w.session.undo_stack.undo()  # the temperature edits of the line are one step, the gap another
    assert (w.project.line(1).temperature, w.project.line(1).gap_after_ms) == (None, 750)
    assert not ins.own_temperature.isChecked()
    w.session.undo_stack.undo()
    assert w.project.line(1).gap_after_ms is None and ins.gap.value() == -1
    w.session.undo_stack.redo()
    w.session.undo_stack.redo()
    assert (w.project.line(1).temperature, w.project.line(1).gap_after_ms) == (0.5, 750)


def test_a_line_seed_is_typed_or_taken_from_a_take(make_window, qtbot, tmp_path, plan_states):
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Seeds")
    _render(qtbot, w)
    first = w.project.line(0).chosen_take
    _render(qtbot, w, [0], force=True)
    w.editor.select_utterance(0)
    ins = w.line_inspector
    ins.own_seed.setChecked(True)  # nothing typed yet: nothing changes
    assert w.project.line(0).seed is None
    ins.seed.setText("4242")
    ins.seed.editingFinished.emit()
    assert (w.project.line(0).seed, w.project.line(0).variant) == (4242, 0)
    w.generation.pin_take_seed(first)  # "Use its seed for this line"
    assert w.project.line(0).seed == w.session.store().info(first).seed
    w.takes_ctl.choose_take(first)
    assert plan_states(w)[0] == "done"  # the pinned seed is the take's: it stays current
    assert ins.seed.text() == str(w.project.line(0).seed)


def test_project_settings_are_the_projects_own_and_undoable(make_window, qtbot, tmp_path, plan_states, monkeypatch):
    from csm_desktop.ui.widgets.project_settings import ProjectSettingsDialog

    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Project")
    _render(qtbot, w)
    dialog = ProjectSettingsDialog(w, "Project", w.project.settings)
    dialog.topk.setValue(20)
    dialog.gap.setValue(900)
    dialog.seed.setText("99")
    values = dialog.values()
    assert (values.topk, values.default_gap_ms, values.seed, values.temperature) == (20, 900, 99, 0.9)
    monkeypatch.setattr(ProjectSettingsDialog, "exec", lambda self: 1)
    monkeypatch.setattr(ProjectSettingsDialog, "values", lambda self: values)
    assert w.generation.edit_project_settings()
    assert w.project.settings == values and w.settings.topk == 50  # the defaults stay as they were
    assert plan_states(w) == ["stale", "stale"]
    assert "settings changed (top-k)" in w.editor.gutter_tooltip(1)
    w.session.undo_stack.undo()
    assert w.project.settings.topk == 50 and plan_states(w) == ["done", "done"]


def test_generation_defaults_say_they_are_for_new_projects_and_can_apply_to_this_one(make_window, tmp_path):
    """Defect 9: the defaults did not reach the open project and nothing said so."""
    from csm_desktop.ui.settings_dialog import SettingsDialog

    w = make_window()
    w.editor.setPlainText(SCRIPT)
    dialog = SettingsDialog(w, w.settings)
    note = dialog.findChild(QLabel, "generationDefaultsNote")
    assert note.text().startswith("Defaults for new projects.") and "File > Project settings" in note.text()
    dialog.temperature.setValue(0.6)
    w.apply_settings(dialog)
    assert w.settings.temperature == 0.6 and w.project.settings.temperature == 0.9  # not asked: defaults only
    dialog = SettingsDialog(w, w.settings)
    dialog.topk.setValue(30)
    dialog.apply_to_project.setChecked(True)
    w.apply_settings(dialog)
    assert (w.project.settings.temperature, w.project.settings.topk) == (0.6, 30)
    assert w.session.fresh_project().settings.topk == 30
