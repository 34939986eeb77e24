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
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from csm_desktop.dialogue.pacing import NORMAL_CHARS_PER_S, line_cap_ms
from csm_desktop.dialogue.project import GenerationSettings, Project, ProjectError
from csm_desktop.dialogue.script import Utterance
from csm_desktop.dialogue.takes import TakeInfo, TakeStore, take_key
from csm_desktop.dialogue.voices import Clip, VoiceLibrary
from csm_desktop.dialogue.watermark import NAME as WATERMARK
from csm_desktop.dialogue.watermark import OWN_VOICE, WatermarkUnavailable, unmarked_reason, watermark
from csm_desktop.engine.generator import Segment
from csm_desktop.errors import CsmError, GenerationCancelled, NetworkError

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


@dataclass
class RenderEvent:
    """Progress of a render: ``state`` is queued, rendering, done, reused, failed or stopped."""

    line: int
    state: str
    lines_total: int
    lines_done: int
    seconds: float = 0.0  # audio generated so far for this line
    error: str | None = None


@dataclass
class RenderReport:
    generated: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    stopped: bool = False


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


def line_seed(project: Project, index: int, u: Utterance) -> int:
    """The seed of line ``index``'s next take: the line's own seed (plus its variant, so that
    regenerating still makes another take), else one drawn from the project's seed, words,
    speaker and variant."""
    state = project.line(index)
    if state.seed is not None:
        return state.seed + state.variant
    return int(take_key({"seed": project.settings.seed, "text": u.text, "speaker": u.speaker,
                         "variant": state.variant})[:8], 16)


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
        self.store = TakeStore(project.takes_dir, engine.sample_rate)
        self.utterances = project.script().utterances
        self._own_voice_unmarked: bool | None = None  # the user's setting, read when it matters

    # ----- planning -------------------------------------------------------------------------------
    def _clips(self) -> list[tuple[Clip, int]]:
        return voice_clips(self.project, self.library)

    def _positions_of_audio(self, seconds: float) -> int:
        return math.ceil(seconds * 1000 / self.engine.frame_ms) + 1  # frames + end-of-audio frame

    def _take_positions(self, key: str, csm_id: int, text: str) -> int:
        info = self.store.info(key)
        frames = info.frames if info else 0
        return self.engine.text_positions(text, csm_id) + frames + 1

    def plan(self, index: int, clips: list[tuple[Clip, int]] | None = None) -> RenderPlan:
        """The plan for line ``index`` given the takes now chosen for the lines before it."""
        u = self.utterances[index]
        settings = self.project.settings
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
        seed = line_seed(self.project, index, u)
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
        return RenderPlan(index, u, spk.csm_id, clips, context, context_keys, seed, chunks, take_key(parts), caps,
                          parts, temperature, unmarked)

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
            current = plan.key == chosen and all(out[j] == "done" for j in plan.context)
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
            if codes is not None:
                segs.append(Segment(csm_id, prev.text, codes=codes))
            else:
                segs.append(Segment(csm_id, prev.text, audio=self.store.load(key)))
        return segs

    def render(
        self,
        lines: Sequence[int] | None = None,
        *,
        on_progress: Callable[[RenderEvent], None] | None = None,
        on_chunk: Callable[[int, torch.Tensor], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        force: bool = False,
    ) -> RenderReport:
        """Render ``lines`` (all by default) in script order. A line whose current take is on
        disk is reused, not generated. Each take is saved the moment it is complete.

        Args:
            force: regenerate the given lines even if their current take exists (a new variant).
        """
        stop = should_stop or (lambda: False)
        todo = sorted(set(range(len(self.utterances)) if lines is None else lines))
        report = RenderReport()
        clips = self._clips()

        def emit(line, state, seconds=0.0, error=None):
            if on_progress:
                done = len(report.generated) + len(report.reused) + len(report.failed)
                on_progress(RenderEvent(line, state, len(todo), done, seconds, error))

        for i in todo:
            emit(i, "queued")
        for i in todo:
            if stop():
                report.stopped = True
                emit(i, "stopped")
                break
            if force:
                self.project.line(i).variant += 1
            plan = self.plan(i, clips)
            state = self.project.line(i)
            if self.store.has(plan.key):
                state.chosen_take = plan.key
                report.reused.append(i)
                emit(i, "reused")
                continue
            emit(i, "rendering")
            try:
                audio, codes = self._generate(plan, on_chunk, stop, emit)
                if plan.unmarked is None:  # every take is watermarked before it is stored (the one place)
                    audio = watermark(audio, self.engine.sample_rate)
            except GenerationCancelled:
                report.stopped = True
                emit(i, "stopped")
                break
            except (NetworkError, WatermarkUnavailable):
                raise  # the engine or the watermarker is missing: every later line would fail the same way
            except CsmError as exc:
                report.failed[i] = str(exc)
                emit(i, "failed", error=str(exc))
                continue
            frames = math.ceil(audio.numel() / (self.engine.sample_rate * self.engine.frame_ms / 1000))
            info = TakeInfo(key=plan.key, line_text=plan.utterance.text, speaker=plan.utterance.speaker,
                            csm_id=plan.csm_id, variant=state.variant, seed=plan.seed,
                            duration=audio.numel() / self.engine.sample_rate, frames=frames,
                            context=plan.context_keys, created=time.time(),
                            codec=getattr(self.engine, "codec_identity", None) or "",  # kept only with codes
                            inputs=plan.parts, watermark=plan.unmarked or WATERMARK)
            self.store.save(info, audio, codes)
            state.chosen_take = plan.key
            report.generated.append(i)
            emit(i, "done", info.duration)
        return report

    def _generate(self, plan: RenderPlan, on_chunk, stop, emit) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The line's audio, and its codes when the engine reports them (``last_codes``, as a
        remote engine does) for every piece."""
        settings = self.project.settings
        context = self._segments(plan, stop)
        pieces: list[torch.Tensor] = []
        codes: list[torch.Tensor] | None = []
        seconds = 0.0
        for n, (text, cap_ms) in enumerate(zip(plan.chunks, plan.caps_ms)):
            for chunk in self.engine.stream(
                text, plan.csm_id, context, max_audio_length_ms=cap_ms,
                temperature=plan.temperature, topk=settings.topk, seed=plan.seed + n, should_stop=stop,
            ):
                pieces.append(chunk)
                seconds += chunk.numel() / self.engine.sample_rate
                if on_chunk:
                    on_chunk(plan.index, chunk)
                emit(plan.index, "rendering", seconds)
            if stop():
                raise GenerationCancelled("Rendering was stopped.")
            piece_codes = getattr(self.engine, "last_codes", None)
            codes = codes + [piece_codes] if codes is not None and piece_codes is not None else None
        if not pieces:
            raise CsmError(f"Line {plan.utterance.line}: the engine returned no audio.")
        return torch.cat(pieces), torch.cat(codes, dim=1) if codes else None


def render(project: Project, engine: SpeechEngine, *, library: VoiceLibrary | None = None,
           lines: Sequence[int] | None = None, on_progress=None, on_chunk=None, should_stop=None) -> RenderReport:
    """Render a project (see :class:`Renderer`). The project's chosen takes are updated; save it after."""
    return Renderer(project, engine, library).render(lines, on_progress=on_progress, on_chunk=on_chunk,
                                                      should_stop=should_stop)
