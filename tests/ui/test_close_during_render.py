"""Closing the window during a render: the render stops within a frame, the finished takes are
kept, the model's thread ends, and the window's close returns promptly."""

from __future__ import annotations

import time

from fakes.engine import FakeEngine

SCRIPT = "\n".join(f"Bob: This is sentence number {i} of a long script." for i in range(12))


def test_closing_during_a_render_stops_it_promptly(make_window, qtbot, tmp_path):
    seen_stop = []

    class Slow(FakeEngine):
        def stream(self, *a, should_stop=None, **k):
            for chunk in super().stream(*a, should_stop=should_stop, **k):
                time.sleep(0.02)
                if should_stop is not None and should_stop():
                    seen_stop.append(time.perf_counter())
                yield chunk

    w = make_window(lambda: Slow(frames_per_char=1))
    w.editor.setPlainText(SCRIPT)
    assert w.save_as(tmp_path / "Closing")
    assert w.rendering.start_render(None) is not None
    takes = w.project.takes_dir

    def records():  # a take's record, not its checks (<key>.check.json)
        return [p for p in takes.glob("*.json") if not p.name.endswith(".check.json")]

    qtbot.waitUntil(lambda: len(records()) >= 1, timeout=30_000)
    t = time.perf_counter()
    w.session.dirty = False  # nothing unsaved to ask about
    assert w.close()
    assert time.perf_counter() - t < 5, "closing waited for the render"
    assert not w.model_tasks.thread.isRunning()
    done = len(records())
    time.sleep(0.5)
    assert len(records()) == done  # nothing rendered after the close
    assert 1 <= done < 12
