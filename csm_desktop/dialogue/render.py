"""Rendering a project line by line, each line with the voices and the preceding lines as context.

The plan for a line: every speaker's voice clips first (pinned, so voices stay consistent), then
as many preceding rendered lines of the same scene as fit in the model's position budget after
the line's own text and maximum audio (context restarts at a ``[scene]`` marker, so scenes are
independent and may render in parallel: :mod:`csm_desktop.dialogue.parallel`). A take is keyed
by everything that determines it, so an unchanged line is never generated twice, and a render
that was stopped or crashed resumes from the takes on disk.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from csm_desktop.dialogue import vad
from csm_desktop.dialogue.candidates import generate_missing
from csm_desktop.dialogue.checking import TakeChecker, best_take, speaker_clips
from csm_desktop.dialogue.checks import TakeCheck
from csm_desktop.dialogue.pacing import NORMAL_CHARS_PER_S, line_cap_ms
from csm_desktop.dialogue.project import GenerationSettings, Project, ProjectError
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeInfo, TakeStore, take_key
from csm_desktop.dialogue.voices import Clip, VoiceLibrary
from csm_desktop.dialogue.watermark import NAME as WATERMARK
from csm_desktop.dialogue.watermark import OWN_VOICE, WatermarkUnavailable, unmarked_reason, watermark
from csm_desktop.dialogue.words import Recognizer
from csm_desktop.engine.generator import Segment
from csm_desktop.errors import CsmError, GenerationCancelled, NetworkError
from csm_desktop.settings import BEST_OF

CHARS_PER_SECOND = NORMAL_CHARS_PER_S  # to tell when a line needs splitting
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


@runtime_checkable
class SpeechEngine(Protocol):
    """What rendering needs of an engine: the local generator, a remote one, or a fake."""

    sample_rate: int
    frame_ms: float
    max_seq_len: int
    model_id: str

    def text_positions(self, text: str, speaker: int) -> int: ...

    def stream(self, text: str, speaker: int, context: Sequence[Segment] = (), max_audio_length_ms: float = 90_000,
               temperature: float = 0.9, topk: int = 50, seed: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[torch.Tensor]: ...


@dataclass
class RenderPlan:
    index: int  # among the script's utterances
    utterance: Utterance
    csm_id: int
    clips: list[tuple[Clip, int]]  # each voice clip with its speaker's CSM id
    context: list[int]  # indices of preceding lines whose chosen takes are in the context
    context_keys: list[str]
    seed: int
    chunks: list[str]
    key: str
    caps_ms: list[int] = field(default_factory=list)  # each chunk's max_audio_length_ms
    parts: dict = field(default_factory=dict)  # what the key is a hash of (kept with the take)
    temperature: float = 0.9  # the line's own, else the project's
    unmarked: str | None = None  # why this take is not watermarked (None: it is, the default)
    # The key of candidate c (seed + c) of this line, for every c a project may ask for: [0] is
    # ``key``, so a line rendered once keeps its take as the first candidate of a best-of-N.
    candidate_keys: list[str] = field(default_factory=list)


@dataclass
class RenderEvent:
    """Progress of a render: ``state`` is queued, rendering, done, reused, failed, stopped, or
    checked (the checks of take ``key`` of the line are in: ``check``, or ``error`` when they
    could not be made; it may come after the line's done, from the checks' own thread)."""

    line: int
    state: str
    lines_total: int
    lines_done: int
    seconds: float = 0.0  # audio generated so far for this line
    error: str | None = None
    key: str | None = None
    check: TakeCheck | None = None


@dataclass
class RenderReport:
    generated: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    stopped: bool = False
    checks: dict[str, TakeCheck] = field(default_factory=dict)  # by take key: the takes checked by this render
    check_errors: dict[str, str] = field(default_factory=dict)  # by take key: checks that could not be made


def voice_clips(project: Project, library: VoiceLibrary | None) -> list[tuple[Clip, int]]:
    """Voice clips of every speaker in the script (first appearance order), with CSM ids.

    Raises: CsmError: a clip is missing, or there is no library to find it in."""
    clips: list[tuple[Clip, int]] = []
    for tag in dict.fromkeys(u.speaker for u in project.script().utterances):
        speaker = project.speaker(tag)
        for clip_id in speaker.clip_ids:
            if library is None:
                raise CsmError("This project uses voice clips but no voice library was given.")
            clips.append((library.get(clip_id), speaker.csm_id))
    return clips


def line_seed(project: Project, index: int, u: Utterance, variant: int | None = None) -> int:
    """The seed of line ``index``'s take for ``variant`` (the line's own by default): the line's
    own seed plus the variant (so that regenerating still makes another take), else one drawn
    from the project's seed, words, speaker and variant."""
    state = project.line(index)
    variant = state.variant if variant is None else variant
    if state.seed is not None:
        return state.seed + variant
    return int(take_key({"seed": project.settings.seed, "text": u.text, "speaker": u.speaker,
                         "variant": variant})[:8], 16)


