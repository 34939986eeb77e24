"""The public engine API: ``load_csm_1b`` and :class:`Generator` (mirrors Sesame's reference)."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from csm_desktop.engine.backends import MLX, mlx_installed, wants_mlx
from csm_desktop.engine.checkpoint import folder_weights, load_model
from csm_desktop.engine.codec import MimiCodec, load_mimi
from csm_desktop.engine.model import CsmModel
from csm_desktop.engine.policy import CPU_POLICY, DevicePolicy, policy_for
from csm_desktop.engine.sampling import sampling_key
from csm_desktop.engine.step import EndWatch, FrameStep
from csm_desktop.engine.tokenizer import TextTokenizer
from csm_desktop.errors import (
    CheckpointError,
    CsmError,
    DeviceError,
    EmptyAudioError,
    GenerationCancelled,
    ModelNotFoundError,
    PromptTooLongError,
)

if TYPE_CHECKING:
    from csm_desktop.engine.mlx_step import MlxFrameStep

# An utterance that ends before its first frame is retried once with these caps on
# temperature and top-k, as the reference deployment did; the text is never cut.
RETRY_TEMPERATURE = 0.7
RETRY_TOPK = 20
MAX_CANDIDATES = 8  # takes of one line generated as one batch
_BUSY = "This engine is already generating. Wait for it to finish, or stop it first."


@dataclass
class Segment:
    """One utterance of context. ``audio``: 1-D float at the generator's sample rate.
    ``codes`` (``[num_codebooks, frames]``) may be given instead, to skip encoding."""

    speaker: int
    text: str
    audio: torch.Tensor | None = None
    codes: torch.Tensor | None = None


@dataclass
class Candidate:
    """One take of a batch: its codes ``[num_codebooks, frames]`` (long, CPU; zero frames if
    the model ended it at once) and the seed it was sampled with (the same seed alone samples
    the same random draws, so it gives the same take up to the rounding of another batch size)."""

    seed: int
    codes: torch.Tensor


def pick_device(device: str | torch.device | None) -> torch.device:
    """CUDA, then MPS, then CPU, unless told; a named device that is missing is an error.

    ``"mlx"`` (the language model in MLX) gives the torch device for Mimi: MPS where it is, else the CPU.
    """
    if str(device) == MLX:
        if not mlx_installed():
            raise DeviceError("MLX was requested but the mlx package is not installed. Install it "
                              "(pip install mlx, on a Mac with Apple Silicon), or choose 'auto' in Settings.")
        return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("CUDA was requested but no CUDA GPU is available. Choose 'auto' or 'cpu' in Settings.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("MPS was requested but this Mac's GPU is not available. Choose 'auto' or 'cpu' in Settings.")
    return dev


class Generator:
    """Generates speech for one utterance at a time, given context segments."""

    def __init__(
        self,
        model: CsmModel,
        tokenizer: TextTokenizer,
        codec: MimiCodec,
        *,
        model_id: str,
        is_test_model: bool = False,
        accel: str | None = "auto",
        policy: DevicePolicy | None = None,
    ) -> None:
        """``policy``: how to run on this device (by default :func:`policy_for` the model's device
        and ``accel``); tests pass another device's to run its choices on the CPU."""
        self.model = model
        self.tokenizer = tokenizer
        self.codec = codec
        self.device = model.device if _is_mlx(model) else model.projection.weight.device
        self.sample_rate = codec.sample_rate
        self.frame_ms = 1000.0 * codec.frame_size / codec.sample_rate
        self.max_seq_len = model.cfg.backbone.max_seq_len
        self.num_codebooks = model.cfg.audio_num_codebooks
        self.model_id = model_id
        self.is_test_model = is_test_model
        self._lock = threading.Lock()
        # Ids past the codec's cardinality exist in the model's vocabulary but not in Mimi's.
        self._valid_vocab = min(codec.cardinality, model.cfg.audio_vocab_size)
        if _is_mlx(model):  # MLX runs its own way: eager frames, the end flag read at once
            self.policy = policy or CPU_POLICY
        else:
            self.policy = policy or policy_for(self.device, accel)
            if self.policy.dtype != model.projection.weight.dtype:
                raise ValueError(f"the model is {model.projection.weight.dtype}, its policy says {self.policy.dtype}")
            model.use_policy(self.policy)
        self._step = _frame_step(model, self._valid_vocab, self.policy.accel)
        self._batch_steps: dict[int, FrameStep] = {}
        codec.use_graphs = self.accel != "off"
        # On a GPU the host learns that a frame ended the audio a frame or two late, so it never
        # waits for the frame it has just queued; the extra frames are thrown away.
        self._end_lag = self.policy.end_lag

    @property
    def accel(self) -> str:
        """How frames run: ``"off"`` (eager), ``"graph"`` (CUDA graph) or ``"compile"``."""
        return self._step.accel

    @property
    def accel_problem(self) -> str | None:
        """Why the requested graph or compilation was given up for eager frames, if it was."""
        return self._step.fallback_reason

    def forget_prompt(self) -> None:
        """Prefill the next prompt in full instead of reusing the positions it shares with the
        last one (for timing a first line; after running ``self.model`` directly)."""
        self._step.forget_prompt()

    def warm_up(self, topks: tuple[int, ...] = (50, 1)) -> None:
        """Capture or compile the frame step for these top-k values and run the codec once, so
        the first line does not pay for it; on MPS run the eager step and the codec once (the
        device builds its kernels at first use). Eager CPU engines have nothing to prepare."""
        if self.accel == "off" and not self.policy.warm_up:
            return
        with self._lock, torch.inference_mode(), _device_errors():
            self._step.warm_up(topks)
            with self.codec.streaming():
                self.codec.decode_step(torch.zeros(self.num_codebooks, 1, dtype=torch.long))

    # ----- prompt -------------------------------------------------------------------------
    def encode_audio(self, audio: torch.Tensor, should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """Mimi codes ``[num_codebooks, frames]`` of 1-D audio at :attr:`sample_rate` (a clip
        encodes in well under a second: ``should_stop`` is accepted, as a remote engine's is)."""
        if audio.ndim != 1 or audio.numel() == 0:
            raise CsmError("Context audio must be a non-empty mono (1-D) signal.")
        return self.codec.encode(audio)

    def _text_rows(self, text: str, speaker: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor(self.tokenizer.encode_segment(text, speaker), dtype=torch.long)
        tokens = torch.zeros(len(ids), self.num_codebooks + 1, dtype=torch.long)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        tokens[:, -1] = ids
        mask[:, -1] = True
        return tokens, mask

    def _audio_rows(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = codes.to("cpu", torch.long)
        # A segment's audio ends with an all-zero frame, as in training.
        frames = torch.cat([codes, torch.zeros(self.num_codebooks, 1, dtype=torch.long)], dim=1).T
        tokens = torch.zeros(frames.shape[0], self.num_codebooks + 1, dtype=torch.long)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        tokens[:, :-1] = frames
        mask[:, :-1] = True
        return tokens, mask

    def build_prompt(self, text: str, speaker: int, context: Sequence[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens and mask ``[T, num_codebooks + 1]`` for the context and the new text."""
        tokens, mask = self._prompt_on_cpu(text, speaker, context)
        return tokens.to(self.device), mask.to(self.device)

    def _prompt_on_cpu(self, text: str, speaker: int, context: Sequence[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = []
        for seg in context:
            rows.append(self._text_rows(seg.text, seg.speaker))
            codes = seg.codes
            if codes is None:
                if seg.audio is None:
                    raise CsmError(f"The context line {seg.text[:40]!r} has neither audio nor codes.")
                codes = self.encode_audio(seg.audio)
            if codes.ndim != 2 or codes.shape[0] != self.num_codebooks:
                raise CsmError(f"Context codes must be [{self.num_codebooks}, frames], got {tuple(codes.shape)}.")
            rows.append(self._audio_rows(codes))
        rows.append(self._text_rows(text, speaker))
        return torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows])

    @property
    def codec_identity(self) -> str:
        return self.codec.identity

    def text_positions(self, text: str, speaker: int) -> int:
        """Positions a text segment takes in the prompt."""
        return len(self.tokenizer.encode_segment(text, speaker))

    def prompt_length(self, text: str, speaker: int, context: Sequence[Segment]) -> int:
        """Positions the prompt takes (context must carry codes or audio)."""
        return int(self.build_prompt(text, speaker, context)[0].shape[0])

    def max_frames(self, max_audio_length_ms: float) -> int:
        return max(1, int(max_audio_length_ms / self.frame_ms))

    # ----- generation ---------------------------------------------------------------------
    def _checked_prompt(self, text: str, speaker: int, context: Sequence[Segment], max_audio_length_ms: float):
        """Tokens and mask on the device, what each prompt position holds (CPU), and the frame
        budget; raises :class:`PromptTooLongError` when they do not fit the model."""
        tokens, mask = self._prompt_on_cpu(text, speaker, context)
        row_ids = torch.where(mask, tokens, -1)  # [T, N+1]: what each prompt position holds
        n_prompt, n_frames = tokens.shape[0], self.max_frames(max_audio_length_ms)
        excess = n_prompt + n_frames - self.max_seq_len
        if excess > 0:
            raise PromptTooLongError(
                f"The prompt takes {n_prompt} positions and up to {n_frames} frames "
                f"({max_audio_length_ms / 1000:.1f} s) of new audio were asked for: {excess} positions over "
                f"the model's {self.max_seq_len}. Drop {excess} positions of context, or ask for shorter audio.",
                excess=excess,
            )
        return tokens.to(self.device), mask.to(self.device), row_ids, n_frames

    def _frames(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment],
        max_audio_length_ms: float,
        temperature: float,
        topk: int,
        seed: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> Iterator[tuple[torch.Tensor, torch.cuda.Event | None]]:
        """Yield frames of codes ``[num_codebooks]`` until the end-of-audio frame (views into the
        frame step's buffer, valid until the next generation starts), each with the CUDA event
        that marks it made (None where the frame is known to be finished, and off CUDA)."""
        stop = should_stop or (lambda: False)
        tokens, mask, row_ids, n_frames = self._checked_prompt(text, speaker, context, max_audio_length_ms)
        model, step = self.model, self._step
        if not self._lock.acquire(blocking=False):
            raise CsmError(_BUSY)
        try:
            with torch.inference_mode(), _device_errors():
                embeds = model.embed_prompt(tokens[None], mask[None])  # [1, T, D]
            retry = (min(temperature, RETRY_TEMPERATURE), min(topk, RETRY_TOPK))
            for attempt, (temp, k) in enumerate(((temperature, topk), retry)):
                if stop():
                    return
                with torch.inference_mode(), _device_errors():
                    step.start(embeds, [sampling_key(seed, attempt)], temp, k, row_ids)
                    p = step.run()
                    ended = bool(step.ended[p, 0])  # the one wait for the device: retry or not
                if not ended:
                    break
            else:
                raise EmptyAudioError(
                    "The model ended this line before saying anything, twice. Rephrase the line, "
                    "change its voice clip, or try another seed."
                )
            yield step.codes[p, 0], None
            watch = EndWatch(step, self._end_lag)
            for _ in range(1, n_frames):
                if stop():
                    return
                with torch.inference_mode(), _device_errors():
                    watch.push(step.run())
                while watch.due():
                    with _device_errors():
                        p, ended = watch.pop()
                    if ended[0]:
                        return
                    yield step.codes[p, 0], watch.ready
            while len(watch) and not stop():
                with _device_errors():
                    p, ended = watch.pop()
                if ended[0]:
                    return
                yield step.codes[p, 0], watch.ready
        finally:
            self._lock.release()

    def generate_codes(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment] = (),
        max_audio_length_ms: float = 90_000,
        temperature: float = 0.9,
        topk: int = 50,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        """Codes ``[num_codebooks, frames]`` (long, CPU), before Mimi decoding.

        Raises:
            GenerationCancelled: ``should_stop()`` turned true.
        """
        # Copies, made while the generation holds the engine: the views are the step's buffer,
        # which the next generation (another thread's, once the lock is free) rewrites.
        frames = [f.clone() for f, _ in self._frames(text, speaker, context, max_audio_length_ms, temperature, topk,
                                                     seed, should_stop)]
        if should_stop is not None and should_stop():
            raise GenerationCancelled("Generation was stopped.")
        return torch.stack(frames, dim=1).cpu()

    def generate_candidates(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment] = (),
        num_candidates: int = 4,
        max_audio_length_ms: float = 90_000,
        temperature: float = 0.9,
        topk: int = 50,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Candidate]:
        """``num_candidates`` takes of one line, generated as one batch: the prompt is prefilled
        once, then each frame step runs every candidate together, so on a GPU (where a step is
        bound by its number of kernels, not their size) several takes cost little more than one.

        Candidate ``i`` samples with seed ``seed + i`` (a random base seed when None): it is the
        take that seed gives alone (up to the rounding of another batch size). Each ends at its
        own end-of-audio frame; the batch runs until all have ended or the frame budget is spent.
        If every candidate ends before its first frame, the batch is retried once with the capped
        temperature and top-k, as a single take is; a candidate that alone ends at once is
        generated alone (with that retry), and has zero frames only if that ends at once too.

        Raises:
            GenerationCancelled: ``should_stop()`` turned true.
            EmptyAudioError: every candidate ended at once, twice.
        """
        n = int(num_candidates)
        if not 1 <= n <= MAX_CANDIDATES:
            raise CsmError(f"Ask for 1 to {MAX_CANDIDATES} candidate takes at once, not {num_candidates}.")
        base = random.getrandbits(31) if seed is None else int(seed)
        seeds = [base + i for i in range(n)]
        stop = should_stop or (lambda: False)
        tokens, mask, row_ids, n_frames = self._checked_prompt(text, speaker, context, max_audio_length_ms)
        if not self._lock.acquire(blocking=False):
            raise CsmError(_BUSY)
        try:
            with torch.inference_mode(), _device_errors():
                step = self._batch_step(n)
                embeds = self.model.embed_prompt(tokens[None], mask[None])  # [1, T, D]
                retry = (min(temperature, RETRY_TEMPERATURE), min(topk, RETRY_TOPK))
                for attempt, (temp, k) in enumerate(((temperature, topk), retry)):
                    if stop():
                        raise GenerationCancelled("Generation was stopped.")
                    keys = [sampling_key(s, attempt) for s in seeds]
                    step.start(embeds, keys, temp, k, row_ids, prefill=self._step)
                    first = step.run()
                    ends: list[int | None] = [first if e else None for e in step.ended[first].tolist()]
                    if None in ends:
                        break
                else:
                    raise EmptyAudioError(
                        "The model ended this line before saying anything, twice. Rephrase the line, "
                        "change its voice clip, or try another seed."
                    )
                last = first
                watch = EndWatch(step, self._end_lag)
                for _ in range(1, n_frames):
                    if stop():
                        raise GenerationCancelled("Generation was stopped.")
                    watch.push(step.run())
                    while watch.due() and None in ends:
                        last = _mark_ends(watch, ends)
                    if None not in ends:
                        break
                while len(watch) and None in ends:  # the budget is spent
                    last = _mark_ends(watch, ends)
                codes = step.codes[first : last + 1].cpu()  # [F, B, N]
        finally:
            self._lock.release()
        out = [
            Candidate(s, codes[: (last + 1 if e is None else e) - first, b].T.contiguous())
            for b, (s, e) in enumerate(zip(seeds, ends))
        ]
        # A row that ended at once gets what its seed gets alone: a take retried with the capped
        # settings (rare; run one at a time), or no frames if that ends at once too.
        for c in out:
            if c.codes.shape[1] == 0:
                try:
                    c.codes = self.generate_codes(text, speaker, context, max_audio_length_ms, temperature, topk,
                                                  c.seed, should_stop)
                except EmptyAudioError:
                    pass
        return out

    def _batch_step(self, n: int) -> FrameStep:
        if n == 1:
            return self._step
        if n > self.model.batch_rows:  # the shared batch caches grow: the other sizes' graphs go
            self._batch_steps.clear()
        step = self._batch_steps.get(n)
        if step is None:
            step = self._batch_steps[n] = _frame_step(self.model, self._valid_vocab, self.accel, batch=n)
        return step

    def generate(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment] = (),
        max_audio_length_ms: float = 90_000,
        temperature: float = 0.9,
        topk: int = 50,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        """Audio ``[samples]`` (float32, CPU) at :attr:`sample_rate`."""
        codes = self.generate_codes(text, speaker, context, max_audio_length_ms, temperature, topk, seed, should_stop)
        return self.decode_codes(codes)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[num_codebooks, frames]`` -> audio ``[samples]`` (float32, CPU)."""
        with _device_errors():
            return self.codec.decode(codes)

    def stream(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment] = (),
        max_audio_length_ms: float = 90_000,
        temperature: float = 0.9,
        topk: int = 50,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[torch.Tensor]:
        """Yield audio chunks (1-D float32, CPU) as frames are generated and decoded.

        Joined, the chunks equal :meth:`generate`'s audio for the same seed. Stops within one
        frame when ``should_stop()`` turns true or the consumer stops iterating.
        """
        pairs = self.stream_frames(text, speaker, context, max_audio_length_ms, temperature, topk, seed, should_stop)
        try:
            for _, chunk in pairs:
                yield chunk
        finally:
            pairs.close()

    def stream_frames(
        self,
        text: str,
        speaker: int,
        context: Sequence[Segment] = (),
        max_audio_length_ms: float = 90_000,
        temperature: float = 0.9,
        topk: int = 50,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """As :meth:`stream`, each chunk with the frame of codes it was decoded from
        (``[num_codebooks]``, a copy on the engine's device)."""
        if self._lock.locked():  # before Mimi's streaming state, which a running stream holds
            raise CsmError(_BUSY)
        # Context audio is encoded before Mimi streams: an encode inside the decoder's streaming
        # block would carry the encoder's state from one clip into the next (other codes).
        context = [Segment(seg.speaker, seg.text, codes=self.encode_audio(seg.audio))
                   if seg.codes is None and seg.audio is not None else seg for seg in context]
        frames = self._frames(text, speaker, context, max_audio_length_ms, temperature, topk, seed, should_stop)
        try:
            with self.codec.streaming():
                for frame, ready in frames:
                    with _device_errors():
                        if ready is None:
                            kept, chunk = frame.clone(), self.codec.decode_step(frame[:, None])
                        else:
                            # Mimi decodes this frame on its own stream once the frame is made,
                            # while the next frame's step already runs on the main one.
                            codes, chunk = self.codec.decode_step(frame[:, None], ready=ready)
                            kept = codes[:, 0]
                    yield kept, chunk
        finally:
            frames.close()


def _is_mlx(model) -> bool:
    return getattr(model, "backend", "torch") == MLX


def _frame_step(model, valid_vocab: int, accel: str, batch: int = 1) -> FrameStep | MlxFrameStep:
    """The frame step for ``model``: torch's, or MLX's for an MLX model (which has one mode)."""
    if _is_mlx(model):
        from csm_desktop.engine.mlx_step import MlxFrameStep

        return MlxFrameStep(model, valid_vocab, batch)
    return FrameStep(model, valid_vocab, accel, batch=batch)


def _mark_ends(watch: EndWatch, ends: list[int | None]) -> int:
    """Read the oldest pending frame's end flags into ``ends`` (a row's first end only)."""
    p, row = watch.pop()
    for b, ended in enumerate(row.tolist()):
        if ended and ends[b] is None:
            ends[b] = p
    return p


def _out_of_memory(exc_type: type[BaseException] | None, exc: BaseException | None) -> bool:
    if exc_type is None:
        return False
    if issubclass(exc_type, torch.OutOfMemoryError):
        return True
    # MPS raises a plain RuntimeError ("MPS backend out of memory (MPS allocated: ...").
    return issubclass(exc_type, RuntimeError) and "MPS backend out of memory" in str(exc)


class _device_errors:
    """Turn out-of-memory errors (CUDA's and MPS's) into a :class:`DeviceError` that says what to do."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if _out_of_memory(exc_type, exc):
            raise DeviceError(
                "The GPU ran out of memory. Close other programs that use the GPU, shorten the "
                "context or the line, or switch the device to CPU in Settings."
            ) from None
        return False


def load_csm_1b(
    device: str | torch.device | None = None,
    *,
    model: str | os.PathLike,
    mimi: str | os.PathLike | None = None,
    accel: str | None = "auto",
    warm_up: bool = True,
    model_id: str | None = None,
    policy: DevicePolicy | None = None,
) -> Generator:
    """Load CSM-1B from a local model folder (either checkpoint layout); nothing is downloaded.

    A hub repository id is turned into a folder by :func:`csm_desktop.services.models.load_csm_1b`.

    Args:
        device: ``"cuda"``, ``"mps"``, ``"cpu"``, ``"mlx"`` (the language model in MLX, Mimi in
            torch), or None for the best available (MLX on Apple Silicon when it is installed).
        model: a local model folder.
        mimi: moshi's Mimi weights file, for a checkpoint that carries no codec.
        accel: ``"auto"`` (CUDA graph on CUDA, eager elsewhere), ``"off"``, ``"graph"`` or
            ``"compile"``; the ``CSM_DESKTOP_ACCEL`` environment variable overrides it.
        warm_up: prepare the frame step (graph capture, compilation) before returning.
        model_id: the name the generator gives its model (caches key on it); the folder by default.
        policy: how to run on the device (dtype, frame step, attention); by default
            :func:`~csm_desktop.engine.policy.policy_for` the device and ``accel``. Tests pass
            the MPS policy to check the Mac's choices on the CPU.

    Raises:
        ModelNotFoundError: ``model`` is not an existing folder.
        CheckpointError: the folder's weights, tokenizer or codec are missing or unusable.
    """
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"{model} is not a model folder. Choose a folder that holds the model's weights and tokenizer, "
            "or load a Hugging Face repository id with csm_desktop.services.models.load_csm_1b, "
            "which downloads it."
        )
    dev = pick_device(device)
    policy = policy or (CPU_POLICY if wants_mlx(device) else policy_for(dev, accel))
    chosen = folder_weights(folder)
    with _device_errors():
        if wants_mlx(device):
            from csm_desktop.engine.mlx_model import load_mlx_model

            csm = load_mlx_model(folder, chosen)
        else:
            csm = load_model(folder, dev, policy.dtype, chosen)
        codec = load_mimi(folder, dev, csm.cfg.audio_num_codebooks, chosen,
                          Path(mimi) if mimi is not None else None)
    if codec.num_codebooks != csm.cfg.audio_num_codebooks:
        raise CheckpointError(
            f"The codec has {codec.num_codebooks} codebooks but the model expects {csm.cfg.audio_num_codebooks}."
        )
    tokenizer = TextTokenizer.from_folder(folder)
    gen = Generator(csm, tokenizer, codec, model_id=model_id or str(model), is_test_model=csm.cfg.test_model,
                    policy=policy)
    if warm_up:
        gen.warm_up()
    return gen
