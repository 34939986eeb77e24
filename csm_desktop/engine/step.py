"""One audio frame as one step without host synchronisation: run eagerly, as a CUDA graph, or compiled.

CSM spends a frame in 140-odd small layer calls (one backbone step, 31 depth-decoder steps),
so on a GPU the time goes to launching kernels, not to arithmetic. :class:`FrameStep` keeps
everything a frame needs in device buffers (input embedding, position, sampling key,
temperature) and writes everything it makes back into device buffers (codes, end flag, the
next input embedding), so the whole frame can be captured once and replayed.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable

import torch

from csm_desktop.engine.model import CsmModel
from csm_desktop.engine.sampling import gumbel_noise, pick_codes

log = logging.getLogger(__name__)

_WARMUP_RUNS = 2  # eager runs before a capture: lazy inits, cuBLAS workspaces, compilation
PREFILL_BLOCK = 64  # prompt positions per prefill call, aligned to multiples of it


class FrameStep:
    """Generates one frame per :meth:`run`; the state between frames lives in device buffers.

    A frame: the backbone reads :attr:`embeds` at :attr:`pos`, the depth decoder picks the 32
    codes, the codes and their end-of-audio flag are stored at ``pos`` in :attr:`codes` and
    :attr:`ended`, the frame's embedding becomes the next input, and ``pos`` advances.

    ``batch`` rows run together, one per candidate take of the same line (same prompt, own
    sampling key); each batch size has a step of its own, with its own caches and graphs.

    The model's batch-1 KV caches belong to the batch-1 step: it remembers which prompt
    positions they hold, and a batch step prefills through it. Whoever runs the model otherwise
    must call :meth:`forget_prompt` on it before the next start.
    """

    def __init__(self, model: CsmModel, valid_vocab: int, accel: str, batch: int = 1) -> None:
        cfg = model.cfg
        weight = model.projection.weight
        self.model = model
        self.valid_vocab = valid_vocab
        self.accel = accel
        self.batch = batch
        self.device = weight.device
        n_pos, n_cb = cfg.backbone.max_seq_len, cfg.audio_num_codebooks
        kw = {"device": self.device}
        self.embeds = torch.zeros(batch, 1, cfg.backbone.embed_dim, dtype=weight.dtype, **kw)  # [B, 1, D]
        self.pos = torch.zeros(1, dtype=torch.long, **kw)  # [1]: all rows sit at the same position
        self.key = torch.zeros(batch, dtype=torch.long, **kw)  # [B] a sampling key per row
        self.temperature = torch.ones((), dtype=torch.float32, **kw)
        self.codes = torch.zeros(n_pos, batch, n_cb, dtype=torch.long, **kw)  # [S, B, N] codes made at each position
        self.ended = torch.zeros(n_pos, batch, dtype=torch.bool, **kw)  # [S, B] that row's frame is all zeros
        self.topk = 1
        self._host_pos = 0  # the host's copy of pos: known without asking the device
        self._cached_rows: torch.Tensor | None = None  # [P, N+1] prompt rows whose keys/values are cached
        self.prefilled: tuple[int, int] = (0, 0)  # the positions the last start() computed
        self._runners: dict[int, Callable[[], object]] = {}
        self._cache_generation = model.cache_generation  # the caches the runners were built on
        self._pool = None
        self.fallback_reason: str | None = None

    # ----- per generation ---------------------------------------------------------------------
    def start(
        self,
        prompt_embeds: torch.Tensor,
        keys: list[int],
        temperature: float,
        topk: int,
        rows: torch.Tensor | None = None,
        prefill: FrameStep | None = None,
    ) -> None:
        """Prefill the prompt ``[1, T, D]`` but its last position, whose embedding is the first
        step's input; ``keys``: one sampling key per row. ``temperature <= 0`` or ``topk <= 1``
        is greedy. A batch step prefills through ``prefill`` (the batch-1 step, which reuses
        what its caches hold) and copies the prompt's keys and values into every row.

        ``rows`` (``[T, N+1]`` on the CPU, what each position holds) lets the next prompt reuse
        the cached keys and values of the positions it shares with this one from the start:
        the voice clips that open every line's context, or the whole prompt when a line is
        regenerated. The prompt is computed in blocks of :data:`PREFILL_BLOCK` positions at
        fixed offsets and only complete blocks are kept for reuse, so every kept position was
        computed in the same call shape as a fresh prefill computes it: the codes do not depend
        on what was cached (a test checks them bit for bit).
        """
        if len(keys) != self.batch:
            raise ValueError(f"{len(keys)} sampling keys for a batch of {self.batch}")
        t = prompt_embeds.shape[1]
        if self.batch > 1:
            if prefill is None or prefill.batch != 1:
                raise ValueError("a batch step prefills through the batch-1 step")
            prefill.prefill(prompt_embeds, rows)
            self.model.copy_prompt(1, self.batch, t - 1)
            self.prefilled = prefill.prefilled
        else:
            self.prefill(prompt_embeds, rows)
        self.embeds.copy_(prompt_embeds[:, -1:].expand(self.batch, -1, -1))
        self.pos.fill_(t - 1)
        self.key.copy_(torch.tensor(keys, dtype=torch.long))
        self.temperature.fill_(max(temperature, 1e-5))
        self.topk = 1 if temperature <= 0 else max(1, int(topk))
        self._host_pos = t - 1

    def prefill(self, prompt_embeds: torch.Tensor, rows: torch.Tensor | None) -> None:
        """Compute the keys and values of the prompt's positions but its last (batch 1)."""
        self.model.use_batch(1)
        t = prompt_embeds.shape[1]
        n = t - 1  # positions to prefill
        reuse = 0
        if rows is not None and self._cached_rows is not None:
            m = min(n, len(self._cached_rows))
            same = (rows[:m] == self._cached_rows[:m]).all(dim=1)
            reuse = m if bool(same.all()) else int((~same).int().argmax())
        begin = reuse // PREFILL_BLOCK * PREFILL_BLOCK
        for s in range(begin, n, PREFILL_BLOCK):
            e = min(s + PREFILL_BLOCK, n)
            self.model.backbone(prompt_embeds[:, s:e], torch.arange(s, e, device=self.device), kv_len=e)
        self._cached_rows = None if rows is None else rows[: n // PREFILL_BLOCK * PREFILL_BLOCK]
        self.prefilled = (begin, n)

    def forget_prompt(self) -> None:
        """Compute the next prompt in full (the caches were used elsewhere, or to time it)."""
        self._cached_rows = None

    def run(self) -> int:
        """Queue the frame at the current position and return that position."""
        self.model.use_batch(self.batch)  # a graph holds its own caches; eager frames read the model's
        if self.batch > 1 and self._cache_generation != self.model.cache_generation:
            self._runners.clear()  # a larger batch replaced the shared caches the graphs were built on
            self._cache_generation = self.model.cache_generation
        runner = self._runners.get(self.topk)
        if runner is None:
            runner = self._runners[self.topk] = self._build(self.topk)  # leaves this batch's caches in use
        p = self._host_pos
        runner()
        self._host_pos += 1
        return p

    def warm_up(self, topks: tuple[int, ...]) -> None:
        """Build (capture, compile) the runners for these top-k values now, not at first use.
        Eager runners are run as a capture is warmed up, for a device (MPS) that builds its
        kernels at first use."""
        for k in topks:
            if k not in self._runners:
                self._runners[k] = self._build(k)
                if self.accel == "off":
                    self._prepared(self._runners[k])

    # ----- the frame ----------------------------------------------------------------------------
    def _body(self, topk: int, kv_len: int | None = None) -> None:
        model, n_cb, vocab = self.model, self.model.cfg.audio_num_codebooks, self.valid_vocab
        h = model.backbone_step(self.embeds, self.pos, kv_len)  # [B, D]
        noise = gumbel_noise(self.key, self.pos, n_cb, vocab) if topk > 1 else None  # [B, N, V]

        def sample(logits: torch.Tensor, codebook: int) -> torch.Tensor:
            return pick_codes(logits, topk, self.temperature, None if noise is None else noise[:, codebook])

        codes = model.decode_frame(h, sample, vocab)  # [B, N]
        if kv_len is not None and model.policy.cache_writes == "slice":  # eager: the host knows pos
            self.codes[kv_len - 1] = codes
            self.ended[kv_len - 1] = (codes == 0).all(dim=1)
        else:
            self.codes.index_copy_(0, self.pos, codes[None])
            self.ended.index_copy_(0, self.pos, (codes == 0).all(dim=1)[None])
        self.embeds.copy_(model.embed_frame(codes))
        self.pos.add_(1)

    def _eager(self, topk: int) -> Callable[[], None]:
        # Eager attention reads only the filled part of the cache (the host knows how long it is).
        return lambda: self._body(topk, self._host_pos + 1)

    def _build(self, topk: int) -> Callable[[], object]:
        if self.accel == "off":
            return self._eager(topk)
        try:
            fn: Callable[[], object] = functools.partial(self._body, topk)
            if self.accel == "compile":
                # Every step's body compiles to variants of one code object (a batch size and a
                # top-k each): leave room for them all, or the ninth would fall back to eager.
                limits = torch._dynamo.config
                limits.recompile_limit = max(limits.recompile_limit, 64)
                fn = torch.compile(fn, fullgraph=True, dynamic=False)
            return self._prepared(fn)
        except Exception as exc:  # noqa: BLE001 - any capture/compile failure: run eagerly instead
            self.fallback_reason = f"{type(exc).__name__}: {exc}"
            log.warning("The %s frame step failed (%s); generating without it.", self.accel, self.fallback_reason)
            self.accel = "off"
            self._runners.clear()
            return self._eager(topk)

    def _prepared(self, fn: Callable[[], object]) -> Callable[[], object]:
        """Warm ``fn`` up (and on CUDA capture it as a graph) without disturbing the generation
        state: warm-up frames write caches and buffers at positions a real frame rewrites
        before anything reads them; the input embedding and the position are put back, also
        when the warm-up fails midway (the caller then runs eagerly from where it was)."""
        saved = self.embeds.clone(), self.pos.clone()
        self.forget_prompt()  # warm-up frames may write where a prompt was cached
        self.model.use_batch(self.batch)
        try:
            return self._warmed(fn, saved)
        finally:
            self.embeds.copy_(saved[0])
            self.pos.copy_(saved[1])

    def _warmed(self, fn: Callable[[], object], saved: tuple[torch.Tensor, torch.Tensor]) -> Callable[[], object]:
        if self.device.type != "cuda":
            for _ in range(_WARMUP_RUNS):
                fn()
            return fn
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(_WARMUP_RUNS):
                fn()
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            fn()
        self._pool = graph.pool()
        # The replay must make the very frame the function makes when called: checked once here,
        # so that a capture that went wrong costs speed (eager fallback), never wrong audio.
        made = []
        for run in (fn, graph.replay):
            self.embeds.copy_(saved[0])
            self.pos.copy_(saved[1])
            run()
            made.append(self.codes[saved[1]].clone())
        if not torch.equal(made[0], made[1]):
            raise RuntimeError("the captured CUDA graph made other codes than the step it captured")
        return graph.replay


class EndWatch:
    """Reads each frame's end-of-audio flag ``lag`` frames behind the newest queued frame.

    On CUDA and MPS the flag is copied to host memory as soon as its frame is queued, and an
    event marks the copy, so the host waits only for a frame the GPU has (nearly) finished
    while the next ones are already queued (a plain read would wait for all queued work); on
    the CPU it is read directly (the frame ran synchronously anyway).

    CUDA copies into one pinned buffer, row by row. MPS copies each frame's flags into a tensor
    of its own: an MPS-to-CPU blit needs its destination 4-byte aligned (PyTorch asserts
    "Unaligned blit request"), and row ``p`` of a bool buffer starts at byte ``p * B``.
    """

    def __init__(self, step: FrameStep, lag: int) -> None:
        self.step = step
        self.lag = lag
        self._cuda = step.device.type == "cuda"
        self._event = torch.cuda.Event if self._cuda else torch.mps.Event if step.device.type == "mps" else None
        self._host = torch.zeros(step.ended.shape, dtype=torch.bool, pin_memory=self._cuda) if self._cuda else None
        self._pending: deque[tuple[int, object | None, torch.Tensor | None]] = deque()
        self.ready: torch.cuda.Event | None = None  # the last popped frame's event (CUDA only: Mimi's stream)

    def push(self, p: int) -> None:
        event, host = None, None
        if self._event is not None:
            if self._host is not None:
                host = self._host[p]
                self._host[p : p + 1].copy_(self.step.ended[p : p + 1], non_blocking=True)
            else:
                row = self.step.ended[p]
                host = torch.empty(row.shape, dtype=row.dtype)  # a fresh allocation: aligned, offset 0
                host.copy_(row, non_blocking=True)
            event = self._event()
            event.record()
        self._pending.append((p, event, host))

    def due(self) -> bool:
        return len(self._pending) > self.lag

    def __len__(self) -> int:
        return len(self._pending)

    def pop(self) -> tuple[int, torch.Tensor]:
        """The oldest pending position and, per row, whether its frame ended the audio (``[B]``
        bool, on the CPU). :attr:`ready` is then that frame's CUDA event (None elsewhere)."""
        p, event, host = self._pending.popleft()
        self.ready = event if self._cuda else None
        if event is None or host is None:
            return p, self.step.ended[p].cpu()
        event.synchronize()
        return p, host
