"""Engine benchmark: our generator against transformers' CSM on the same weights.

    python bench/engine.py cpu [--frames 50] [--repeats 3] [--compile]
        Tiny checkpoint on the CPU: frames per second of our ``generate_codes`` (eager, and
        with --compile the inductor-compiled frame step, after its warm-up) and of
        transformers' ``generate`` (greedy, same frame count, same codes), side by side.

    python bench/engine.py gpu [--frames 125] [--context-s 10] [--compile] [--engines LIST] [--profile FILE] [--smoke]
    python bench/engine.py gpu --candidates 1,2,4,8 [--engines graph,compile] [--smoke]
        Full-size CSM-1B architecture with random bf16 weights on CUDA: real-time factor
        (generation time / audio duration) and time to first audio chunk of ``stream`` for each
        frame-step mode (eager, CUDA graph, and with --compile compiled + graph), the warm-up
        each mode costs at load, and transformers' (static cache, which ``generate`` compiles).
        --smoke runs the same code on the CPU with the tiny checkpoint: a check of the script.

Prints a Markdown block that can be pasted into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csm_desktop.engine import Segment, load_csm_1b  # noqa: E402
from csm_desktop.engine.testing import make_tiny_checkpoint, transformers_inputs  # noqa: E402

INVALID = [2048, 2049, 2050]
CONTEXT_TEXT = "Hey, how are you doing? I have been meaning to call you for a while now."
LINE_TEXT = "Pretty good, pretty good. I'm so happy to be speaking to you."


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{platform.system()} {cpu}, {threads} torch threads{gpu}, torch {torch.__version__}"


def bench_cpu(frames: int, repeats: int, compiled: bool) -> None:
    import transformers

    transformers.logging.set_verbosity_error()

    engines, warm = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_tiny_checkpoint(Path(tmp) / "o", seed=0)
        for accel in ("off", "compile") if compiled else ("off",):
            t = time.perf_counter()
            engines[accel] = load_csm_1b("cpu", model=folder, accel=accel)
            engines[accel].warm_up((1,))
            warm[accel] = time.perf_counter() - t
        hf_dir = make_tiny_checkpoint(Path(tmp) / "t", seed=0, format="transformers")
        hf = transformers.CsmForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32).eval()
    ours = engines["off"]
    g = torch.Generator().manual_seed(0)
    audio = torch.randn(ours.codec.frame_size * 25, generator=g) * 0.1  # 2 s of context
    codes = ours.encode_audio(audio)
    ctx = [Segment(0, CONTEXT_TEXT, codes=codes)]
    inputs = transformers_inputs(hf, ours, CONTEXT_TEXT, audio, codes, LINE_TEXT)
    ms = frames * ours.frame_ms

    def run_hf():
        out = hf.generate(**inputs, max_new_tokens=frames, do_sample=False, depth_decoder_do_sample=False,
                          suppress_tokens=INVALID, depth_decoder_suppress_tokens=INVALID)
        return out[0].T

    runs = {f"ours, {'eager' if a == 'off' else 'compiled'}": functools.partial(
        e.generate_codes, LINE_TEXT, 1, ctx, max_audio_length_ms=ms, topk=1) for a, e in engines.items()}
    runs[f"transformers {transformers.__version__}"] = run_hf
    reference = run_hf()
    for name, fn in runs.items():
        assert torch.equal(fn(), reference), f"{name} and transformers disagree: the comparison would be unfair"
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so that the machine's drift hits every engine alike
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    fps = {k: frames / statistics.median(v) for k, v in times.items()}
    base = fps[f"transformers {transformers.__version__}"]
    print(f"## CPU, tiny checkpoint ({date.today()}, {machine()})\n")
    print(f"Greedy, {frames} frames after a 2 s context, median of {repeats} interleaved runs, identical codes.\n")
    print("| engine | frames/s | vs transformers | load + warm-up (s) |\n|---|---|---|---|")
    for (name, value), accel in zip(fps.items(), [*engines, None]):
        load = f"{warm[accel]:.1f}" if accel else "-"
        print(f"| {name} | {value:.1f} | {value / base:.2f}x | {load} |")


def _full_size_engines(device: torch.device, tmp: Path, with_hf: bool = True):
    """Full-size CSM-1B architecture with random bf16 weights, Mimi with random weights, and
    transformers' CSM of the same shape: speed does not depend on the weights' values."""
    import transformers
    from moshi.models import loaders

    from csm_desktop.engine.codec import MimiCodec
    from csm_desktop.engine.config import parse_config
    from csm_desktop.engine.generator import Generator
    from csm_desktop.engine.model import CsmModel
    from csm_desktop.engine.tokenizer import TextTokenizer

    cfg = parse_config({"audio_num_codebooks": 32, "audio_vocab_size": 2051, "backbone_flavor": "llama-1B",
                        "decoder_flavor": "llama-100M", "text_vocab_size": 128256})
    torch.manual_seed(0)
    with torch.device(device):
        model = CsmModel(cfg).to(torch.bfloat16)
    for p in model.parameters():
        nn.init.normal_(p, std=0.02)
    model.eval().requires_grad_(False)
    model.setup_caches(1)
    # A tokenizer with the Llama-3 special tokens (speed does not depend on the vocabulary).
    tokenizer = TextTokenizer.from_folder(make_tiny_checkpoint(tmp / "tok", seed=0))
    mimi = loaders.get_mimi(None, device=device, num_codebooks=32)

    def ours(accel: str) -> Generator:
        codec = MimiCodec(mimi, device, "random-full-mimi")
        return Generator(model, tokenizer, codec, model_id="random-csm-1b", is_test_model=True, accel=accel)

    if not with_hf:
        return ours, None
    hf_cfg = transformers.CsmConfig(codec_config={"model_type": "mimi", "upsample_groups": 512})
    with torch.device(device):  # initialised where it runs: a billion parameters initialise slowly on a CPU
        hf = transformers.CsmForConditionalGeneration(hf_cfg).to(torch.bfloat16).eval()
    return ours, hf


def _tiny_engines(device: torch.device, tmp: Path, with_hf: bool = True):
    """The tiny checkpoint on the CPU, for --smoke: it runs the script, it measures nothing."""
    import transformers

    folder = make_tiny_checkpoint(tmp / "o", seed=0)
    hf = transformers.CsmForConditionalGeneration.from_pretrained(
        make_tiny_checkpoint(tmp / "t", seed=0, format="transformers"), dtype=torch.float32).eval()
    return functools.partial(load_csm_1b, "cpu", model=folder, warm_up=False), hf


ENGINES = ("eager", "graph", "compile", "transformers")


def bench_gpu(frames: int, context_s: float, engines: list[str], smoke: bool, profile: Path | None,
              candidates: list[int] | None = None) -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    if smoke:
        device = torch.device("cpu")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        sys.exit("The gpu benchmark needs CUDA (--smoke runs the script on the CPU with a tiny model).")
    with tempfile.TemporaryDirectory() as tmp:
        make_ours, hf = (_tiny_engines if smoke else _full_size_engines)(device, Path(tmp), "transformers" in engines)
        if candidates:
            _measure_candidates(make_ours, device, frames, context_s, engines, smoke, candidates)
        else:
            _measure(make_ours, hf, device, frames, context_s, engines, smoke, profile)


def _measure_candidates(make_ours, device, frames, context_s, engines, smoke, counts: list[int]) -> None:
    """Best of N as one batch: the time of ``generate_candidates`` for N takes against one."""
    audio = torch.randn(round(context_s * 12.5) * 1920) * 0.1
    if smoke:
        print("## SMOKE RUN: tiny checkpoint on the CPU. It checks that the script runs; it measures nothing.\n")
    else:
        print(f"## GPU, best of N as one batch, full-size CSM-1B architecture, random bf16 weights "
              f"({date.today()}, {machine()})\n")
    print(f"{context_s:.0f} s of audio context, {frames} frames ({frames * 0.08:.1f} s) per candidate (random weights "
          "never end a take early), top-k 50, temperature 0.9; median of 3 timed runs after one untimed run "
          "(which captures or compiles the batch's step).\n")
    print("| engine | candidates | time (s) | cost against one candidate | frames per candidate |")
    print("|---|---|---|---|---|", flush=True)
    for accel in (a for a in ("off", "graph", "compile") if {"off": "eager"}.get(a, a) in engines):
        ours = make_ours(accel=accel)
        ours.warm_up((50,))
        ctx = [Segment(0, CONTEXT_TEXT, codes=ours.encode_audio(audio))]
        mode = {"off": "eager", "graph": "CUDA graph", "compile": "compiled"}[ours.accel]
        one = None
        for n in counts:
            def run():
                sync(device)
                t = time.perf_counter()
                out = ours.generate_candidates(LINE_TEXT, 1, ctx, num_candidates=n, max_audio_length_ms=frames * 80,
                                               seed=0)
                sync(device)
                return time.perf_counter() - t, out
            run()
            times, out = [], None
            for _ in range(3):
                dt, out = run()
                times.append(dt)
            med = statistics.median(times)
            one = one or med
            lengths = sorted({c.codes.shape[1] for c in out})
            print(f"| ours, {mode} | {n} | {med:.3f} | {med / one:.2f}x | {'/'.join(map(str, lengths))} |", flush=True)


def _measure(make_ours, hf, device: torch.device, frames: int, context_s: float, engines: list[str], smoke: bool,
             profile: Path | None):
    import transformers

    audio = torch.randn(round(context_s * 12.5) * 1920) * 0.1  # whole 80 ms frames
    ms = frames * 80
    ctx: list[Segment] = []

    def run_stream(gen):
        sync(device)
        t0 = time.perf_counter()
        first, samples = None, 0
        for chunk in gen.stream(LINE_TEXT, 1, ctx, max_audio_length_ms=ms, seed=0):
            samples += chunk.numel()  # chunks arrive on the CPU: the device has finished them
            if first is None:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
        return total / (samples / 24000), first, samples // 1920

    if smoke:
        print("## SMOKE RUN: tiny checkpoint on the CPU. It checks that the script runs; it measures nothing.\n")
    else:
        print(f"## GPU, full-size CSM-1B architecture, random bf16 weights ({date.today()}, {machine()})\n")
    print(f"Batch 1, {context_s:.0f} s of audio context, up to {frames} frames ({frames * 0.08:.1f} s) streamed, "
          "sampling top-k 50, temperature 0.9, one timed run after a warm-up run. Warm-up at load: the frame "
          "step for top-k 50 and one Mimi step.\n")
    print("| engine | RTF (lower is better) | time to first audio (ms) | same, regenerated take (ms) | frames "
          "| warm-up at load (s) |")
    print("|---|---|---|---|---|---|", flush=True)
    rtfs, notes = {}, []
    ours = None
    for accel in (a for a in ("off", "graph", "compile") if {"off": "eager"}.get(a, a) in engines):
        ours = make_ours(accel=accel)
        if not ctx:
            ctx.append(Segment(0, CONTEXT_TEXT, codes=ours.encode_audio(audio)))
        sync(device)
        t = time.perf_counter()
        ours.warm_up((50,))
        sync(device)
        warm = time.perf_counter() - t
        run_stream(ours)  # first use: lazy initialisations outside the graphs
        ours.forget_prompt()  # a line whose context was not prefilled before: the whole prompt
        rtf, first, n = run_stream(ours)
        _, again, _ = run_stream(ours)  # the same line regenerated: its prompt is cached
        mode = {"off": "eager", "graph": "CUDA graph", "compile": "compiled"}[ours.accel]
        if ours.accel == "compile" and device.type == "cuda":
            mode += " + CUDA graph"
        rtfs[mode] = rtf
        print(f"| ours (csm_desktop), {mode} | {rtf:.3f} | {first * 1000:.0f} | {again * 1000:.0f} | {n} "
              f"| {warm:.1f} |", flush=True)
        notes.append(_breakdown(ours, device, mode))
        if profile is not None:
            _profile(ours, device, mode, profile)

    if "transformers" in engines:
        if ours is None:
            ours = make_ours(accel="off")
            ctx.append(Segment(0, CONTEXT_TEXT, codes=ours.encode_audio(audio)))
        rtf = _measure_transformers(hf, ours, audio, ctx, device, frames)
        if rtfs:
            notes.append(f"Best of ours against transformers: {rtf / min(rtfs.values()):.2f}x.")
    print()
    for note in notes:
        print(note, flush=True)


def _measure_transformers(hf, ours, audio, ctx, device, frames) -> float:
    import transformers

    hf.generation_config.max_length = 2048
    hf.generation_config.max_new_tokens = None
    hf.generation_config.cache_implementation = "static"
    hf.depth_decoder.generation_config.cache_implementation = "static"
    inputs = transformers_inputs(hf, ours, CONTEXT_TEXT, audio, ctx[0].codes, LINE_TEXT, device)

    class FirstFrame:
        """generate() puts the prompt first, then each frame's codes."""

        def __init__(self):
            self.t, self.puts = None, 0

        def put(self, value):
            self.puts += 1
            if self.puts == 2:
                sync(device)
                self.t = time.perf_counter()

        def end(self):
            pass

    def run_hf():
        streamer = FirstFrame()
        sync(device)
        t0 = time.perf_counter()
        out = hf.generate(**inputs, max_new_tokens=frames, do_sample=True, depth_decoder_do_sample=True, top_k=50,
                          depth_decoder_top_k=50, temperature=0.9, depth_decoder_temperature=0.9, streamer=streamer,
                          suppress_tokens=INVALID, depth_decoder_suppress_tokens=INVALID)
        sync(device)
        n = out.shape[1]  # [B, frames, codebooks]
        return (time.perf_counter() - t0) / (n * 0.08), (streamer.t or t0) - t0, n

    t = time.perf_counter()
    run_hf()  # warm-up and compilation
    warm = time.perf_counter() - t
    rtf, first, n = run_hf()
    compiled_hf = "compiled" if getattr(hf, "_compiled_call", None) is not None else "NOT compiled"
    # transformers decodes audio only at the end: its first audio comes no sooner than its first frame.
    print(f"| transformers {transformers.__version__} (static cache, {compiled_hf}; first frame, no Mimi) "
          f"| {rtf:.3f} | {first * 1000:.0f} | - | {n} | {warm:.1f} (first generate) |", flush=True)
    return rtf