def line_temperature(project: Project, index: int) -> float:
    own = project.line(index).temperature
    return project.settings.temperature if own is None else own


def clip_parts(clips: list[tuple[Clip, int]]) -> list[list]:
    """The voice clips as a take's key sees them: audio, transcript and CSM id."""
    return [[c.audio_hash, c.transcript, cid] for c, cid in clips]


def split_sentences(text: str, max_ms: float) -> list[str]:
    """Split a line that would run past ``max_ms`` at sentence boundaries (greedy packing)."""
    if len(text) / CHARS_PER_SECOND * 1000 <= max_ms:
        return [text]
    limit = max(1, int(max_ms / 1000 * CHARS_PER_SECOND))
    chunks: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if chunks and len(chunks[-1]) + 1 + len(sentence) <= limit:
            chunks[-1] = f"{chunks[-1]} {sentence}"
        else:
            chunks.append(sentence)
    return chunks


def line_chunks(settings: GenerationSettings, text: str) -> tuple[list[str], list[int]]:
    """A line's pieces as they are generated, and each one's length cap (ms)."""
    chunks = split_sentences(text, settings.max_line_ms)
    return chunks, [line_cap_ms(c, settings.max_line_ms, settings.cap_from_text) for c in chunks]


def cap_part(settings: GenerationSettings, caps: list[int]) -> list[int] | int:
    """The length caps as a take's key holds them. A user-set cap keys takes as before caps came
    from the text, so their takes stay current."""
    return caps if settings.cap_from_text else settings.max_line_ms


