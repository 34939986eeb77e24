"""Voices in a real window: assigning clips from a menu or combo box, speakers with their clips
and colours, audio dropped anywhere, duplicate imports, trimming, typo'd tags, speakers with no
voice before a render, and projects that carry their clips to another machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from csm_desktop.ui.controllers.voice_checks import CANCEL, FIX, RENDER
from csm_desktop.ui.widgets.library_panel import NAME, NO_SPEAKER, SPEAKER


@pytest.fixture(autouse=True)
def _consent_given(monkeypatch):
    """Permission to use each clip's voice is confirmed (the prompt has its own tests in
    test_responsible_voice.py)."""
    import csm_desktop.ui.controllers.speakers as speakers

    def confirmed(parent, library, clip, speaker, then):
        library.record_consent(clip.id)
        then()

    monkeypatch.setattr(speakers, "ask_consent", confirmed)


def _voiced(w, voice_files, speaker="Ben", script="Ben: Hello there.\n"):
    w.editor.setPlainText(script)
    assert w.speakers_ctl.import_files(voice_files[:1]) == []
    clip = w.library.clips()[0]
    w.speakers_ctl.assign_clip(speaker, clip.id)
    return clip


def _files_mime(*paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(widget, mime, pos=QPointF(10, 10)):
    """Drag in, move, drop, as Qt delivers them (through event filters)."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos.toPoint(), *args)
    QApplication.sendEvent(widget, enter)
    move = QDragMoveEvent(pos.toPoint(), *args)
    QApplication.sendEvent(widget, move)
    drop = QDropEvent(pos, *args)
    QApplication.sendEvent(widget, drop)
    return enter, move, drop


