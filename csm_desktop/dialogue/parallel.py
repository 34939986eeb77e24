"""Rendering independent scenes at once: one worker thread per engine, one scene at a time each.

Context never crosses a ``[scene]`` marker and a line's seed comes from the line, so a scene
renders to the same takes whichever engine renders it, and whenever: N replicas of one model
(N :class:`~csm_desktop.services.remote.RemoteEngine` clients of a Cerebrium deployment, say)
render N scenes at a time and leave the takes one engine would have left, one line after another.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

import torch

from csm_desktop.dialogue.checking import TakeChecker, speaker_clips
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import RenderEvent, Renderer, RenderReport, SpeechEngine
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.dialogue.words import Recognizer
from csm_desktop.errors import CsmError, NetworkError

_FINISHED = {"done": "generated", "reused": "reused", "failed": "failed"}


def render_parallel(
    project: Project,
    engines: Sequence[SpeechEngine],
    *,
    library: VoiceLibrary | None = None,
    lines: Sequence[int] | None = None,
    on_progress: Callable[[RenderEvent], None] | None = None,
    on_chunk: Callable[[int, torch.Tensor], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    force: bool = False,
    keep_better: bool = False,
    recognizer: Recognizer | None = None,
) -> RenderReport:
    """Render ``lines`` (all by default) of ``project``, the scenes spread over ``engines``.

    Each engine is used by one worker thread only; a worker renders whole scenes, their lines in
    script order, taking the lowest-numbered scene left. With one engine this is
    :meth:`Renderer.render`, exactly.

    - ``on_progress`` and ``on_chunk`` are never called at the same time (one lock), from the
      workers' threads; ``lines_done`` / ``lines_total`` count over the whole render.
    - ``on_chunk`` gets the audio of the lowest-numbered scene still rendering only, whole lines:
      a line whose first chunk came while an earlier scene was still rendering is not passed on
      at all, so what plays live is never two scenes at once nor half a line.
    - ``should_stop`` (called from the workers) stops every worker at its next check; finished
      takes (and their finished checks) are kept, as with one engine.
    - Takes are checked on one worker thread for the whole render (``checked`` events, serialised
      with the others); ``keep_better`` and ``recognizer`` are :meth:`Renderer.render`'s.
    - A line that fails, in any way a :class:`CsmError` says, fails alone, except a
      :class:`NetworkError` (an engine unreachable or broken): that, and any exception that is no
      CsmError, stops every worker and is raised here once they have stopped.

    Raises:
        CsmError: the engines run different models (their takes would not be interchangeable),
            or what :class:`Renderer` refuses (an unsaved project, clips without a library).
        ValueError: no engine, or one engine given twice (it would be used by two threads).
    """
    engines = list(engines)
    if not engines:
        raise ValueError("render_parallel needs at least one engine.")
    if len({id(e) for e in engines}) != len(engines):
        raise ValueError("An engine was given twice; give each worker an engine of its own.")
    models = sorted({e.model_id for e in engines})
    if len(models) > 1:
        raise CsmError(f"The engines run different models ({', '.join(models)}); takes from them would not be "
                       "interchangeable. Render with replicas of one model.")
    first = Renderer(project, engines[0], library)
    if len(engines) == 1:
        return first.render(lines, on_progress=on_progress, on_chunk=on_chunk, should_stop=should_stop, force=force,
                            keep_better=keep_better, recognizer=recognizer)
    return _ParallelRender(first, engines, lines, on_progress, on_chunk, should_stop, force, keep_better,
                           recognizer).run()


class _ParallelRender:
    """The shared state of one parallel render; everything mutable is guarded by ``_lock``."""

    def __init__(self, first: Renderer, engines: list[SpeechEngine], lines: Sequence[int] | None,
                 on_progress, on_chunk, should_stop, force: bool, keep_better: bool,
                 recognizer: Recognizer | None) -> None:
        self.project, self.library, self.engines = first.project, first.library, engines
        self.on_progress, self.on_chunk, self.should_stop, self.force = on_progress, on_chunk, should_stop, force
        self.keep_better = keep_better
        utterances = first.utterances
        self.todo = sorted(set(range(len(utterances)) if lines is None else lines))
        scenes: dict[int, list[int]] = {}
        for i in self.todo:
            scenes.setdefault(utterances[i].scene, []).append(i)
        # Workers only read what they share, so it all exists before they start: _clips() adds
        # the script's unknown speakers to the project (and refuses clips without a library),
        # and line states are made here, not while an autosave may iterate project.lines.
        first._clips()
        for i in range(len(utterances)):
            self.project.line(i)
        self._queue = deque(sorted(scenes.items()))
        self._unfinished = set(scenes)
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._outcomes: dict[int, tuple[str, str | None]] = {}  # line -> (generated|reused|failed, error)
        self._stopped = False
        self._error: BaseException | None = None
        self._forwarded: dict[int, bool] = {}  # line -> whether its chunks go to on_chunk
        self._key_locks: dict[str, threading.Lock] = {}
        self.checker = TakeChecker(first.store, speaker_clips(self.project, self.library, utterances),
                                   recognizer=recognizer, on_checked=self._checked)

    def run(self) -> RenderReport:
        for i in self.todo:
            self._emit(RenderEvent(i, "queued", len(self.todo), 0))
        workers = [threading.Thread(target=self._work, args=(engine,), name=f"csm-render-{n}", daemon=True)
                   for n, engine in enumerate(self.engines[:len(self._queue)])]
        for w in workers:
            w.start()
        try:
            for w in workers:
                w.join()
        except BaseException:  # Ctrl-C in the caller: stop the workers, then let it through
            self._halt.set()
            for w in workers:
                w.join()
            self.checker.close(cancel=True)
            raise
        self.checker.close(cancel=self._stopped or self._error is not None or self._halt.is_set())
        if self._error is not None:
            raise self._error
        report = RenderReport(stopped=self._stopped, checks=dict(self.checker.checks),
                              check_errors=dict(self.checker.errors))
        for line, (kind, error) in sorted(self._outcomes.items()):
            if kind == "failed":
                report.failed[line] = error or ""
            else:
                getattr(report, kind).append(line)
        return report

    # ----- one worker -----------------------------------------------------------------------------
    def _stop(self) -> bool:
        return self._halt.is_set() or (self.should_stop is not None and self.should_stop())

    def _work(self, engine: SpeechEngine) -> None:
        try:
            renderer = Renderer(self.project, engine, self.library)
            while True:
                with self._lock:
                    if self._halt.is_set() or not self._queue:
                        return
                    scene, lines = self._queue.popleft()
                try:
                    for i in lines:
                        if not self._render_line(renderer, scene, i):
                            break
                finally:
                    with self._lock:
                        self._unfinished.discard(scene)
        except BaseException as exc:  # not a user's error: stop everyone, raise it in the caller
            with self._lock:
                self._error = self._error or exc
            self._halt.set()

    def _render_line(self, renderer: Renderer, scene: int, i: int) -> bool:
        """Render line ``i`` as :meth:`Renderer.render` would; False once the render is stopping.

        Lines are rendered one call at a time so that two lines with the same take (the same
        words opening two scenes) are generated once: the second waits, then reuses the take."""
        try:
            if self.force:
                renderer.next_variant(i)  # what render(force=True) does, here before planning
            key = renderer.plan(i).key
            with self._key_lock(key):
                part = renderer.render([i], on_progress=self._progress,
                                       on_chunk=lambda line, chunk: self._chunk(scene, line, chunk),
                                       should_stop=self._stop, keep_better=self.keep_better, checker=self.checker)
        except NetworkError:
            raise  # the engine is unreachable or broken: stop every worker, as one engine's render would
        except CsmError as exc:  # planning refused, or saving failed: this line only
            with self._lock:
                if i not in self._outcomes:
                    self._outcomes[i] = ("failed", str(exc))
                    self._emit(RenderEvent(i, "failed", len(self.todo), len(self._outcomes), error=str(exc)))
            return True
        return not part.stopped

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    # ----- callbacks, serialised ------------------------------------------------------------------
    def _emit(self, event: RenderEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def _progress(self, event: RenderEvent) -> None:
        if event.state == "queued":
            return  # every line was announced once, at the start
        with self._lock:
            if event.state in _FINISHED:
                self._outcomes[event.line] = (_FINISHED[event.state], event.error)
            elif event.state == "stopped":
                self._stopped = True
                self._halt.set()
            self._emit(RenderEvent(event.line, event.state, len(self.todo), len(self._outcomes), event.seconds,
                                   event.error))

    def _checked(self, line: int, key: str, check, error: str | None) -> None:
        with self._lock:
            self._emit(RenderEvent(line, "checked", len(self.todo), len(self._outcomes), error=error, key=key,
                                   check=check))

    def _chunk(self, scene: int, line: int, chunk: torch.Tensor) -> None:
        if self.on_chunk is None:
            return
        with self._lock:
            forward = self._forwarded.setdefault(line, scene == min(self._unfinished))
            if forward:
                self.on_chunk(line, chunk)