class Renderer:
    """Plans and renders one project with one engine."""

    def __init__(self, project: Project, engine: SpeechEngine, library: VoiceLibrary | None = None) -> None:
        if project.folder is None:
            raise ProjectError("Save the project before rendering: takes are stored in its folder.")
        self.project = project
        self.engine = engine
        self.library = library
        self._own_voice_unmarked: bool | None = None  # the user's setting, read when it matters
        self.store = TakeStore(project.takes_dir, engine.sample_rate)
        self.utterances = project.script().utterances

    # ----- planning -------------------------------------------------------------------------------
    def _clips(self) -> list[tuple[Clip, int]]:
        return voice_clips(self.project, self.library)

    def _positions_of_audio(self, seconds: float) -> int:
        return math.ceil(seconds * 1000 / self.engine.frame_ms) + 1  # frames + end-of-audio frame

    def _take_positions(self, key: str, csm_id: int, text: str) -> int:
        info = self.store.info(key)
        frames = math.ceil(info.used_seconds * 1000 / self.engine.frame_ms - 1e-9) if info else 0  # as used: trimmed
        return self.engine.text_positions(text, csm_id) + frames + 1

    def plan(self, index: int, clips: list[tuple[Clip, int]] | None = None, variant: int | None = None) -> RenderPlan:
        """The plan for line ``index`` given the takes now chosen for the lines before it (and
        the line's ``variant``, its own by default)."""
        u = self.utterances[index]
        settings = self.project.settings
        variant = self.project.line(index).variant if variant is None else variant
        spk = self.project.speaker(u.speaker)
        clips = self._clips() if clips is None else clips
        chunks, caps = line_chunks(settings, u.text)
        own = max(self.engine.text_positions(c, spk.csm_id) + max(1, int(cap / self.engine.frame_ms))
                  for c, cap in zip(chunks, caps))
        pinned = sum(self.engine.text_positions(c.transcript, cid) + self._positions_of_audio(c.duration)
                     for c, cid in clips)
        budget = self.engine.max_seq_len - own - pinned
        if budget < 0:
            raise CsmError(
                f"Line {u.line}: the voice clips take {pinned} positions and the line needs {own}; the model has "
                f"{self.engine.max_seq_len}. Use shorter voice clips or a shorter maximum line length."
            )
        context: list[int] = []
        for j in range(index - 1, -1, -1):
            if self.utterances[j].scene != u.scene:
                break  # context never crosses a scene
            chosen = self.project.line(j).chosen_take
            if not chosen or not self.store.has(chosen):
                break  # context is contiguous: a gap ends it
            prev = self.utterances[j]
            cost = self._take_positions(chosen, self.project.speaker(prev.speaker).csm_id, prev.text)
            if cost > budget:
                break
            budget -= cost
            context.insert(0, j)
        context_keys = [self.project.line(j).chosen_take or "" for j in context]
        unmarked = self._unmarked(spk.clip_ids, clips)
        seed = line_seed(self.project, index, u, variant)
        temperature = line_temperature(self.project, index)
        parts = {
            "model": self.engine.model_id,
            "text": u.text,
            "csm_id": spk.csm_id,
            "clips": clip_parts(clips),
            "context": context_keys,
            "temperature": temperature,
            "topk": settings.topk,
            "max_line_ms": cap_part(settings, caps),
            "seed": seed,
            # Only a take left without the watermark is keyed apart: marked takes keep their keys.
            **({"watermark": OWN_VOICE} if unmarked else {}),
        }
        keys = [take_key(parts if c == 0 else {**parts, "candidate": c}) for c in range(BEST_OF[1])]
        return RenderPlan(index, u, spk.csm_id, clips, context, context_keys, seed, chunks, keys[0], caps, parts,
                          temperature, unmarked, keys)

    def _unmarked(self, clip_ids: list[str], clips: list[tuple[Clip, int]]) -> str | None:
        """Why the speaker's takes go without the watermark, or None (the default): only when all
        of its voice clips are the user's own voice and the user's settings allow it."""
        by_id = {c.id: c for c, _ in clips}
        own = [by_id[i] for i in clip_ids if i in by_id]
        if not own or not all(c.own_voice for c in own):
            return None
        if self._own_voice_unmarked is None:
            from csm_desktop.settings import Settings

            self._own_voice_unmarked = not Settings.load().watermark_own_voice
        return unmarked_reason(own) if self._own_voice_unmarked else None

    def is_current(self, index: int, key: str, clips: list[tuple[Clip, int]] | None = None) -> bool:
        """Whether take ``key`` is what line ``index`` renders to now for the take's own variant
        and candidate (its words, voices, settings and context unchanged)."""
        info = self.store.info(key)
        if info is None or info.candidate >= BEST_OF[1]:
            return False
        return self.plan(index, clips, variant=info.variant).candidate_keys[info.candidate] == key

    def next_variant(self, index: int, clips: list[tuple[Clip, int]] | None = None) -> int:
        """Give line ``index`` a variant whose take is not on disk yet (a new seed: "regenerate")."""
        state = self.project.line(index)
        for _ in range(1000):
            state.variant += 1
            if not self.store.has(self.plan(index, clips).key):
                break
        return state.variant

    def statuses(self) -> list[str]:
        """Per line: ``none`` (no take), ``done`` (chosen take is current) or ``stale`` (its text,
        settings or voices changed, or a line in its context is stale)."""
        clips = self._clips()
        out: list[str] = []
        for i in range(len(self.utterances)):
            chosen = self.project.line(i).chosen_take
            if not chosen or not self.store.has(chosen):
                out.append("none")
                continue
            plan = self.plan(i, clips)
            own = chosen in plan.candidate_keys or self.is_current(i, chosen, clips)
            current = own and all(out[j] == "done" for j in plan.context)
            out.append("done" if current else "stale")
        return out

    # ----- rendering ------------------------------------------------------------------------------
    def _segments(self, plan: RenderPlan, stop: Callable[[], bool] | None = None) -> list[Segment]:
        segs = []
        encode = getattr(self.engine, "encode_audio", None)
        identity = getattr(self.engine, "codec_identity", None)
        for clip, csm_id in plan.clips:
            if encode is not None and identity is not None and self.library is not None:
                codes = self.library.codes(clip, lambda audio: encode(audio, should_stop=stop), identity)
                segs.append(Segment(csm_id, clip.transcript, codes=codes))
            else:
                segs.append(Segment(csm_id, clip.transcript, audio=clip.load()))
        # An engine that prefers codes (a remote one: codes are a hundredth of the audio's bytes)
        # gets the codes a take kept from its own generation.
        codes_codec = identity if getattr(self.engine, "context_from_codes", False) else None
        for j, key in zip(plan.context, plan.context_keys):
            prev = self.utterances[j]
            csm_id = self.project.speaker(prev.speaker).csm_id
            codes = self.store.codes(key, codes_codec)
            if codes is not None:  # the frames of the used (trimmed) part
                segs.append(Segment(csm_id, prev.text, codes=codes))
            else:
                segs.append(Segment(csm_id, prev.text, audio=self.store.load(key)))  # trimmed
        return segs

    def render(
        self,
        lines: Sequence[int] | None = None,
        *,
        on_progress: Callable[[RenderEvent], None] | None = None,
        on_chunk: Callable[[int, torch.Tensor], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        force: bool = False,
        keep_better: bool = False,
        recognizer: Recognizer | None = None,
        checker: TakeChecker | None = None,
    ) -> RenderReport:
        """Render ``lines`` (all by default) in script order. A line whose current take is on
        disk is reused, not generated. Each take is saved the moment it is complete, with the
        part of it that is used (leading silence and non-speech past a natural tail left out),
        and checked on a worker thread while the next line renders (``checked`` events).

        With the project's ``best_of`` N above 1, each line gets N candidates (one batch on an
        engine with ``generate_candidates``, else one after another), all kept as takes; the line
        waits for their checks and the best-scoring one is chosen (``LineState.auto_choice``),
        unless the user chose one of them.

        Args:
            force: regenerate the given lines with a new variant (a seed not rendered before).
            keep_better: with ``force`` ("re-render lines with problems"): the line's take before
                the render competes with the new ones by score and stays when it scores better.
            recognizer: hears the takes' words for their checks; None checks voice activity and voice.
            checker: checks the takes (a parallel render shares one); by default the render's own,
                which is waited for before this returns (when stopped: only the check running).
        """
        stop = should_stop or (lambda: False)
        todo = sorted(set(range(len(self.utterances)) if lines is None else lines))
        report = RenderReport()
        clips = self._clips()

        def emit(line, state, seconds=0.0, error=None, key=None, check=None):
            if on_progress:
                done = len(report.generated) + len(report.reused) + len(report.failed)
                on_progress(RenderEvent(line, state, len(todo), done, seconds, error, key, check))

        own = checker is None
        if checker is None:
            checker = TakeChecker(self.store, speaker_clips(self.project, self.library, self.utterances),
                                  recognizer=recognizer,
                                  on_checked=lambda line, key, check, error: emit(line, "checked", 0.0, error, key, check))
        finished = False
        try:
            for i in todo:
                emit(i, "queued")
            for i in todo:
                if stop():
                    report.stopped = True
                    emit(i, "stopped")
                    break
                if not self._render_line(i, clips, checker, report, emit, on_chunk, stop, force, keep_better):
                    break
            finished = True
        finally:
            if own:
                checker.close(cancel=report.stopped or not finished)
                report.checks.update(checker.checks)
                report.check_errors.update(checker.errors)
        return report

    def _render_line(self, i: int, clips, checker: TakeChecker, report: RenderReport, emit, on_chunk, stop,
                     force: bool, keep_better: bool) -> bool:
        """Line ``i``: reused, generated, failed or stopped. False once the render is stopping."""
        state = self.project.line(i)
        previous = state.chosen_take
        if force:
            self.next_variant(i, clips)
        plan = self.plan(i, clips)
        u = plan.utterance
        n = self.project.settings.best_of
        keys = plan.candidate_keys[:n]
        # The user's pick among the candidates stays (a choice made before auto_choice existed was the render's).
        users = previous if previous in keys and state.auto_choice not in (None, previous) and not force else None
        missing = [c for c in range(n) if not self.store.has(keys[c])]
        if not missing:
            checks = {k: self._reused_check(i, k, u, checker) for k in keys}
            if previous not in plan.candidate_keys or not self.store.has(previous):
                chosen = keys[0] if n == 1 else self._choose(checks, stop)
                if chosen is None:
                    return self._stopped(i, report, emit)
                state.chosen_take = state.auto_choice = chosen
            report.reused.append(i)
            emit(i, "reused", self._seconds(state.chosen_take))
            return True

        emit(i, "rendering")
        checks: dict[str, object] = {k: self._reused_check(i, k, u, checker) for k in keys if self.store.has(k)}

        def keep(c: int, audio: torch.Tensor, codes: torch.Tensor | None) -> None:
            activity = self._store_take(plan, c, state.variant, audio, codes)
            checks[keys[c]] = checker.submit(i, keys[c], audio, u.text, u.speaker, activity)

        try:
            context = self._segments(plan, stop)
            errors = generate_missing(self.engine, self.project.settings, plan, context, missing, keep=keep,
                                      on_chunk=on_chunk if n == 1 else None, stop=stop, emit=emit)
        except GenerationCancelled:
            return self._stopped(i, report, emit)
        except (NetworkError, WatermarkUnavailable):
            raise  # the engine or the watermarker is missing: every later line would fail the same way
        except CsmError as exc:
            errors = [str(exc)]
        if not checks:
            report.failed[i] = errors[0]
            emit(i, "failed", error=errors[0])
            return True
        if keep_better and previous and previous not in checks and self.store.has(previous) \
                and self.is_current(i, previous, clips):
            checks[previous] = self.store.check(previous)
        if users is not None:
            chosen = users
        elif n == 1 and len(checks) == 1:
            chosen = keys[0]  # its checks go on while the next line renders
        else:
            chosen = self._choose(checks, stop)
            if chosen is None:
                return self._stopped(i, report, emit)
            info = self.store.info(chosen)
            if chosen == previous and info is not None:
                state.variant = info.variant  # the earlier take stays, as the line's current take
        state.chosen_take = state.auto_choice = chosen
        if n > 1 and on_chunk:
            on_chunk(i, self.store.load(chosen))  # what plays is the take chosen, as it is used
        report.generated.append(i)
        emit(i, "done", self._seconds(chosen))
        return True

    def _stopped(self, i: int, report: RenderReport, emit) -> bool:
        report.stopped = True
        emit(i, "stopped")
        return False

    def _seconds(self, key: str | None) -> float:
        info = self.store.info(key) if key else None
        return info.used_seconds if info else 0.0

    def _store_take(self, plan: RenderPlan, candidate: int, variant: int, audio: torch.Tensor,
                    codes: torch.Tensor | None) -> vad.SpeechActivity | None:
        """Store candidate ``candidate`` of the line with the part of it that is used; returns
        the voice activity found (for its checks), None when the detector failed."""
        if plan.unmarked is None:  # every take is watermarked before it is stored (the one place)
            audio = watermark(audio, self.engine.sample_rate)
        activity, points = self._trim(audio)
        frames = math.ceil(audio.numel() / (self.engine.sample_rate * self.engine.frame_ms / 1000))
        info = TakeInfo(key=plan.candidate_keys[candidate], line_text=plan.utterance.text,
                        speaker=plan.utterance.speaker, csm_id=plan.csm_id, variant=variant,
                        seed=plan.seed + candidate, duration=audio.numel() / self.engine.sample_rate, frames=frames,
                        context=plan.context_keys, created=time.time(),
                        codec=getattr(self.engine, "codec_identity", None) or "",  # kept only with codes
                        candidate=candidate, trim_start_s=points.start_s, trim_end_s=points.end_s,
                        inputs=plan.parts if candidate == 0 else {**plan.parts, "candidate": candidate},
                        watermark=plan.unmarked or WATERMARK)
        self.store.save(info, audio, codes)
        return activity

    def _trim(self, audio: torch.Tensor) -> tuple[vad.SpeechActivity | None, vad.TrimPoints]:
        """Where the take is cut for use: the whole of it when it holds no speech (its checks
        say "empty") or the detector failed (its checks say why)."""
        whole = vad.TrimPoints(0.0, audio.numel() / self.engine.sample_rate)
        try:
            activity = vad.detect_speech(audio, self.engine.sample_rate)
        except CsmError:
            return None, whole
        return activity, vad.trim_points(activity) if activity.has_speech else whole

    def _reused_check(self, i: int, key: str, u: Utterance, checker: TakeChecker):
        """The stored check of a take on disk, or the future of one (a take stored before takes
        were checked, or whose checks were stopped); a take stored before takes were trimmed
        gets its trim points now, before a later line uses it."""
        info, check = self.store.info(key), self.store.check(key)
        if info is None or (check is not None and info.trimmed):
            return check
        audio = self.store.load_untrimmed(key)
        activity, points = self._trim(audio)
        if not info.trimmed:
            self.store.set_trim(key, points)
        return check if check is not None else checker.submit(i, key, audio, u.text, u.speaker, activity)

    @staticmethod
    def _choose(checks: dict[str, object], stop: Callable[[], bool]) -> str | None:
        """The best-scoring take once every check is in; None when the render was stopped first."""
        pending = {f for f in checks.values() if isinstance(f, Future)}
        while pending:
            if stop():
                return None
            _, pending = wait(pending, timeout=0.1)
        return best_take((k, _result(v)) for k, v in checks.items())


def _result(value) -> TakeCheck | None:
    if isinstance(value, Future):
        return None if value.cancelled() else value.result()
    return value


def render(project: Project, engine: SpeechEngine, *, library: VoiceLibrary | None = None,
           lines: Sequence[int] | None = None, on_progress=None, on_chunk=None, should_stop=None) -> RenderReport:
    """Render a project (see :class:`Renderer`). The project's chosen takes are updated; save it after."""
    return Renderer(project, engine, library).render(lines, on_progress=on_progress, on_chunk=on_chunk,
                                                      should_stop=should_stop)
