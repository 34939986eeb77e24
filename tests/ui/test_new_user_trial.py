"""What a new user's trial of the window found (issue 13): a long line's words and a take's checks
in a narrow takes panel, Regenerate with no line, Open Recent after Save As, the typo hint of a
project opened from disk."""

from __future__ import annotations

from test_take_checks_ui import _checked, _rendered


def test_a_long_line_is_cut_with_an_ellipsis_in_the_takes_title(make_window, qtbot, tmp_path):
    w = make_window()
    words = "That would be Pepper. She waits for me everywhere, even outside the bicycle shop."
    w.editor.setPlainText(f"Alice: {words}\n")
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    title = w.takes.title
    assert title.toolTip() == f"Takes · Alice: {words}"  # whole, for the tooltip
    shown = title.shown_text()
    assert shown.endswith("…") and title.toolTip().startswith(shown[:-1])  # cut where the panel ends
    assert title.fontMetrics().horizontalAdvance(shown) <= title.contentsRect().width()


def test_a_takes_problems_wrap_in_a_narrow_panel(make_window, qtbot, tmp_path):
    w, store = _rendered(make_window, qtbot, tmp_path)
    store.save_check(w.project.line(1).chosen_take, _checked(["missing_words", "runaway_tail", "long_silence"], 0.41))
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.editor.select_utterance(1)
    w.takes_ctl.refresh()
    qtbot.wait(20)
    view = w.takes.list
    item = view.item(0)
    assert "long silence · 0.41" in item.text()
    rect = view.visualItemRect(item)
    assert rect.right() <= view.viewport().width()  # the badge is not cut off at the panel's edge...
    assert view.horizontalScrollBar().maximum() == 0  # ...nor out of sight behind a scroll bar
    lines = 2 + len(item.text().split("\n"))  # more lines than the text has: its problems wrapped
    assert rect.height() >= view.fontMetrics().lineSpacing() * (lines - 1)


def test_regenerate_waits_for_a_line(make_window, qtbot, tmp_path):
    w = make_window()
    regenerate = w.takes.buttons["Regenerate"]
    assert not regenerate.isEnabled()  # an empty project: nothing to regenerate
    w.editor.setPlainText("Alice: Hello.\n\n")
    w.editor.select_utterance(0)
    w.takes_ctl.refresh()
    assert regenerate.isEnabled()
    cursor = w.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    w.editor.setTextCursor(cursor)  # the empty line under it
    w.takes_ctl.refresh()
    assert not regenerate.isEnabled()


def test_save_as_puts_the_project_in_open_recent(make_window, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    assert not w.recent_menu.isEnabled()
    assert w.save_as(tmp_path / "First")
    assert w.recent_menu.isEnabled()
    assert [a.text() for a in w.recent_menu.actions()] == [str(tmp_path / "First.csmproj")]


def test_a_typo_hint_names_its_lines_in_a_project_opened_from_disk(make_window, voice_files, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Bob: Morning.\nAlice: Hi.\nBbo: Sure thing.\n")
    w.speakers_ctl.import_files(voice_files[1:])
    bob_clip = w.library.clips()[0]
    w.library.record_consent(bob_clip.id)
    w.session.assign_clip("Bob", bob_clip.id)
    assert w.save_as(tmp_path / "Typo")
    w.new_project()
    assert w.open_project(tmp_path / "Typo.csmproj")
    assert w.speakers.hint.isVisibleTo(w.speakers)
    assert "(line 3)" in w.speakers.hint_label.text() and "Did you mean Bob?" in w.speakers.hint_label.text()


def test_an_empty_project_says_what_to_do_and_offers_nothing_to_act_on(make_window, qtbot):
    w = make_window()
    w.show()
    qtbot.waitExposed(w)
    assert w.takes.status.isVisible() and "Alice: Hello." in w.takes.status.text()  # not a blank panel
    assert not w.speakers.buttons["Rename"].isEnabled() and not w.speakers.buttons["Remove"].isEnabled()
    assert w.speakers.buttons["Add"].isEnabled()
    assert not w.timeline.scroll.isVisible()  # nothing to scroll along yet
    w.editor.setPlainText("Alice: Hello.\n")
    w.speakers.tree.setCurrentItem(w.speakers.tree.topLevelItem(0))
    assert w.speakers.buttons["Rename"].isEnabled() and w.speakers.buttons["Remove"].isEnabled()


def test_the_timeline_fills_in_while_a_render_runs(make_window, qtbot, tmp_path):
    """Lines rendered so far are on the timeline before the render ends, as in a studio."""
    import time

    from fakes.engine import FakeEngine

    class Slow(FakeEngine):
        def stream(self, *args, **kwargs):
            for chunk in super().stream(*args, **kwargs):
                time.sleep(0.01)
                yield chunk

    w = make_window(engine_factory=lambda: Slow(frames_per_char=1.0))
    w.editor.setPlainText("".join(f"{'Alice' if i % 2 else 'Bob'}: Line number {i} of a scene.\n" for i in range(6)))
    assert w.save_as(tmp_path / "Live")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.timeline_ctl.timeline is not None and len(w.timeline_ctl.timeline.placements) >= 2,
                    timeout=30_000)
    assert w.rendering.job is not None  # still rendering
    assert w.timeline.note.text().endswith("not rendered yet")
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.timeline_ctl.refresh()
    assert len(w.timeline_ctl.timeline.placements) == 6 and w.timeline.note.text() == ""
