"""Apple Silicon benchmark: the torch engine on MPS and the MLX engine, side by side.

    python bench/mac.py [--size full|tiny] [--frames 125] [--context-s 10] [--repeats 3] [--engines LIST]

Engines (each skipped, with a note, where it is not available):
    torch-mps   the torch engine on the Apple GPU, in the dtype the engine picks for MPS
    torch-mps-unmasked  the same with decode attention unmasked over exactly the filled positions
                (DevicePolicy.unmasked_decode: may reach PyTorch's Metal decode kernel; a new shape per frame)
    mlx-gpu     the MLX engine on the Apple GPU (float16 unless CSM_DESKTOP_MLX_DTYPE says otherwise)
    torch-cpu   the torch engine on the CPU (float32)
    mlx-cpu     the MLX engine on the CPU (float32 unless CSM_DESKTOP_MLX_DTYPE says otherwise)
The default is all five on a Mac with Apple Silicon, torch-cpu and mlx-cpu elsewhere.

``--size full`` builds the CSM-1B architecture with random weights and a random full-size Mimi
(speed does not depend on the weights' values; about 3 GB in float16, 6 GB in float32 per engine,
one engine at a time); ``--size tiny`` uses the tiny test checkpoint, which checks the script
and says nothing about the real model's speed.

For each engine: load time, then per run (after one warm-up run) the time to the first audio
chunk of ``stream`` with the whole prompt computed afresh, and the real-time factor (stream's
wall time / the audio's duration; below 1 is faster than real time); medians of the runs.
Prints a Markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.backends import is_apple_silicon, mlx_installed
from csm_desktop.engine.testing import make_tiny_checkpoint

ENGINES = ("torch-mps", "torch-mps-unmasked", "mlx-gpu", "torch-cpu", "mlx-cpu")
CONTEXT_TEXT = "Hey, how are you doing? I have been meaning to call you for a while now."
LINE_TEXT = "Pretty good, pretty good. I'm so happy to be speaking to you, it has been far too long."


def missing(name: str) -> str | None:
    """Why ``name`` cannot run here, or None."""
    if name.startswith("torch-mps") and not torch.backends.mps.is_available():
        return "no MPS device"
    if name.startswith("mlx") and not mlx_installed():
        return "mlx is not installed"
    if name == "mlx-gpu":
        import mlx.core as mx

        if not mx.metal.is_available():
            return "MLX has no Metal GPU here"
    return None


def machine() -> str:
    chip = platform.processor() or platform.machine()
    if sys.platform == "darwin":
        chip = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                              check=False).stdout.strip()
    versions = f"torch {torch.__version__}"
    if mlx_installed():
        import mlx.core as mx

        versions += f", mlx {mx.__version__}"
    return f"{platform.system()} {platform.machine()} ({chip}), {torch.get_num_threads()} torch threads, {versions}"


def use_mlx_device(name: str) -> None:
    if name.startswith("mlx"):
        import mlx.core as mx

        mx.set_default_device(mx.gpu if name == "mlx-gpu" else mx.cpu)


def tiny_engine(name: str, tmp: Path):
    folder = make_tiny_checkpoint(tmp / "tiny", seed=0)
    device = {"torch-mps": "mps", "torch-mps-unmasked": "mps", "torch-cpu": "cpu"}.get(name, "mlx")
    return load_csm_1b(device, model=folder, policy=engine_policy(name))


def engine_policy(name: str):
    """The policy the loader picks for the engine's device (None for MLX), with the variant's change."""
    from csm_desktop.engine.policy import policy_for

    if name.startswith("mlx"):
        return None
    policy = policy_for(torch.device("mps" if name.startswith("torch-mps") else "cpu"))
    return dataclasses.replace(policy, unmasked_decode=True) if name == "torch-mps-unmasked" else policy


def full_engine(name: str, tmp: Path):
    """The CSM-1B architecture with random weights (built on the CPU and converted, for MLX)."""
    from moshi.models import loaders

    from csm_desktop.engine.codec import MimiCodec
    from csm_desktop.engine.config import parse_config
    from csm_desktop.engine.generator import Generator
    from csm_desktop.engine.model import CsmModel
    from csm_desktop.engine.policy import CPU_POLICY
    from csm_desktop.engine.tokenizer import TextTokenizer

    cfg = parse_config({"audio_num_codebooks": 32, "audio_vocab_size": 2051, "backbone_flavor": "llama-1B",
                        "decoder_flavor": "llama-100M", "text_vocab_size": 128256})
    mlx = name.startswith("mlx")
    device = torch.device("mps" if name.startswith("torch-mps") else "cpu")
    policy = engine_policy(name) or CPU_POLICY  # the loader's choices for this device
    dtype = policy.dtype
    if mlx:
        from csm_desktop.engine.mlx_model import TORCH_DTYPES, mlx_dtype

        dtype = TORCH_DTYPES[mlx_dtype()]
    torch.manual_seed(0)
    with torch.device(device):
        model = CsmModel(cfg).to(dtype)
    for p in model.parameters():
        nn.init.normal_(p, std=0.02)
    model.eval().requires_grad_(False)
    if mlx:
        from csm_desktop.engine.mlx_model import convert_state, mlx_dtype

        state = dict(model.state_dict())
        del model, p
        model = convert_state(cfg, state, mlx_dtype())
    else:
        model.setup_caches(1)
    codec_device = torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")
    codec = MimiCodec(loaders.get_mimi(None, device=codec_device, num_codebooks=32), codec_device, "random-mimi")
    tokenizer = TextTokenizer.from_folder(make_tiny_checkpoint(tmp / "tok", seed=0))  # Llama-3 special tokens
    gen = Generator(model, tokenizer, codec, model_id="random-csm-1b", is_test_model=True, policy=policy)
    gen.warm_up()
    return gen


def timed_stream(gen, context: list[Segment], frames: int) -> tuple[float, float]:
    """(seconds to the first chunk, real-time factor) of one streamed line, its prompt computed afresh."""
    gen.forget_prompt()
    start = time.perf_counter()
    first, samples = None, 0
    for chunk in gen.stream(LINE_TEXT, 1, context, max_audio_length_ms=frames * gen.frame_ms, seed=0):
        samples += chunk.numel()  # a chunk is audio on the CPU: its frame is finished
        first = first if first is not None else time.perf_counter() - start
    return first, (time.perf_counter() - start) / (samples / gen.sample_rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--frames", type=int, default=125, help="frames per line (80 ms each)")
    parser.add_argument("--context-s", type=float, default=10.0, help="seconds of audio context")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default=None, help=f"comma-separated, of {', '.join(ENGINES)}")
    args = parser.parse_args(argv)
    names = args.engines.split(",") if args.engines else list(ENGINES if is_apple_silicon() else ENGINES[3:])
    build = full_engine if args.size == "full" else tiny_engine
    print(f"## Mac engines, {args.size}-size model ({date.today()}, {machine()})\n")
    if args.size == "tiny":
        print("Tiny test checkpoint: this checks the script; it says nothing about CSM-1B's speed.\n")
    print(f"Batch 1, {args.context_s:g} s of audio context, {args.frames} frames ({args.frames * 0.08:.1f} s) streamed, "
          f"top-k 50, temperature 0.9, median of {args.repeats} runs after a warm-up run.\n")
    print("| engine | model dtype | load + warm-up (s) | time to first audio (ms) | RTF (lower is better) |")
    print("|---|---|---|---|---|", flush=True)
    audio = torch.randn(round(args.context_s * 12.5) * 1920, generator=torch.Generator().manual_seed(0)) * 0.1
    for name in names:
        why = missing(name)
        if why:
            print(f"| {name} | - | - | skipped: {why} | - |", flush=True)
            continue
        use_mlx_device(name)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            gen = build(name, Path(tmp))
            load = time.perf_counter() - start
        context = [Segment(0, CONTEXT_TEXT, codes=gen.encode_audio(audio))]
        timed_stream(gen, context, args.frames)  # first use: kernels, lazy initialisations
        runs = [timed_stream(gen, context, args.frames) for _ in range(args.repeats)]
        dtype = str(getattr(gen.model, "dtype", None) or gen.model.projection.weight.dtype).rpartition(".")[2]
        first, rtf = (statistics.median(r[i] for r in runs) for i in (0, 1))
        print(f"| {name} | {dtype} | {load:.1f} | {first * 1000:.0f} | {rtf:.3f} |", flush=True)
        del gen, context
        gc.collect()


if __name__ == "__main__":
    main()
