"""Engine benchmark: our generator against transformers' CSM on the same weights.

    python bench/engine.py cpu [--frames 50] [--repeats 3]
        Tiny checkpoint on the CPU: frames per second of our ``generate_codes`` and of
        transformers' ``generate`` (greedy, same frame count, same codes), side by side.

    python bench/engine.py gpu [--frames 125] [--context-s 10]
        Full-size CSM-1B architecture with random bf16 weights on CUDA: real-time factor
        (generation time / audio duration) and time to first audio chunk, ours and transformers'
        (static cache, compiled), one run.

Prints a Markdown table row block that can be pasted into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
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


def bench_cpu(frames: int, repeats: int) -> None:
    import transformers

    transformers.logging.set_verbosity_error()

    with tempfile.TemporaryDirectory() as tmp:
        ours = load_csm_1b("cpu", model=make_tiny_checkpoint(Path(tmp) / "o", seed=0))
        hf_dir = make_tiny_checkpoint(Path(tmp) / "t", seed=0, format="transformers")
        hf = transformers.CsmForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(0)
    audio = torch.randn(ours.codec.frame_size * 25, generator=g) * 0.1  # 2 s of context
    codes = ours.encode_audio(audio)
    ctx = [Segment(0, CONTEXT_TEXT, codes=codes)]
    inputs = transformers_inputs(hf, ours, CONTEXT_TEXT, audio, codes, LINE_TEXT)
    ms = frames * ours.frame_ms

    def run_ours():
        return ours.generate_codes(LINE_TEXT, 1, ctx, max_audio_length_ms=ms, topk=1)

    def run_hf():
        out = hf.generate(**inputs, max_new_tokens=frames, do_sample=False, depth_decoder_do_sample=False,
                          suppress_tokens=INVALID, depth_decoder_suppress_tokens=INVALID)
        return out[0].T

    assert torch.equal(run_ours(), run_hf()), "ours and transformers disagree: the comparison would be unfair"
    times = {"ours": [], "transformers": []}
    for _ in range(repeats):
        for name, fn in (("ours", run_ours), ("transformers", run_hf)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    fps = {k: frames / statistics.median(v) for k, v in times.items()}
    print(f"## CPU, tiny checkpoint ({date.today()}, {machine()})\n")
    print(f"Greedy, {frames} frames after a 2 s context, median of {repeats} runs, identical codes.\n")
    print("| engine | frames/s | speed-up |\n|---|---|---|")
    print(f"| ours (csm_desktop) | {fps['ours']:.1f} | {fps['ours'] / fps['transformers']:.2f}x |")
    print(f"| transformers {transformers.__version__} | {fps['transformers']:.1f} | 1.00x |")


def bench_gpu(frames: int, context_s: float) -> None:
    import transformers
    from moshi.models import loaders

    from csm_desktop.engine.codec import MimiCodec
    from csm_desktop.engine.config import parse_config
    from csm_desktop.engine.generator import Generator
    from csm_desktop.engine.model import CsmModel
    from csm_desktop.engine.tokenizer import TextTokenizer

    transformers.logging.set_verbosity_error()
    if not torch.cuda.is_available():
        sys.exit("The gpu benchmark needs CUDA.")
    device = torch.device("cuda")
    cfg = parse_config({"audio_num_codebooks": 32, "audio_vocab_size": 2051, "backbone_flavor": "llama-1B",
                        "decoder_flavor": "llama-100M", "text_vocab_size": 128256})
    torch.manual_seed(0)
    with torch.device(device):
        model = CsmModel(cfg).to(torch.bfloat16)
    for p in model.parameters():
        nn.init.normal_(p, std=0.02)
    model.eval().requires_grad_(False)
    model.setup_caches(1)
    with tempfile.TemporaryDirectory() as tmp:  # a tokenizer with the Llama-3 special tokens
        tiny = make_tiny_checkpoint(Path(tmp) / "tok", seed=0)
        tokenizer = TextTokenizer.from_folder(tiny)
    mimi = loaders.get_mimi(None, device=device, num_codebooks=32)
    codec = MimiCodec(mimi, device, "random-full-mimi")
    ours = Generator(model, tokenizer, codec, model_id="random-csm-1b", is_test_model=True)

    audio = torch.randn(int(context_s * 24000)) * 0.1
    codes = ours.encode_audio(audio)
    ctx = [Segment(0, CONTEXT_TEXT, codes=codes)]
    ms = frames * ours.frame_ms
    audio_s = frames * ours.frame_ms / 1000

    def run_stream(gen_fn):
        sync(device)
        t0 = time.perf_counter()
        first = None
        n = 0
        for _ in gen_fn():
            n += 1
            if first is None:
                sync(device)
                first = time.perf_counter() - t0
        sync(device)
        return time.perf_counter() - t0, first, n

    stream = lambda: ours.stream(LINE_TEXT, 1, ctx, max_audio_length_ms=ms, seed=0)  # noqa: E731
    run_stream(stream)  # warm-up
    total, first, n = run_stream(stream)
    rows = [("ours (csm_desktop, eager)", total / (n * ours.frame_ms / 1000), first * 1000)]

    hf_cfg = transformers.CsmConfig(codec_config={"model_type": "mimi", "upsample_groups": 512})
    hf = transformers.CsmForConditionalGeneration(hf_cfg).to(device, torch.bfloat16).eval()
    hf.generation_config.max_length = 2048
    hf.generation_config.max_new_tokens = None
    hf.generation_config.cache_implementation = "static"
    hf.depth_decoder.generation_config.cache_implementation = "static"
    inputs = transformers_inputs(hf, ours, CONTEXT_TEXT, audio, codes, LINE_TEXT, device)

    class FirstChunk:
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
        streamer = FirstChunk()
        sync(device)
        t0 = time.perf_counter()
        hf.generate(**inputs, max_new_tokens=frames, do_sample=True, depth_decoder_do_sample=True, top_k=50,
                    depth_decoder_top_k=50, temperature=0.9, depth_decoder_temperature=0.9, streamer=streamer)
        sync(device)
        return time.perf_counter() - t0, (streamer.t or t0) - t0

    run_hf()  # warm-up and compilation
    hf_total, hf_first = run_hf()
    # transformers decodes audio only at the end: its first audio is first codes + a Mimi decode.
    rows.append((f"transformers {transformers.__version__} (static cache, compiled)", hf_total / audio_s, hf_first * 1000))
    print(f"## GPU, full-size CSM-1B architecture, random bf16 weights ({date.today()}, {machine()})\n")
    print(f"Batch 1, {context_s:.0f} s of audio context, {frames} frames ({audio_s:.1f} s) generated, sampling top-k 50.\n")
    print("| engine | RTF (lower is better) | time to first audio (ms) |\n|---|---|---|")
    for name, rtf, ttfa in rows:
        print(f"| {name} | {rtf:.3f} | {ttfa:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cpu", "gpu"])
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--context-s", type=float, default=10.0)
    args = parser.parse_args()
    if args.mode == "cpu":
        bench_cpu(args.frames or 50, args.repeats)
    else:
        bench_gpu(args.frames or 125, args.context_s)


if __name__ == "__main__":
    main()