# ----- defect 7: audio dropped on the script, a speaker, anywhere -------------------------------------
def test_audio_dropped_on_the_script_is_imported_not_pasted(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Ben: Hello.\n")
    _drop(w.editor.viewport(), _files_mime(voice_files[0]))
    assert w.editor.toPlainText() == "Ben: Hello.\n"
    assert [c.name for c in w.library.clips()] == ["alice"]
    assert [s.name for s in w.project.speakers] == ["Ben"]  # no speaker "file"


def test_audio_dropped_on_a_speaker_is_imported_and_given_to_it(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Ann: Hi.\nBen: Hello.\n")
    tree = w.speakers.tree
    target = tree.visualItemRect(tree.topLevelItem(1)).center()
    _drop(tree.viewport(), _files_mime(voice_files[1]), QPointF(target))
    clip = w.library.clips()[0]
    assert w.project.speaker("Ben").clip_ids == [clip.id] and w.project.speaker("Ann").clip_ids == []
    assert tree.topLevelItem(1).child(0).text(0).startswith("bob")
    w.session.undo_stack.undo()  # the import stays; the assignment is undone
    assert w.project.speaker("Ben").clip_ids == [] and len(w.library.clips()) == 1


def test_audio_dropped_elsewhere_in_the_window_is_imported(make_window, voice_files):
    w = make_window()
    _drop(w, _files_mime(voice_files[0]))
    assert [c.name for c in w.library.clips()] == ["alice"]


def test_text_dragged_within_the_script_still_moves_text(make_window):
    w = make_window()
    mime = QMimeData()
    mime.setText("Ann: dragged.")
    enter, _move, _drop_ = _drop(w.editor.viewport(), mime)
    assert enter.isAccepted()  # the editor's own handling, untouched
    assert w.library.clips() == []


# ----- defect 8: the library's cells and drags ---------------------------------------------------------
def test_the_speaker_cell_assigns_the_clip_undoably(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Ann: Hi.\nBen: Hello.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.clips()[0]
    item = w.library_panel.tree.topLevelItem(0)
    assert item.text(SPEAKER) == NO_SPEAKER
    item.setText(SPEAKER, "Ben")  # what the combo box's choice writes
    assert w.project.speaker("Ben").clip_ids == [clip.id]
    assert w.library_panel.tree.topLevelItem(0).text(SPEAKER) == "Ben"
    w.library_panel.tree.topLevelItem(0).setText(SPEAKER, "Ann")  # a clip is one voice: it moves
    assert w.project.speaker("Ann").clip_ids == [clip.id] and w.project.speaker("Ben").clip_ids == []
    w.library_panel.tree.topLevelItem(0).setText(SPEAKER, NO_SPEAKER)
    assert all(not s.clip_ids for s in w.project.speakers)
    w.session.undo_stack.undo()
    assert w.project.speaker("Ann").clip_ids == [clip.id]


def test_the_speaker_cells_editor_is_a_combo_box_of_the_projects_speakers(make_window, voice_files, qtbot):
    w = make_window()
    w.editor.setPlainText("Ann: Hi.\nBen: Hello.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    tree = w.library_panel.tree
    delegate = tree.itemDelegateForColumn(SPEAKER)
    index = tree.model().index(0, SPEAKER)
    from PySide6.QtWidgets import QStyleOptionViewItem

    box = delegate.createEditor(tree.viewport(), QStyleOptionViewItem(), index)
    assert [box.itemText(i) for i in range(box.count())] == [NO_SPEAKER, "Ann", "Ben"]
    box.setCurrentText("Ben")
    delegate.setModelData(box, tree.model(), index)
    assert w.project.speaker("Ben").clip_ids == [w.library.clips()[0].id]
    assert tree.itemDelegateForColumn(1).createEditor(tree.viewport(), QStyleOptionViewItem(),
                                                      tree.model().index(0, 1)) is None  # length: read-only


def test_a_clip_name_edit_renames_it_undoably(make_window, voice_files):
    w = make_window()
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.clips()[0]
    w.library_panel.tree.topLevelItem(0).setText(NAME, "Ben, calm")
    assert w.library.get(clip.id).name == "Ben, calm"
    w.library_panel.tree.topLevelItem(0).setText(NAME, "   ")  # no name: the old one stays
    assert w.library.get(clip.id).name == "Ben, calm"
    assert w.library_panel.tree.topLevelItem(0).text(NAME) == "Ben, calm"
    w.session.undo_stack.undo()
    assert w.library.get(clip.id).name == "alice"


def test_dragging_a_clip_within_the_library_is_refused_quietly(make_window, voice_files):
    w = make_window()
    w.speakers_ctl.import_files(voice_files)
    tree = w.library_panel.tree
    mime = tree.mimeData([tree.topLevelItem(0)])
    assert mime.hasFormat("application/x-csm-clip")
    enter, move, drop = _drop(tree.viewport(), mime, QPointF(tree.visualItemRect(tree.topLevelItem(1)).center()))
    assert not move.isAccepted() and not drop.isAccepted()  # and no TypeError
    assert tree.topLevelItemCount() == 2


# ----- voices: speakers show clips and colours; the library shows speaker colours ---------------------
def test_speakers_list_their_clips_and_the_library_shows_their_colour(make_window, voice_files):
    w = make_window()
    clip = _voiced(w, voice_files, script="Ann: Hi.\nBen: Hello.\n")
    ben = w.speakers.tree.topLevelItem(1)
    assert ben.childCount() == 1 and ben.child(0).text(0) == "alice  \u00b7  4.0 s  \u00b7  no transcript"
    w.session.edit_transcript(clip.id, "Hello there.")
    ben = w.speakers.tree.topLevelItem(1)
    assert ben.child(0).text(0) == "alice  \u00b7  4.0 s" and ben.child(0).toolTip(0) == "Hello there."
    ann = w.speakers.tree.topLevelItem(0)
    assert "no voice clip" in ann.text(0) and "random voice" in ann.toolTip(0)
    item = w.library_panel.tree.topLevelItem(0)
    assert item.text(SPEAKER) == "Ben"
    color = item.icon(NAME).pixmap(12, 12).toImage().pixelColor(6, 6)
    assert color == QColor(w.project.speaker("Ben").color)
    assert w.library.get(clip.id).speaker == "Ben"


def test_a_new_project_shows_no_speaker_of_the_last_one_on_library_clips(make_window, voice_files):
    w = make_window()
    _voiced(w, voice_files)
    w.session.dirty = False
    w.new_project()
    item = w.library_panel.tree.topLevelItem(0)
    assert item.text(SPEAKER) == NO_SPEAKER
    assert item.icon(NAME).pixmap(12, 12).toImage().pixelColor(6, 6).alpha() == 0  # an outline, no colour


def test_menu_intents_give_and_take_clips(make_window, voice_files):
    w = make_window()
    w.editor.setPlainText("Ann: Hi.\n")
    w.speakers_ctl.import_files(voice_files[:1])
    clip = w.library.clips()[0]
    w.speakers.clip_dropped.emit("Ann", clip.id)  # "Give a voice clip ›" in a speaker's menu
    assert w.project.speaker("Ann").clip_ids == [clip.id]
    w.speakers.unassign_requested.emit("Ann", clip.id)  # "Take this clip from Ann"
    assert w.project.speaker("Ann").clip_ids == []
    assert [c.id for c in w.library.clips()] == [clip.id]  # the clip stays in the library


# ----- duplicates, empty states -------------------------------------------------------------------------
def test_importing_the_same_audio_twice_says_so_and_keeps_one(make_window, voice_files, tmp_path):
    w = make_window()
    w.speakers_ctl.import_files(voice_files[:1])
    again = tmp_path / "alice again.wav"
    again.write_bytes(Path(voice_files[0]).read_bytes())
    assert w.speakers_ctl.import_files([str(again)]) == []
    assert len(w.library.clips()) == 1
    assert "alice again.wav is already in the library as \u201calice\u201d" in w.statusBar().currentMessage()
    assert w.library_panel.selected_clip() == w.library.clips()[0].id


def test_empty_panels_say_what_to_do(make_window):
    w = make_window()
    assert w.speakers.tree.topLevelItemCount() == 0 and "Add" in w.speakers.tree.placeholder
    assert w.library_panel.tree.placeholder.startswith("Drop voice clips here")
    assert not any(b.isEnabled() for b in list(w.library_panel.buttons.values())[1:])  # nothing to play, trim or remove
    assert list(w.library_panel.buttons.values())[0].isEnabled()


# ----- trimming -----------------------------------------------------------------------------------------
class _ScriptedTrim:
    """Stands in for the trim dialog: keeps 0.5-2.5 s."""

    def __init__(self, parent, name, audio, play, stop):
        self.audio = audio

    def exec(self):
        from PySide6.QtWidgets import QDialog

        return QDialog.DialogCode.Accepted

    def selection(self):
        return 0.5, 2.5


def test_trimming_adds_a_copy_used_by_the_speaker_and_keeps_the_original(make_window, voice_files, monkeypatch):
    w = make_window()
    original = _voiced(w, voice_files)
    monkeypatch.setattr(w.speakers_ctl, "trim_dialog", _ScriptedTrim)
    trimmed = w.speakers_ctl.trim_dialog_for(original.id)
    assert abs(trimmed.duration - 2.0) < 0.01
    assert {c.id for c in w.library.clips()} == {original.id, trimmed.id}
    assert w.project.speaker("Ben").clip_ids == [trimmed.id]
    w.session.undo_stack.undo()
    assert w.project.speaker("Ben").clip_ids == [original.id]


def test_the_trim_dialog_handles_play_and_trim_silence(qtbot):
    from csm_desktop.ui.widgets.clip_trimmer import TrimDialog

    audio = np.zeros(24_000 * 3, dtype=np.float32)
    audio[24_000:48_000] = 0.5 * np.sin(np.arange(24_000) / 10)  # speech from 1 s to 2 s
    played = []
    dialog = TrimDialog(None, "ben", audio, play=played.append, stop=lambda: None)
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()  # nothing trimmed yet
    dialog.trim_silence()
    start, end = dialog.selection()
    assert abs(start - 0.9) < 0.02 and abs(end - 2.1) < 0.02 and dialog.ok.isEnabled()
    dialog.play_selection()
    assert len(played[0]) == round((end - start) * 24_000)
    view = dialog.view
    view.resize(600, 140)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(0, 70))  # the start handle, dragged to 0
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(0, 70))
    assert dialog.selection()[0] == 0.0
    assert "Keep 0.00 s" in dialog.readout.text()


# ----- defect 6: near-miss tags --------------------------------------------------------------------------
def test_a_mistyped_tag_is_offered_its_fix(make_window, voice_files):
    w = make_window()
    _voiced(w, voice_files)
    w.editor.setPlainText("Ben: Hello there.\nBne: Oops.\n")
    assert w.speakers.hint.isVisibleTo(w.speakers)
    assert w.speakers.hint_label.text() == "\u201cBne\u201d (line 2) has no voice clip. Did you mean Ben?"
    assert "did you mean Ben?" in w.speakers.tree.topLevelItem(1).text(0)
    w.speakers.hint_fix.click()
    assert w.editor.toPlainText() == "Ben: Hello there.\nBen: Oops.\n"
    assert [s.name for s in w.project.speakers] == ["Ben"]
    assert not w.speakers.hint.isVisibleTo(w.speakers)
    w.session.undo_stack.undo()
    assert w.editor.toPlainText() == "Ben: Hello there.\nBne: Oops.\n"


def test_keep_dismisses_the_hint(make_window, voice_files):
    w = make_window()
    _voiced(w, voice_files)
    w.editor.setPlainText("Ben: Hello there.\nBe: A new speaker called Be.\n")
    w.speakers.hint_keep.click()
    assert not w.speakers.hint.isVisibleTo(w.speakers)
    assert w.editor.toPlainText().endswith("Be: A new speaker called Be.\n")


# ----- defect 11: speakers with no voice, said before rendering -----------------------------------------
def test_rendering_a_speaker_with_no_voice_asks_first(make_window, voice_files, tmp_path, qtbot):
    w = make_window()
    _voiced(w, voice_files, script="Ben: Hello there.\nAnn: Hi Ben.\n")
    assert w.save_as(tmp_path / "Show")
    asked = []
    w.voice_check.ask = lambda fixes, voiceless: asked.append(([f.tag for f in fixes], [(v.name, v.lines) for v in voiceless])) or CANCEL
    assert w.rendering.start_render(None) is None
    assert asked == [([], [("Ann", (2,))])]
    assert w.rendering.start_render([0]) is not None  # Ben's line alone: nothing to ask
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    w.voice_check.ask = lambda fixes, voiceless: asked.append("again") or RENDER
    assert w.rendering.start_render(None) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert w.rendering.start_render(None, force=True) is not None  # "Render anyway" is remembered
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)
    assert asked[1:] == ["again"]


def test_fix_tags_before_rendering(make_window, voice_files, tmp_path, qtbot):
    w = make_window()
    _voiced(w, voice_files, script="Ben: Hello there.\nBne: Oops.\n")
    assert w.save_as(tmp_path / "Show")
    w.voice_check.ask = lambda fixes, voiceless: FIX if [f.question() for f in fixes] == [
        "\u201cBne\u201d (line 2): did you mean Ben?"] and voiceless == [] else CANCEL
    assert w.rendering.start_render(None) is not None
    assert w.editor.toPlainText() == "Ben: Hello there.\nBen: Oops.\n"
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=30_000)


# ----- portable projects ------------------------------------------------------------------------------------
def test_a_project_opened_on_another_machine_brings_its_voices(make_window, voice_files, tmp_path):
    from csm_desktop.dialogue.voices import VoiceLibrary

    w = make_window()
    clip = _voiced(w, voice_files)
    assert w.save_as(tmp_path / "Show")
    assert (tmp_path / "Show.csmproj" / "voices" / f"{clip.id}.wav").is_file()
    other = make_window()
    other.session.library = VoiceLibrary(tmp_path / "elsewhere")  # another machine's empty library
    assert other.open_project(tmp_path / "Show.csmproj")
    assert [c.id for c in other.library.clips()] == [clip.id]
    assert other.library.get(clip.id).audio_hash == clip.audio_hash
    assert other.speakers.tree.topLevelItem(0).child(0).text(0).startswith("alice")
    assert other.library_panel.tree.topLevelItem(0).text(SPEAKER) == "Ben"
    assert "Added 1 voice clip from the project" in other.statusBar().currentMessage()
    assert not other.dirty