def _breakdown(ours, device: torch.device, mode: str, frames: int = 40) -> str:
    """Per-frame time of the frame step alone and of one streaming Mimi step alone (each
    queued ``frames`` times back to back, synchronised once): where a frame's time goes."""
    step = ours._step
    with torch.inference_mode():
        step.run()
        sync(device)
        t = time.perf_counter()
        for _ in range(frames):
            step.run()
        sync(device)
        step_ms = (time.perf_counter() - t) / frames * 1000
        codes = torch.randint(0, 2048, (ours.num_codebooks, frames + 2))
        with ours.codec.streaming():
            for i in range(2):
                ours.codec.decode_step(codes[:, i : i + 1])
            t = time.perf_counter()
            for i in range(2, frames + 2):
                ours.codec.decode_step(codes[:, i : i + 1])  # returns on the CPU: synchronised
            mimi_ms = (time.perf_counter() - t) / frames * 1000
    ours.forget_prompt()
    return (f"{mode}: frame step alone {step_ms:.2f} ms per 80 ms frame (RTF {step_ms / 80:.3f}); "
            f"Mimi streaming decode alone {mimi_ms:.2f} ms per frame.")


def _profile(ours, device: torch.device, mode: str, path: Path, frames: int = 10) -> None:
    """Kernels per frame and the top kernels by device time over ``frames`` frame steps."""
    from torch.profiler import ProfilerActivity, profile

    step = ours._step
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.inference_mode():
        step.run()
        sync(device)
        with profile(activities=activities) as prof:
            for _ in range(frames):
                step.run()
            sync(device)
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    device_us = sum(e.device_time for e in kernels) if kernels else 0.0
    table = prof.key_averages().table(sort_by="self_device_time_total" if kernels else "self_cpu_time_total",
                                      row_limit=25, max_name_column_width=70)
    with path.open("a") as f:
        f.write(f"### {mode}: {len(kernels) / frames:.0f} device kernels per frame, "
                f"{device_us / frames / 1000:.2f} ms of kernel time per frame\n\n{table}\n\n")
    ours.forget_prompt()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cpu", "gpu"])
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--context-s", type=float, default=10.0)
    parser.add_argument("--compile", action="store_true", help="also measure the compiled frame step")
    parser.add_argument("--engines", default=None,
                        help=f"gpu mode: comma-separated, from {','.join(ENGINES)} (default: eager,graph,transformers)")
    parser.add_argument("--profile", type=Path, default=None, help="gpu mode: append a kernel profile to this file")
    parser.add_argument("--candidates", default=None,
                        help="gpu mode: time best of N as one batch for these N (comma-separated, e.g. 1,2,4,8)")
    parser.add_argument("--smoke", action="store_true", help="gpu mode: run the script on the CPU, tiny model")
    args = parser.parse_args()
    if args.mode == "cpu":
        bench_cpu(args.frames or 50, args.repeats, args.compile)
    else:
        engines = (args.engines or "eager,graph,transformers").split(",")
        if args.compile and "compile" not in engines:
            engines.insert(-1 if "transformers" in engines else len(engines), "compile")
        unknown = set(engines) - set(ENGINES)
        if unknown:
            parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
        counts = [int(n) for n in args.candidates.split(",")] if args.candidates else None
        if counts and counts[0] != 1:
            parser.error("--candidates must start with 1 (the cost of one candidate is the yardstick)")
        bench_gpu(args.frames or 125, args.context_s, engines, args.smoke, args.profile, counts)


if __name__ == "__main__":
    main()
