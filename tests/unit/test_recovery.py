"""The recovery store: a session's file is offered back only once its app has ended."""

from __future__ import annotations

import json
import subprocess
import sys

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.recovery import RecoveryStore


def test_a_running_session_is_never_offered_and_a_clean_close_leaves_nothing(tmp_path):
    mine, other = RecoveryStore(tmp_path), RecoveryStore(tmp_path)
    mine.start()
    other.start()
    other.write(Project.new("Alice: Unsaved.\n"))
    assert mine.orphans() == []  # the other app still runs (holds its lock)
    other.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.path.with_suffix(".lock").name]


def test_the_work_of_a_killed_process_is_offered_newest_first(tmp_path):
    code = ("import sys, os, time\n"
            "from csm_desktop.dialogue.project import Project\n"
            "from csm_desktop.dialogue.recovery import RecoveryStore\n"
            "store = RecoveryStore(sys.argv[1])\n"
            "p = Project.new(sys.argv[2]); p.folder = None\n"
            "store.write(p)\n"
            "print('written', flush=True)\n"
            "time.sleep(60)\n")
    texts = ["Alice: First.\n", "Bob: Second.\n"]
    for text in texts:
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), text], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "written"
        assert text not in [r.project.script_text for r in RecoveryStore(tmp_path).orphans()]  # alive
        proc.kill()
        proc.wait()
    found = RecoveryStore(tmp_path).orphans()
    assert [r.project.script_text for r in found] == ["Bob: Second.\n", "Alice: First.\n"]
    assert "An untitled project: 1 script line," in found[0].describe()
    store = RecoveryStore(tmp_path)
    store.discard(found[0])
    assert [r.project.script_text for r in store.orphans()] == ["Alice: First.\n"]


def test_a_damaged_file_is_set_aside_not_offered_or_lost(tmp_path):
    (tmp_path / "session-1-abcd.json").write_text("{half a file")
    (tmp_path / "session-2-abcd.json").write_text(json.dumps({"schema_version": 1, "saved_at": 1.0, "folder": None,
                                                              "project": {"schema_version": 1, "script": 5}}))
    assert RecoveryStore(tmp_path).orphans() == []
    assert sorted(p.name for p in tmp_path.glob("*.bad")) == ["session-1-abcd.bad", "session-2-abcd.bad"]


def test_the_project_folder_and_everything_saving_writes_come_back(tmp_path):
    project = Project.new("Alice: Hi.\n")
    project.speaker("Alice").color = "#123456"
    project.line(0).gap_after_ms = 900
    project.folder = tmp_path / "Story.csmproj"
    store = RecoveryStore(tmp_path / "rec")
    store.write(project)
    store._lock.release()  # as if the process had died
    (back,) = RecoveryStore(tmp_path / "rec").orphans()
    assert back.project.folder == project.folder and back.project.to_json() == project.to_json()
