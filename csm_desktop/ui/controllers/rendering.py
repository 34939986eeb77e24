"""Rendering on the model's lane, and the line states in the editor's gutter.

A render works on a copy of the project (the user keeps typing); when it ends, the session takes
the chosen takes of the lines whose words are unchanged. Line states are planned on the side pool
from a copy of the project and the facts the engine host gave: the GUI thread never plans, and
never calls the engine.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar

from csm_desktop.dialogue.checking import problem_lines
from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.script import Utterance, parse_lines
from csm_desktop.dialogue.staleness import LineStatus, line_statuses, with_problems
from csm_desktop.errors import CsmError
from csm_desktop.memory import release_free_memory
from csm_desktop.services.recognizers import make_recognizer
from csm_desktop.services.remote import RemoteEngine
from csm_desktop.ui.consent import ask_missing_consent
from csm_desktop.ui.engine_host import EngineFacts, EngineHost, PlanningView, expected_engine
from csm_desktop.ui.widgets.editor import ScriptEditor
from csm_desktop.ui.errors import show_error
from csm_desktop.ui.session import ProjectSession
from csm_desktop.ui.tasks import Job, ModelTasks, NetworkTasks
from csm_desktop.wording import count_of

STATES_DELAY_MS = 300  # line states are planned again once typing pauses
TEST_MODEL_BANNER = ("Tiny test model: random weights, its output is noise. Choose the real model in Settings "
                     "(or Edit › Model setup…) to hear speech.")


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


class RenderController(QObject):
    busy_changed = Signal(bool, bool)  # a render runs; something can be stopped
    audio_streamed = Signal(object)  # np.ndarray: a render's audio as it is made
    states_planned = Signal()  # the gutter shows freshly planned states
    render_ended = Signal(object)  # the RenderReport of a finished render; None: stopped or failed
    # The project copy a render works on, each time it finished a line (its takes join the session's
    # project when the render ends; the timeline shows them already).
    line_rendered = Signal(object)

    def __init__(self, session: ProjectSession, editor: ScriptEditor, model_tasks: ModelTasks,
                 side_tasks: NetworkTasks, engine_host: EngineHost, window: QMainWindow, *,
                 progress: QProgressBar, banner: QLabel, engine_label: QLabel,
                 save_as: Callable[[], bool]) -> None:
        super().__init__(window)
        self.session = session
        self.editor = editor
        self.model_tasks = model_tasks
        self.side_tasks = side_tasks
        self.engine_host = engine_host
        self.window = window  # the parent of its messages; its status bar tells news
        self.progress = progress
        self.banner = banner
        self.engine_label = engine_label
        self._save_as = save_as  # asks where to save a project that has no folder yet
        # Asked before a render (the lines to render, None: all); any False stops it. The window
        # adds them (e.g. "these speakers have no voice clip").
        self.checks: list[Callable[[list[int] | None], bool]] = []
        self.job: Job | None = None  # the render running on the model's lane
        self.warm_job: Job | None = None  # waking a remote engine (see warm_up_remote)
        self._rendered_copy = None
        self._render_lines: list[int] = []  # editor line of each utterance of the script being rendered
        self._failed: dict[tuple[str, str], str] = {}  # failure_key of a line whose last render failed -> why
        self._planner: PlanningView | None = None  # how the loaded engine plans lines
        self._started = 0.0
        self._states_wanted = 0  # bumped per request: only the latest plan is shown
        self._states_planning = False  # a plan runs on the side pool
        self._states_timer = QTimer(self)
        self._states_timer.setSingleShot(True)
        self._states_timer.setInterval(STATES_DELAY_MS)
        self._states_timer.timeout.connect(self.refresh_states)
        engine_host.ready.connect(self._on_engine_ready)
        engine_host.released.connect(self._on_engine_released)
        session.edited.connect(self._states_timer.start)
        for signal in (session.project_replaced, session.library_changed, session.takes_changed):
            signal.connect(self.refresh_states)
        self.show_expected_engine()

    def _say(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _busy(self) -> None:
        self.busy_changed.emit(self.job is not None, self.job is not None or self.warm_job is not None)

    # ----- the engine, as the host reports it -----------------------------------------------------
    def _show_engine(self, label: str, tooltip: str, test_model: bool) -> None:
        """The engine label and the test-model banner: always set together, both ways."""
        self.engine_label.setText(label)
        self.engine_label.setToolTip(tooltip)
        self.banner.setText(TEST_MODEL_BANNER if test_model else "")
        self.banner.setVisible(test_model)

    def show_expected_engine(self) -> None:
        """No engine is loaded: say what the settings will load (the banner too, for the test model)."""
        self._show_engine(*expected_engine(self.session.settings))

    def _on_engine_ready(self, facts: EngineFacts) -> None:
        self._planner = facts.planner
        self._show_engine(facts.label, facts.tooltip, facts.is_test_model)
        self.refresh_states()

    def _on_engine_released(self) -> None:
        """The settings changed and the current job (if any) has ended: forget what the old
        engine said, show what the new settings will load, and wake a remote one now."""
        self._planner = None
        self.show_expected_engine()
        self.warm_up_remote()

    def settings_changed(self) -> None:
        """The engine host releases the engine after the running job (a render keeps its
        engine), and the next job loads the one the settings ask for."""
        self.engine_host.settings_changed()

    def warm_up_remote(self) -> None:
        """Remote was just chosen: boot a replica now, so the first render need not wait."""
        settings = self.session.settings
        if settings.engine != "remote" or not settings.remote_url or self.job is not None or self.warm_job is not None:
            return
        host = self.engine_host

        def job_fn(job):
            engine = host.engine_for(job, only_remote=True)
            return None if engine is None else engine.model_id

        def ended() -> None:
            self.warm_job = None
            self._busy()

        def done(model_id) -> None:
            ended()
            if model_id is not None:
                self._say(f"Remote engine ready ({model_id.removeprefix('remote:')}).", 8000)

        def failed(message: str, details: str) -> None:
            ended()
            show_error(self.window, message, details)

        def cancelled() -> None:
            ended()
            self._say("Stopped.", 4000)

        self.warm_job = self.model_tasks.submit(job_fn, "warm-up", on_done=done, on_error=failed,
                                                on_cancel=cancelled, on_progress=self._show_status)
        self._busy()  # a cold start can be stopped

    def _show_status(self, text) -> None:
        if isinstance(text, str):
            self._say(text)

    # ----- line states -------------------------------------------------------------------------------
    def refresh_states(self) -> None:
        """Plan every line's state on the side pool (the GUI thread stays free while a long
        script's take files are read); the newest request wins. One plan runs at a time: a
        request while one runs is planned once it ends (a render's end asks several times at
        once, and every plan reads the takes' records of the whole script)."""
        self._states_timer.stop()
        self._states_wanted += 1
        if self._states_planning:
            return  # planned again, from the project as it is then, when the running plan ends
        self._states_planning = True
        wanted = self._states_wanted
        project = copy.deepcopy(self.session.project)
        planner, library = self._planner, self.session.library
        # From the project itself, not the editor: a project just opened is planned before the
        # editor shows its text (its lines with takes would show none, Play and Export stay off).
        items, errors = parse_lines(project.script_text)
        parse_ok = not errors
        count = sum(isinstance(i, Utterance) for i in items)

        def plan(job):
            store = self.session.store_of(project)
            if not parse_ok:  # the words of a line may not be what the editor shows: only takes or none
                return [LineStatus("done" if store and (k := project.line(n).chosen_take) and store.has(k)
                                   else "none") for n in range(count)]
            try:
                statuses = line_statuses(project, store, library, planner)
            except CsmError:  # planning refused (the render says why): judge from the takes' records
                statuses = line_statuses(project, store, library, None)
            return with_problems(statuses, project, store)

        def ended() -> bool:
            """Whether this plan is the newest; else the newest is planned now."""
            self._states_planning = False
            if wanted == self._states_wanted:
                return True
            self.refresh_states()
            return False

        def show(statuses) -> None:
            if ended() and self.job is None:
                self._show_states(statuses)

        self.side_tasks.submit(plan, "line states", on_done=show, on_error=lambda *_: ended(),
                               on_cancel=self._planning_cancelled)

    def _planning_cancelled(self) -> None:
        self._states_planning = False  # the window is closing: nothing is planned again

    def _show_states(self, statuses: list[LineStatus]) -> None:
        # A line whose last render failed says so, and why (until its text changes or it renders);
        # an out-of-date line says why it is.
        states, notes, problems = [s.state for s in statuses], {}, {}
        for n, u in enumerate(self.editor.utterances()[: len(states)]):
            why = self._failed.get(failure_key(u))
            if why is not None:
                states[n] = "failed"
                notes[u.line] = f"Failed: {why}"
            elif statuses[n].note:
                notes[u.line] = statuses[n].note
            if statuses[n].problems and states[n] != "failed":
                problems[u.line] = statuses[n].problems
        self.editor.set_states(states, notes, problems)
        self.states_planned.emit()

    # ----- rendering -------------------------------------------------------------------------------
    def _ready_to_render(self, lines: list[int] | None) -> bool:
        if self.editor.errors:
            line = min(self.editor.errors)
            show_error(self.window, f"Fix the script first. Line {line}: {self.editor.errors[line]}")
            return False
        if not all(check(lines) for check in self.checks):
            return False
        return self.session.project.folder is not None or self._save_as()

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

    def redo_problems(self) -> Job | None:
        """Render again, with a new seed each, the lines whose chosen take's checks found
        problems; a new take replaces the old one only when it scores better."""
        store = self.session.store()
        lines = sorted(problem_lines(self.session.project, store)) if store is not None else []
        if not lines:
            self._say("No line's take has problems (lines not checked yet are checked when they render).", 8000)
            return None
        return self.start_render(lines, force=True, keep_better=True)

    def start_render(self, lines: list[int] | None, force: bool = False, keep_better: bool = False) -> Job | None:
        if self.job is not None or not self._ready_to_render(lines):
            return None
        if ask_missing_consent(self.window, self.session.library, self.session.project,
                               lambda: self.start_render(lines, force, keep_better)):
            return None  # the render starts once permission to use the voice is confirmed
        snapshot = copy.deepcopy(self.session.project)
        self._rendered_copy = snapshot
        self._render_lines = [u.line for u in snapshot.script().utterances]  # events count utterances
        settings, library, host = self.session.settings, self.session.library, self.engine_host
        preparing = "Preparing the model…"
        if settings.engine == "local" and settings.accel == "compile":
            preparing = "Preparing the model (compiling: minutes the first time, faster later)…"
        parallel = settings.remote_parallel
        recognizer_kind, whisper_model = settings.recognizer, settings.whisper_model

        def job_fn(job):
            engine = host.engine_for(job, preparing)
            engines = [engine]
            if isinstance(engine, RemoteEngine):  # one request stream per replica
                engines += [engine.clone() for _ in range(parallel - 1)]
            recognizer = make_recognizer(recognizer_kind, whisper_model=whisper_model, should_stop=job.should_stop,
                                         on_progress=lambda p: job.report(
                                             f"Downloading the speech recognizer: {p.done / 1e6:.0f} of "
                                             f"{p.total / 1e6:.0f} MB"))
            return render_parallel(snapshot, engines, library=library, lines=lines, on_progress=job.report,
                                   on_chunk=lambda i, c: job.report(AudioChunk(i, c.numpy().astype(np.float32))),
                                   should_stop=job.should_stop, force=force, keep_better=keep_better,
                                   recognizer=recognizer)

        self._started = time.monotonic()
        self.job = self.model_tasks.submit(job_fn, "render", on_done=self._on_finished, on_error=self._on_failed,
                                           on_cancel=self._on_cancelled, on_progress=self._on_progress)
        self._busy()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        return self.job

    def stop(self) -> None:
        """Stop the render and a remote warm-up, the running job and any queued behind it."""
        if self.job is not None or self.warm_job is not None:
            self.model_tasks.cancel_all()
            self._say("Stopping…")

    def _on_progress(self, event) -> None:
        """A render's news: a status text, streamed audio, or a line's progress."""
        if isinstance(event, str):
            self._say(event)
            return
        if isinstance(event, AudioChunk):
            self.audio_streamed.emit(event.audio)
            return
        if event.state == "checked":  # a take's checks (stored beside it) are no line state: its badges
            self.session.takes_stored()
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
                self.line_rendered.emit(self._rendered_copy)
        self.progress.setRange(0, max(1, event.lines_total))
        self.progress.setValue(event.lines_done)
        if event.state == "rendering":
            left = ""
            if event.lines_done:
                per_line = (time.monotonic() - self._started) / event.lines_done
                left = f" · about {format_duration(per_line * (event.lines_total - event.lines_done))} left"
            self._say(f"Rendering line {self._editor_line(event.line)}: {event.seconds:.1f} s of audio "
                      f"({event.lines_done}/{event.lines_total} lines done){left}")
        elif event.state == "failed":
            self._say(f"Line {self._editor_line(event.line)} failed: {event.error}", 8000)

    def _editor_line(self, index: int) -> int:
        """The editor's line number of the rendered script's utterance ``index``."""
        lines = self._render_lines
        return lines[index] if 0 <= index < len(lines) else index + 1

    def _end_job(self) -> None:
        self.job = None
        self._busy()
        self.progress.setVisible(False)
        rendered, self._rendered_copy = self._rendered_copy, None
        if rendered is not None:
            self.session.merge_render(rendered, [(u.speaker, u.text) for u in self.editor.utterances()])
        if self.session.project.folder is not None and self.session.dirty:
            try:
                self.session.save()
            except (CsmError, OSError) as exc:
                show_error(self.window, f"The project could not be saved: {exc}")
        self.session.takes_stored()  # new takes to list, and states to plan
        release_free_memory()  # what the render's threads freed inside their heaps (see csm_desktop.memory)

    def _on_finished(self, report) -> None:
        self._end_job()
        msg = f"Rendered {count_of(len(report.generated), 'line')}; {len(report.reused)} unchanged."
        if report.failed:
            first = min(report.failed)
            show_error(self.window, f"{count_of(len(report.failed), 'line')} failed. Line {self._editor_line(first)}: "
                                    f"{report.failed[first]}")
        self._say(msg, 6000)
        self.render_ended.emit(report)

    def _on_failed(self, message: str, details: str) -> None:
        self._end_job()
        show_error(self.window, message, details)
        self.render_ended.emit(None)

    def _on_cancelled(self) -> None:
        self._end_job()
        self._say("Stopped. Finished lines are kept.", 6000)
        self.render_ended.emit(None)
