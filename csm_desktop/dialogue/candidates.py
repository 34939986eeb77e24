"""Generating a line's takes: one streamed take, or the missing candidates of a best of N.

Candidate ``c`` of a line samples with the line's seed plus ``c`` (plus ``n`` for its ``n``-th
sentence chunk, as a single take's chunks do), which is what the local engine's
``generate_candidates`` gives a batch: so a candidate is the same take whether it was made in a
batch, alone, or by an engine without batches (one after another; a remote engine has no
candidates call). The first candidate is the line's single take, so raising best-of adds takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from csm_desktop.dialogue.project import GenerationSettings
from csm_desktop.errors import CsmError, GenerationCancelled, NetworkError

# keep(candidate, audio [T], codes [num_codebooks, frames] or None): store a finished candidate
Keep = Callable[[int, torch.Tensor, "torch.Tensor | None"], None]


def generate_missing(engine, settings: GenerationSettings, plan, context: Sequence, missing: Sequence[int], *,
                     keep: Keep, on_chunk, stop: Callable[[], bool], emit) -> list[str]:
    """Generate candidates ``missing`` (ascending) of ``plan``'s line and hand each to ``keep``
    as soon as it is complete. Returns the errors of candidates that failed (a candidate that
    fails alone fails alone; the caller decides what a line with none is).

    ``on_chunk`` gets streamed audio (one take at a time only: a batch streams nothing).

    Raises:
        GenerationCancelled: ``stop()`` turned true (finished candidates were kept).
        NetworkError: the engine is unreachable or broken.
    """
    if len(missing) > 1 and hasattr(engine, "generate_candidates") and hasattr(engine, "decode_codes"):
        return _batch(engine, settings, plan, context, missing, keep, stop, emit)
    errors = []
    for c in missing:
        try:
            audio, codes = generate_one(engine, settings, plan, context, c, on_chunk, stop, emit)
        except (GenerationCancelled, NetworkError):
            raise
        except CsmError as exc:
            errors.append(str(exc))
            continue
        keep(c, audio, codes)
    return errors


def generate_one(engine, settings: GenerationSettings, plan, context: Sequence, candidate: int, on_chunk,
                 stop: Callable[[], bool], emit) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Candidate ``candidate``'s audio, streamed, and its codes when the engine reports them
    (``last_codes``, as a remote engine does) for every piece."""
    pieces: list[torch.Tensor] = []
    codes: list[torch.Tensor] | None = []
    seconds = 0.0
    for n, (text, cap_ms) in enumerate(zip(plan.chunks, plan.caps_ms)):
        for chunk in engine.stream(
            text, plan.csm_id, context, max_audio_length_ms=cap_ms,
            temperature=plan.temperature, topk=settings.topk, seed=plan.seed + n + candidate, should_stop=stop,
        ):
            pieces.append(chunk)
            seconds += chunk.numel() / engine.sample_rate
            if on_chunk:
                on_chunk(plan.index, chunk)
            emit(plan.index, "rendering", seconds)
        if stop():
            raise GenerationCancelled("Rendering was stopped.")
        piece_codes = getattr(engine, "last_codes", None)
        codes = codes + [piece_codes] if codes is not None and piece_codes is not None else None
    if not pieces:
        raise CsmError(f"Line {plan.utterance.line}: the engine returned no audio.")
    return torch.cat(pieces), torch.cat(codes, dim=1) if codes else None


def _batch(engine, settings: GenerationSettings, plan, context: Sequence, missing: Sequence[int], keep: Keep,
           stop: Callable[[], bool], emit) -> list[str]:
    """The missing candidates as one batch a chunk (the seeds from the first missing to the last:
    a candidate in between that is on disk already is made again and dropped)."""
    first, last = missing[0], missing[-1]
    pieces: dict[int, list[torch.Tensor]] = {c: [] for c in missing}
    codes: dict[int, list[torch.Tensor]] = {c: [] for c in missing}
    seconds = 0.0
    for n, (text, cap_ms) in enumerate(zip(plan.chunks, plan.caps_ms)):
        emit(plan.index, "rendering", seconds)
        cands = engine.generate_candidates(
            text, plan.csm_id, context, num_candidates=last - first + 1, max_audio_length_ms=cap_ms,
            temperature=plan.temperature, topk=settings.topk, seed=plan.seed + n + first, should_stop=stop)
        if stop():
            raise GenerationCancelled("Rendering was stopped.")
        for cand in cands:
            c = cand.seed - plan.seed - n
            if c in pieces and cand.codes.shape[1] > 0:
                pieces[c].append(engine.decode_codes(cand.codes))
                codes[c].append(cand.codes)
                seconds = max(seconds, sum(p.numel() for p in pieces[c]) / engine.sample_rate)
    errors = []
    for c in missing:
        if len(pieces[c]) == len(plan.chunks):
            keep(c, torch.cat(pieces[c]), torch.cat(codes[c], dim=1))
        else:
            errors.append(f"Line {plan.utterance.line}: candidate {c + 1} ended before saying anything.")
    return errors
