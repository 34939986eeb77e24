"""Main-window behaviour for takes and rendering on the model's lane."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.script import Utterance
from csm_desktop.services.remote import RemoteEngine
from csm_desktop.ui.engine_host import EngineFacts
from csm_desktop.ui.errors import show_error, show_exception
from csm_desktop.ui.playback import PlaybackError


def failure_key(u: Utterance) -> tuple[str, str]:
    """What a failed line is remembered by: its speaker and words (not its place, which edits move)."""
    return u.speaker, u.text


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@dataclass(frozen=True)
class AudioChunk:
    """Streamed audio of line ``line`` (an utterance index), reported by a render job beside its
    :class:`~csm_desktop.dialogue.render.RenderEvent` and status texts."""

    line: int
    audio: np.ndarray  # float32, mono


class RenderingMixin:
    """Part of :class:`~csm_desktop.ui.main_window.MainWindow`."""

    def warm_up_remote(self) -> None:
        """Remote was just chosen: boot a replica now, so the first render need not wait."""
        if (self.settings.engine != "remote" or not self.settings.remote_url or self.job is not None
                or self._warm_job is not None):
            return
        host = self.engine_host

        def job_fn(job):
            engine = host.engine_for(job, only_remote=True)
            return None if engine is None else engine.model_id

        def ended() -> None:
            self._warm_job = None
            self.act_stop.setEnabled(self.job is not None)

        def done(model_id) -> None:
            ended()
            if model_id is not None:
                self.statusBar().showMessage(f"Remote engine ready ({model_id.removeprefix('remote:')}).", 8000)

        def failed(message: str, details: str) -> None:
            ended()
            show_error(self, message, details)

        def cancelled() -> None:
            ended()
            self.statusBar().showMessage("Stopped.", 4000)

        self._warm_job = self.model_tasks.submit(job_fn, "warm-up", on_done=done, on_error=failed,
                                                 on_cancel=cancelled, on_progress=self._show_status)
        self.act_stop.setEnabled(True)  # a cold start can be stopped

    def _show_status(self, text) -> None:
        if isinstance(text, str):
            self.statusBar().showMessage(text)

    # ----- the engine, as the host reports it ---------------------------------------------------------
    def _on_engine_ready(self, facts: EngineFacts) -> None:
        self._planner = facts.planner
        self._show_engine(facts)
        if facts.is_test_model:
            self.banner.setText("Tiny test model: random weights, its output is noise. Choose the real model in "
                                "Settings to hear speech.")
            self.banner.setVisible(True)

    def _on_engine_released(self) -> None:
        """The settings changed and the current job (if any) has ended: forget what the old
        engine said, and wake a remote one now."""
        self._planner = None
        self.banner.setVisible(False)
        self._show_engine(None)
        self.warm_up_remote()

    # ----- takes --------------------------------------------------------------------------------------
    def _show_engine(self, facts: EngineFacts | None) -> None:
        self.engine_label.setText(facts.label if facts else "")
        self.engine_label.setToolTip(facts.tooltip if facts else "")

    def _utterances(self) -> list[Utterance]:
        return [i for i in self.editor.items_by_line.values() if isinstance(i, Utterance)]

    def _show_takes(self, n: int) -> None:
        store, utts = self._store(), self._utterances()
        if store is None or not 0 <= n < len(utts):
            self.takes.show_takes("", [], None)
            self.show_waveform(None)  # no line here: neither takes nor another line's waveform
            return
        u = utts[n]
        chosen = self.project.line(n).chosen_take
        takes = store.takes_for(u.text, u.speaker)
        self.takes.show_takes(f"{u.speaker}: {u.text[:40]}", takes, chosen)
        # The chosen take is shown while it is one of this line's takes (not after its words changed).
        shown = chosen if any(t.key == chosen for t in takes) else None
        self.show_waveform(shown, f"Line {u.line} · {u.speaker}")  # the editor's numbering

    def choose_take(self, key: str) -> None:
        n = self.editor.current_utterance()
        store = self._store()
        info = store.info(key) if store else None
        if n is None or info is None:
            return
        state = self.project.line(n)
        state.chosen_take, state.variant = key, info.variant
        self.set_dirty()
        self.refresh_states()
        self._show_takes(n)

    # ----- rendering ----------------------------------------------------------------------------------
    def _ensure_saved(self) -> bool:
        if self.editor.errors:
            line = min(self.editor.errors)
            show_error(self, f"Fix the script first. Line {line}: {self.editor.errors[line]}")
            return False
        if self.project.folder is None and not self.save_as_dialog():
            return False
        return True

    def render_all(self) -> None:
        self.start_render(None)

    def render_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.start_render([n])

    def regenerate_selected(self) -> None:
        n = self.editor.current_utterance()
        if n is not None:
            self.start_render([n], force=True)

    def start_render(self, lines: list[int] | None, force: bool = False) -> int | None:
        if self.job is not None or not self._ensure_saved():
            return None
        snapshot = copy.deepcopy(self.project)
        self._rendered_copy = snapshot
        self._render_lines = [u.line for u in snapshot.script().utterances]  # events count utterances
        library, factory = self.library, self.engine_factory
        preparing = "Preparing the model…"
        if self.settings.engine == "local" and self.settings.accel == "compile":
            preparing = "Preparing the model (compiling: minutes the first time, faster later)…"

        parallel, host = self.settings.remote_parallel, self.engine_host

        def job_fn(job):
            engine = host.engine_for(job, preparing)
            engines = [engine]
            if isinstance(engine, RemoteEngine):  # one request stream per replica
                engines += [engine.clone() for _ in range(parallel - 1)]
            return render_parallel(snapshot, engines, library=library, lines=lines, on_progress=job.report,
                                   on_chunk=lambda i, c: job.report(AudioChunk(i, c.numpy().astype(np.float32))),
                                   should_stop=job.should_stop, force=force)

        self._job_started = time.monotonic()
        self.job = self.model_tasks.submit(job_fn, "render", on_done=self._on_finished, on_error=self._on_failed,
                                           on_cancel=self._on_cancelled, on_progress=self._on_progress)
        self.act_stop.setEnabled(True)
        self.act_render_all.setEnabled(False)
        self.act_render_sel.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        return self.job

    def stop(self) -> None:
        """Stop the render and a remote warm-up, the running job and any queued behind it."""
        if self.job is not None or self._warm_job is not None:
            self.model_tasks.cancel_all()
            self.statusBar().showMessage("Stopping…")

    def _on_progress(self, event) -> None:
        """A render's news: a status text, streamed audio, or a line's progress."""
        if isinstance(event, str):
            self.statusBar().showMessage(event)
            return
        if isinstance(event, AudioChunk):
            self._on_chunk(event.audio)
            return
        state = {"reused": "done", "stopped": "none"}.get(event.state, event.state)
        self.editor.set_state(event.line, state)
        utterances = self._rendered_copy.script().utterances if self._rendered_copy is not None else []
        if event.state in ("failed", "done", "reused") and 0 <= event.line < len(utterances):
            key = failure_key(utterances[event.line])
            if event.state == "failed":
                self._failed[key] = event.error or "see the message"
            else:
                self._failed.pop(key, None)
        self.progress.setRange(0, max(1, event.lines_total))
        self.progress.setValue(event.lines_done)
        if event.state == "rendering":
            left = ""
            if event.lines_done:
                per_line = (time.monotonic() - self._job_started) / event.lines_done
                left = f" · about {format_duration(per_line * (event.lines_total - event.lines_done))} left"
            self.statusBar().showMessage(f"Rendering line {self._editor_line(event.line)}: {event.seconds:.1f} s of audio "
                                         f"({event.lines_done}/{event.lines_total} lines done){left}")
        elif event.state == "failed":
            self.statusBar().showMessage(f"Line {self._editor_line(event.line)} failed: {event.error}", 8000)

    def _editor_line(self, index: int) -> int:
        """The editor's line number of the rendered script's utterance ``index``."""
        lines = self._render_lines
        return lines[index] if 0 <= index < len(lines) else index + 1

    def _toggle_live(self) -> None:
        self._live_audio = self.act_live.isChecked()

    def _on_chunk(self, audio: np.ndarray) -> None:
        if not self._live_audio:
            return
        try:
            if self.player.playing:
                self.player.append(audio)
            else:
                self.player.play(audio)
        except PlaybackError as exc:
            self._live_audio = False
            self.act_live.setChecked(False)
            show_exception(self, exc)

    def _merge_render(self) -> None:
        """Bring the chosen takes of the rendered copy into the live project (unchanged lines)."""
        copy_ = self._rendered_copy
        if copy_ is None:
            return
        old = copy_.script().utterances
        new = self._utterances()
        for n, (a, b) in enumerate(zip(old, new)):
            if (a.speaker, a.text) == (b.speaker, b.text):
                state = copy_.line(n)
                mine = self.project.line(n)
                if (mine.chosen_take, mine.variant) != (state.chosen_take, state.variant):
                    mine.chosen_take, mine.variant = state.chosen_take, state.variant
                    self.dirty = True
        self._rendered_copy = None

    def _end_job(self) -> None:
        self.job = None
        self.act_stop.setEnabled(self._warm_job is not None)
        self.act_render_all.setEnabled(True)
        self.act_render_sel.setEnabled(True)
        self.progress.setVisible(False)
        self._merge_render()
        if self.project.folder is not None and self.dirty:
            self.save()
        self.refresh_states()
        n = self.editor.current_utterance()
        if n is not None:
            self._show_takes(n)

    def _on_finished(self, report) -> None:
        self._end_job()
        done = len(report.generated)
        msg = f"Rendered {done} line(s); {len(report.reused)} unchanged."
        if report.failed:
            first = min(report.failed)
            show_error(self, f"{len(report.failed)} line(s) failed. Line {self._editor_line(first)}: "
                             f"{report.failed[first]}")
        self.statusBar().showMessage(msg, 6000)

    def _on_failed(self, message: str, details: str) -> None:
        self._end_job()
        show_error(self, message, details)

    def _on_cancelled(self) -> None:
        self._end_job()
        self.statusBar().showMessage("Stopped. Finished lines are kept.", 6000)
