"""The project session (one owner of project, dirty state, library edits and undo) and the
controllers around it, through a real window."""

from __future__ import annotations

import threading


def test_editing_a_transcript_is_undoable_like_a_speaker_edit(make_window, voice_files):
    w = make_window()
    assert w.speakers_ctl.import_files(voice_files[:1]) == []
    clip = w.library.clips()[0]
    w.library_panel.transcript_edited.emit(clip.id, "Hello from Alice.")  # as the panel's editor does
    assert w.library.get(clip.id).transcript == "Hello from Alice."
    w.session.undo_stack.undo()
    assert w.library.get(clip.id).transcript == clip.transcript
    w.session.undo_stack.redo()
    assert w.library.get(clip.id).transcript == "Hello from Alice."


def test_undoing_back_to_what_was_saved_clears_the_unsaved_mark(make_window, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.save_as(tmp_path / "Clean")
    assert not w.dirty and not w.windowTitle().startswith("*")
    w.session.add_speaker("Carol")
    assert w.dirty and w.windowTitle().startswith("*")
    w.session.undo_stack.undo()
    assert not w.dirty and not w.windowTitle().startswith("*")
    w.editor.setFocus()
    w.editor.moveCursor(w.editor.textCursor().MoveOperation.End)
    w.editor.insertPlainText("Bob: Hi.\n")  # typing: the editor's own undo
    assert w.dirty
    w.editor.undo()
    assert w.editor.toPlainText() == "Alice: Hello.\n"
    assert not w.dirty and not w.windowTitle().startswith("*")


def test_renaming_a_speaker_renames_its_lines_and_undo_brings_both_back(make_window):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\nAlice: Bye.\n")
    w.session.rename_speaker("Alice", "Ann")
    assert w.editor.toPlainText() == "Ann: Hello.\nBob: Hi.\nAnn: Bye.\n"
    assert [s.name for s in w.project.speakers] == ["Ann", "Bob"]
    assert w.speakers.tree.topLevelItemCount() == 2
    w.session.undo_stack.undo()
    assert w.editor.toPlainText() == "Alice: Hello.\nBob: Hi.\nAlice: Bye.\n"
    assert [s.name for s in w.project.speakers] == ["Alice", "Bob"]


def test_removing_a_clip_takes_it_from_its_speaker_and_forgets_edits_of_it(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.record_consent(w.library.clips()[0].id)  # permission given before
    w.speakers_ctl.assign_clip("Alice", clip.id)
    w.speakers_ctl.remove_clip(clip.id)
    assert w.library.clips() == [] and w.project.speaker("Alice").clip_ids == []
    assert w.session.undo_stack.count() == 0  # undo cannot bring back a deleted file's edits
    assert w.library_panel.tree.topLevelItemCount() == 0


def test_line_states_are_planned_off_the_gui_thread(make_window, qtbot, tmp_path, plan_states, monkeypatch):
    from csm_desktop.dialogue.render import Renderer

    threads = []
    plan = Renderer.plan

    def recording(self, *args, **kwargs):
        threads.append(threading.current_thread())
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(Renderer, "plan", recording)
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "States")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    threads.clear()  # the render planned on the model's lane
    assert plan_states(w) == ["done", "done"]
    assert threads and threading.main_thread() not in threads
    w.editor.setPlainText("Alice: Hello.\nBob: Hi there.\n")
    qtbot.waitUntil(lambda: w.editor.states == ["done", "stale"], timeout=5000)  # after typing pauses


def test_a_newer_plan_wins_over_an_older_one_that_ends_later(make_window, qtbot, tmp_path, monkeypatch):
    """Planning runs beside the GUI: a slow plan of old text must not overwrite a newer one."""
    from csm_desktop.dialogue.render import Renderer

    w = make_window()
    w.editor.setPlainText("Alice: Hello.\n")
    assert w.save_as(tmp_path / "Race")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    release = threading.Event()
    statuses = Renderer.statuses

    def slow_first(self):
        if not release.is_set():
            release.wait(5)
            return ["stale"]  # what the old text would have said
        return statuses(self)

    monkeypatch.setattr(Renderer, "statuses", slow_first)
    w.rendering.refresh_states()  # the slow, old plan
    with qtbot.waitSignal(w.rendering.states_planned, timeout=10_000):
        release.set()
        w.rendering.refresh_states()
    qtbot.wait(200)
    assert w.editor.states == ["done"]


def test_a_burst_of_state_requests_is_planned_once_after_the_running_plan(make_window, qtbot, tmp_path,
                                                                          monkeypatch):
    """A render's end asks for line states several times at once, and typing more: each plan
    reads every line's take records, so one plan runs at a time and the requests made meanwhile
    are planned once, when it ends (a soak's round took twice as long planning every request)."""
    from csm_desktop.ui.controllers import rendering

    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Burst")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    qtbot.waitUntil(lambda: not w.rendering._states_planning, timeout=10_000)
    release, plans = threading.Event(), []
    statuses = rendering.line_statuses

    def slow(*args):
        plans.append(args[0].script_text)
        release.wait(5)
        return statuses(*args)

    monkeypatch.setattr(rendering, "line_statuses", slow)
    for _ in range(5):
        w.rendering.refresh_states()
    w.session.set_script_text("Alice: Hello.\nBob: Hi there.\n")
    w.rendering.refresh_states()
    with qtbot.waitSignal(w.rendering.states_planned, timeout=10_000):
        release.set()
    qtbot.waitUntil(lambda: not w.rendering._states_planning, timeout=10_000)
    assert plans == ["Alice: Hello.\nBob: Hi.\n", "Alice: Hello.\nBob: Hi there.\n"]
    assert w.editor.states[0] == "done"


def test_a_takes_waveform_icon_is_made_once_while_its_line_is_browsed(make_window, qtbot, tmp_path):
    """Qt keeps every icon pixmap it paints in QPixmapCache: an icon made afresh at each visit to
    a line filled that cache with copies of the same waveforms."""
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Icons")
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.editor.select_utterance(0)
    first = w.takes.list.item(0).icon().cacheKey()
    w.editor.select_utterance(1)
    w.editor.select_utterance(0)
    assert w.takes.list.item(0).icon().cacheKey() == first


def test_the_takes_panel_follows_the_cursor_and_choosing_goes_through_the_session(make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Takes")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.editor.select_utterance(1)
    first = w.project.line(1).chosen_take
    w.rendering.regenerate_selected()
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.takes.list.count() == 2 and w.project.line(1).chosen_take != first
    w.takes.choose_requested.emit(first)
    assert w.project.line(1).chosen_take == first and w.dirty
    assert w.waveform.key == first


def test_a_line_typed_above_during_a_render_does_not_lose_the_rendered_takes(make_window, qtbot, tmp_path):
    import threading

    from fakes.engine import FakeEngine

    gate = threading.Event()

    class Held(FakeEngine):
        def stream(self, *args, **kwargs):
            gate.wait(10)
            yield from super().stream(*args, **kwargs)

    w = make_window(engine_factory=Held)
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Moved")
    assert w.rendering.start_render(None) is not None
    w.editor.setPlainText("Carol: A new first line.\nAlice: Hello.\nBob: Hi.\n")  # while it renders
    gate.set()
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.project.line(0).chosen_take is None  # Carol's line was never rendered
    assert w.project.line(1).chosen_take and w.project.line(2).chosen_take


def test_a_rendered_lines_take_stays_with_it_when_a_line_is_typed_above_or_deleted_and_undone(
        make_window, qtbot, tmp_path):
    w = make_window()
    w.editor.setPlainText("Alice: Hello.\nBob: Hi.\n")
    assert w.save_as(tmp_path / "Follow")
    w.rendering.start_render(None)
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    alice, bob = w.project.line(0).chosen_take, w.project.line(1).chosen_take
    w.editor.setFocus()
    w.editor.moveCursor(w.editor.textCursor().MoveOperation.Start)
    w.editor.insertPlainText("Carol: First.\n")  # typed above both
    assert w.project.line(0).chosen_take is None
    assert (w.project.line(1).chosen_take, w.project.line(2).chosen_take) == (alice, bob)
    w.editor.undo()
    assert (w.project.line(0).chosen_take, w.project.line(1).chosen_take) == (alice, bob)
    assert not w.dirty  # back to what was saved
