"""Checking a render's takes beside it, choosing the best of a line's candidates, and finding the
lines whose chosen take has problems.

A :class:`TakeChecker` runs :func:`~csm_desktop.dialogue.checks.check_take` on one worker thread
of its own while the render goes on with the next line, stores each check beside its take the
moment it is made (:meth:`TakeStore.save_check`) and tells ``on_checked``. Each speaker's voice
profile is built once, on that thread, from the speaker's voice clips. A recognizer that fails
(no network, no key, a broken model) fails once: the checks go on without words, and the error
is told once. Closing with ``cancel=True`` (a stopped render) drops the checks not yet started
(their takes stay unchecked and are checked when a later render reuses them) and waits only for
the one running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

import torch

from csm_desktop.dialogue.checks import TakeCheck, check_take
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.dialogue.vad import SpeechActivity
from csm_desktop.dialogue.voice import VoiceProfile
from csm_desktop.dialogue.voices import Clip, VoiceLibrary
from csm_desktop.dialogue.words import Recognizer
from csm_desktop.errors import CsmError

STOP_WAIT_S = 2.0  # a stopped render waits this long at most for the check running
# (line, take key, its check or None, an error message or None)
CheckedCallback = Callable[[int, str, "TakeCheck | None", "str | None"], None]


def speaker_clips(project: Project, library: VoiceLibrary | None,
                  utterances: Sequence[Utterance]) -> dict[str, list[Clip]]:
    """Each script speaker's voice clips (what its takes are compared with)."""
    out: dict[str, list[Clip]] = {}
    for tag in dict.fromkeys(u.speaker for u in utterances):
        ids = project.speaker(tag).clip_ids
        out[tag] = [library.get(c) for c in ids] if library is not None and ids else []
    return out


class TakeChecker:
    """Checks takes on a worker thread; :attr:`checks` and :attr:`errors` hold what it found, by key.

    Args:
        store: where the checks are stored (beside their takes).
        voices: each speaker's clips (:func:`speaker_clips`); a speaker without clips gets no voice check.
        recognizer: hears the words; None checks voice activity and voice only.
        on_checked: told of each check, from the worker thread.
    """

    def __init__(self, store: TakeStore, voices: Mapping[str, Sequence[Clip]], *,
                 recognizer: Recognizer | None = None, on_checked: CheckedCallback | None = None) -> None:
        self.store = store
        self.voices = dict(voices)
        self.recognizer = recognizer
        self.on_checked = on_checked
        self.checks: dict[str, TakeCheck] = {}
        self.errors: dict[str, str] = {}
        self._profiles: dict[str, VoiceProfile | None] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="csm-check")
        self._lock = threading.Lock()
        self._futures: list[Future] = []
        self._failure: BaseException | None = None  # a bug, not a user's error: raised by close()

    def submit(self, line: int, key: str, audio: torch.Tensor, text: str, speaker: str,
               activity: SpeechActivity | None = None) -> Future:
        """Check take ``key`` (its untrimmed ``audio``) of ``line``; the future's result is the
        check, or None when it could not be made (the error is in :attr:`errors`)."""
        with self._lock:
            future = self._pool.submit(self._check, line, key, audio, text, speaker, activity)
            self._futures.append(future)
        return future

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the checks. ``cancel``: drop those not started and wait for the one running
        at most :data:`STOP_WAIT_S` (a check stuck in a download must not hold a stop up): one
        that ends later is still stored, but no longer told.

        Raises:
            Exception: what a check raised that is no CsmError (a bug), once the checks waited for ended.
        """
        if cancel:
            self._pool.shutdown(wait=False, cancel_futures=True)
            with self._lock:
                futures = list(self._futures)
            wait(futures, timeout=STOP_WAIT_S)
            with self._lock:
                self.on_checked = None
        else:
            self._pool.shutdown(wait=True)
        if self._failure is not None:
            raise self._failure

    # ----- on the worker thread -------------------------------------------------------------------
    def _check(self, line: int, key: str, audio: torch.Tensor, text: str, speaker: str,
               activity: SpeechActivity | None) -> TakeCheck | None:
        check, error = None, None
        try:
            voice = self._profile(speaker)
            check, error = self._checked(audio, text, voice, activity)
            self.store.save_check(key, check)
        except CsmError as exc:
            error = str(exc)
        except BaseException as exc:  # a bug: the render finishes, then it is raised
            error = f"The take could not be checked ({type(exc).__name__}: {exc})."
            with self._lock:
                self._failure = self._failure or exc
        with self._lock:
            if check is not None:
                self.checks[key] = check
            if error is not None:
                self.errors[key] = error
            told = self.on_checked
        if told is not None:
            told(line, key, check, error)
        return check

    def _checked(self, audio: torch.Tensor, text: str, voice: VoiceProfile | None,
                 activity: SpeechActivity | None) -> tuple[TakeCheck, str | None]:
        rate = self.store.sample_rate
        recognizer = self.recognizer
        if recognizer is None:
            return check_take(audio, rate, text, voice_refs=voice, activity=activity), None
        try:
            return check_take(audio, rate, text, recognizer=recognizer, voice_refs=voice, activity=activity), None
        except CsmError as exc:
            self.recognizer = None  # it would fail the same way for every take
            message = (f"The words could not be checked ({exc}); the other checks go on without them. Choose "
                       "another recognizer in Settings, or none.")
            return check_take(audio, rate, text, voice_refs=voice, activity=activity), message

    def _profile(self, speaker: str) -> VoiceProfile | None:
        if speaker not in self._profiles:
            clips = self.voices.get(speaker, [])
            self._profiles[speaker] = VoiceProfile.from_clips(
                (c.load(), self.store.sample_rate) for c in clips) if clips else None
        return self._profiles[speaker]


def best_take(candidates: Iterable[tuple[str, TakeCheck | None]]) -> str:
    """The key of the best-scoring take; ties (and takes that could not be checked) go to the
    earliest. Raises ValueError when there are none."""
    ranked = [(check.score if check is not None else -1.0, -n, key) for n, (key, check) in enumerate(candidates)]
    if not ranked:
        raise ValueError("best_take needs at least one take.")
    return max(ranked)[2]


def problem_lines(project: Project, store: TakeStore) -> dict[int, TakeCheck]:
    """Lines (indices among the script's utterances) whose chosen take has a stored check that
    lists problems, with that check. Lines with no take, or an unchecked one, are not listed: a
    render checks them. Re-render exactly these with ``render(lines, force=True, keep_better=True)``
    (:meth:`Renderer.render`, :func:`render_parallel`): a new seed each, the better take kept."""
    out: dict[int, TakeCheck] = {}
    for n in range(len(project.script().utterances)):
        key = project.line(n).chosen_take
        check = store.check(key) if key and store.has(key) else None
        if check is not None and check.problems:
            out[n] = check
    return out
