"""Soak: hours of normal use of the window, compressed, with a fake engine.

A 40-line project is rendered, browsed line by line, typed into, regenerated and repainted
over and over: several hundred thousand Qt calls that return nothing. The process must stay
up, its memory flat and the reference counts of ``None``, ``True`` and ``False`` whole (PySide6
6.12.0 on Python 3.11 lost one per such call and the window died with "none_dealloc" within
minutes).

The session runs in a child process, so that a fatal error is reported as a failure with its
output instead of killing the test run: the test starts itself again with ``SOAK_CHILD`` set.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from csm_desktop.memory import release_free_memory
from fakes.engine import FakeEngine

SOAK_CHILD = "CSM_DESKTOP_SOAK_CHILD"
ROUNDS = 6  # after a warm-up round
SPEAKERS = ("Alice", "Bob", "Carol", "Dave")
SCRIPT = "".join(f"{SPEAKERS[n % 4]}: Line {n + 1}, a sentence of ordinary length for a dialogue.\n"
                 for n in range(40))
MAX_RSS_GROWTH_MB = 40  # the warm-up round already loaded everything a session needs
MAX_REFCOUNT_LOSS = 1_000  # one round of the 6.12.0 bug took tens of thousands off None


class _ForgetfulEngine(FakeEngine):
    """The fake engine records every call with its context audio; a session must not keep that."""

    def stream(self, *args, **kwargs):
        self.calls.clear()
        yield from super().stream(*args, **kwargs)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _render(qtbot, w, lines=None, force=False) -> None:
    assert w.rendering.start_render(lines, force=force) is not None
    qtbot.waitUntil(lambda: w.rendering.job is None, timeout=60_000)
    assert all(state == "done" for state in w.editor.states), w.editor.states


def _browse(qtbot, w) -> None:
    """Select every line, watch its waveform play, repaint what a user looks at."""
    for n in range(40):
        w.editor.select_utterance(n)
        w.transport.play_selected()
        duration = w.waveform.duration
        for step in range(30):  # the playhead moving across the take
            w.waveform.set_playhead(duration * step / 30)
            w.progress.setValue(step)
            w.statusBar().showMessage(f"Playing line {n + 1}")
        w.waveform.repaint()
        w.editor.viewport().repaint()
        w.takes.repaint()
        qtbot.wait(1)
    w.repaint()


def _type(qtbot, w, lines: list[int]) -> None:
    """Add a word at the end of some lines, key by key, then render what that made stale."""
    for n in lines:
        w.editor.select_utterance(n)
        w.editor.moveCursor(QTextCursor.MoveOperation.EndOfBlock)
        qtbot.keyClicks(w.editor, " Again")
        qtbot.keyClick(w.editor, Qt.Key.Key_Backspace)
        qtbot.keyClicks(w.editor, "n")
    with qtbot.waitSignal(w.rendering.states_planned, timeout=10_000):  # planned off the GUI thread
        w.rendering.refresh_states()
    assert "stale" in w.editor.states
    _render(qtbot, w)


def _regenerate(qtbot, w, lines: list[int]) -> None:
    """Regenerate some lines, then go back to the take chosen before."""
    for n in lines:
        w.editor.select_utterance(n)
        first = w.project.line(n).chosen_take
        w.rendering.regenerate_selected()
        qtbot.waitUntil(lambda: w.rendering.job is None, timeout=60_000)
        assert w.project.line(n).chosen_take != first
        w.editor.select_utterance(n)
        w.takes_ctl.choose_take(first)


def _use(qtbot, w, r: int) -> None:
    """One stretch of normal use."""
    _render(qtbot, w, force=True)
    _browse(qtbot, w)
    _type(qtbot, w, [(r * 7 + k) % 40 for k in (0, 13, 26)])
    _regenerate(qtbot, w, [(r * 11 + k) % 40 for k in (3, 17, 31)])
    w.timeline_ctl.play_all()
    w.player.played.clear()  # the silent player keeps all it was asked to play


def _session(qtbot, w, folder) -> str:
    w.editor.setPlainText(SCRIPT)
    assert len(w.editor.utterance_lines) == 40
    assert w.save_as(folder)
    w.show()
    qtbot.waitExposed(w)

    def sample() -> tuple[float, list[int]]:
        QApplication.processEvents()
        gc.collect()
        # Memory the session holds, not the allocator's free holes: what gc has just freed
        # stays in glibc's heaps until trimmed (the window trims after each render, as here).
        release_free_memory()
        return _rss_mb(), [sys.getrefcount(obj) for obj in (None, True, False)]

    _use(qtbot, w, 0)  # warm-up: the engine, takes, fonts and caches are loaded now
    rss_start, refs_start = sample()
    started = time.perf_counter()
    for r in range(1, ROUNDS + 1):
        _use(qtbot, w, r)
    rss_end, refs_end = sample()
    summary = (f"soak: {ROUNDS} rounds in {time.perf_counter() - started:.1f} s, RSS {rss_start:.1f} -> "
               f"{rss_end:.1f} MiB, refcounts of None, True, False {refs_start} -> {refs_end}")
    lost = {name: a - b for name, a, b in zip(("None", "True", "False"), refs_start, refs_end)}
    assert max(lost.values()) < MAX_REFCOUNT_LOSS, f"Qt calls took references off {lost}: {summary}"
    assert rss_end - rss_start < MAX_RSS_GROWTH_MB, f"memory grows with use: {summary}"
    return summary


@pytest.mark.slow
def test_window_survives_hours_of_use(make_window, qtbot, tmp_path, request):
    if os.environ.get(SOAK_CHILD):
        print(_session(qtbot, make_window(_ForgetfulEngine), tmp_path / "Soak"))
        return
    env = {**os.environ, SOAK_CHILD: "1"}
    child = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                            f"{request.node.path}::{request.node.name}"],
                           cwd=request.config.rootpath, env=env, capture_output=True, text=True, timeout=600)
    output = "\n".join(line for line in (child.stdout + child.stderr).splitlines()
                       if "propagateSizeHints" not in line)  # the offscreen platform's chatter
    assert child.returncode == 0, f"the long session failed (exit status {child.returncode}):\n{output[-6000:]}"
    print(next(line for line in output.splitlines() if line.startswith("soak:")))
