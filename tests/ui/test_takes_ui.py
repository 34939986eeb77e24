"""Takes in the window: each with its waveform and meaningful label, A/B compare, star, delete,
why a line is out of date; a reopened project before the engine loads (defect 5)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from csm_desktop.dialogue.project import Project

SCRIPT = "Alice: Hey, how are you doing?\nBob: Pretty good, pretty good.\n[pause 500ms]\nAlice: Great!\n"


def _render(qtbot, w, lines=None, force=False):
    assert w.rendering.start_render(lines, force=force) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)


def _two_takes(make_window, qtbot, tmp_path):
    """A rendered window whose line 2 (Bob) has two takes, the second chosen, and is selected."""
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Takes")
    _render(qtbot, w)
    first = w.project.line(1).chosen_take
    _render(qtbot, w, [1], force=True)
    w.editor.select_utterance(1)
    return w, first, w.project.line(1).chosen_take


def test_each_take_shows_number_length_and_time_with_the_full_seed_in_its_tooltip(make_window, qtbot, tmp_path):
    w, first, second = _two_takes(make_window, qtbot, tmp_path)
    assert w.takes.list.count() == 2
    top = w.takes.list.item(0)
    info = w.session.store().info(first)
    assert top.text().startswith("Take 1\n") and f"{info.duration:.1f} s · " in top.text()
    assert "seed" not in top.text().lower()
    assert f"Seed {info.seed}\n" in top.toolTip() and "Temperature 0.9 · top-k 50" in top.toolTip()
    assert not top.icon().isNull()  # its small waveform
    assert w.takes.list.item(1).text().startswith("✔ Take 2")


def test_a_b_compare_plays_the_selected_take_then_the_chosen_one(make_window, qtbot, tmp_path):
    w, first, second = _two_takes(make_window, qtbot, tmp_path)
    store = w.session.store()
    w.takes.select(first)
    assert w.takes.buttons["Use this take"].isEnabled()
    w.takes.buttons["▶ This take"].click()
    w.takes.buttons["▶ Chosen"].click()
    a, b = w.player.played[-2:]
    np.testing.assert_array_equal(a, store.load(first).numpy())
    np.testing.assert_array_equal(b, store.load(second).numpy())
    w.takes.buttons["Use this take"].click()
    assert w.project.line(1).chosen_take == first


def test_a_star_is_kept_with_the_project(make_window, qtbot, tmp_path):
    w, first, _ = _two_takes(make_window, qtbot, tmp_path)
    w.takes.select(first)
    w.takes.buttons["☆ Star"].click()
    assert w.project.starred == [first] and "★" in w.takes.list.item(0).text()
    assert w.takes.buttons["☆ Star"].text() == "★ Unstar"  # the selection stays on the starred take
    assert w.save()
    assert Project.open(w.project.folder).starred == [first]


def test_deleting_the_chosen_take_removes_its_file_and_leaves_the_line_without_one(make_window, qtbot, tmp_path,
                                                                                   monkeypatch, plan_states):
    w, first, second = _two_takes(make_window, qtbot, tmp_path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    w.takes.select(second)
    w.takes.buttons["Delete…"].click()
    assert "It is the take chosen for this line" in asked[0]
    store = w.session.store()
    assert not store.has(second) and not list(store.folder.glob(f"{second}*")) and store.has(first)
    assert w.project.line(1).chosen_take is None
    assert Project.open(w.project.folder).line(1).chosen_take is None  # saved at once
    assert w.takes.list.count() == 1
    assert plan_states(w)[1] == "none"


def test_declining_the_question_deletes_nothing(make_window, qtbot, tmp_path, monkeypatch):
    w, first, _ = _two_takes(make_window, qtbot, tmp_path)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    w.takes.select(first)
    w.takes.list.setFocus()
    qtbot.keyClick(w.takes.list, Qt.Key.Key_Delete)
    assert w.session.store().has(first) and w.takes.list.count() == 2


def test_why_a_line_is_out_of_date_is_shown_in_the_panel_and_the_gutter(make_window, qtbot, tmp_path, plan_states):
    w, _, _ = _two_takes(make_window, qtbot, tmp_path)
    w.editor.setPlainText(SCRIPT.replace("Hey, how are", "Hi, how are"))
    assert plan_states(w) == ["stale", "stale", "stale"]
    w.editor.select_utterance(2)
    assert w.editor.gutter_tooltip(4) == "Out of date: line 1 changed"
    assert w.takes.status.text().startswith("Out of date: line 1 changed. Render the line")
    w.editor.select_utterance(0)
    assert w.takes.status.text().startswith("Out of date: its words changed")


def test_earlier_takes_are_listed_again_when_the_words_come_back(make_window, qtbot, tmp_path, plan_states):
    w, first, second = _two_takes(make_window, qtbot, tmp_path)
    w.editor.setPlainText(SCRIPT.replace("Pretty good, pretty", "Very good, very"))
    _render(qtbot, w)
    w.editor.setPlainText(SCRIPT)
    w.editor.select_utterance(1)
    assert [w.takes.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)] == [first, second]
    _render(qtbot, w)  # the words' take is on disk: reused, not generated
    assert w.project.line(1).chosen_take in (first, second)
    assert plan_states(w) == ["done"] * 3


def test_a_reopened_project_shows_changed_lines_as_stale_before_the_engine_loads(make_window, qtbot, tmp_path,
                                                                                 plan_states):
    """Defect 5: the words of line 4 changed (in another editor) while the app was closed."""
    w = make_window()
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Reopen")
    _render(qtbot, w)
    folder = w.project.folder
    project = Project.open(folder)
    project.script_text = SCRIPT.replace("Great!", "Wonderful!")
    project.save()
    loads = []
    fresh = make_window(lambda: loads.append(1))
    assert fresh.open_project(folder)
    assert plan_states(fresh) == ["done", "done", "stale"] and loads == []
    assert fresh.editor.gutter_tooltip(4) == "Out of date: its words changed"
