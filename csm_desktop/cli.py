"""``csm-desktop``: the app with no arguments; ``say`` (and more) headless."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from csm_desktop import __version__
from csm_desktop.errors import CsmError, GenerationCancelled

from csm_desktop.marker import AI_MARKER


def _say(args: argparse.Namespace) -> int:
    import torch

    from csm_desktop.audio import read_audio, write_audio
    from csm_desktop.engine import Segment, load_csm_1b

    print(f"Loading {args.model} ...", file=sys.stderr)
    gen = load_csm_1b(args.device, model=args.model, token=os.environ.get("HF_TOKEN"))
    if gen.is_test_model:
        print("Note: this is a tiny test model with random weights; its output is noise.", file=sys.stderr)
    context = []
    for clip, transcript, speaker in args.context or []:
        try:
            spk = int(speaker)
        except ValueError:
            raise CsmError(f"--context speaker must be a number, got {speaker!r}.") from None
        context.append(Segment(speaker=spk, text=transcript, audio=read_audio(clip, gen.sample_rate)))

    chunks = []
    try:
        for chunk in gen.stream(
            args.text, args.speaker, context, max_audio_length_ms=args.max_ms,
            temperature=args.temperature, topk=args.topk, seed=args.seed,
        ):
            chunks.append(chunk)
            seconds = sum(c.numel() for c in chunks) / gen.sample_rate
            if sys.stderr.isatty():
                print(f"\r  {seconds:5.2f} s of audio", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    audio = torch.cat(chunks) if chunks else torch.zeros(0)
    write_audio(args.output, audio, gen.sample_rate, comment=AI_MARKER)
    print(f"Wrote {args.output} ({audio.numel() / gen.sample_rate:.2f} s, {gen.sample_rate} Hz)", file=sys.stderr)
    return 0


def _app(args: argparse.Namespace) -> int:
    try:
        from csm_desktop.ui.app import run_app
    except ImportError:
        print("The desktop window is not part of this build yet; use a subcommand (see --help).", file=sys.stderr)
        build_parser().print_help()
        return 0
    return run_app()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csm-desktop", description="Multi-speaker dialogue with CSM-1B.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")

    say = sub.add_parser("say", help="speak one line of text into a WAV file")
    say.add_argument("text")
    say.add_argument("--speaker", type=int, default=0, help="CSM speaker id (default 0)")
    say.add_argument("--context", nargs=3, action="append", metavar=("CLIP", "TRANSCRIPT", "SPEAKER"),
                     help="a voice clip, its transcript and its speaker id (repeatable)")
    say.add_argument("--model", default="sesame/csm-1b", help="hub repository id or local model folder")
    say.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    say.add_argument("--seed", type=int, default=None)
    say.add_argument("--temperature", type=float, default=0.9)
    say.add_argument("--topk", type=int, default=50)
    say.add_argument("--max-ms", type=float, default=10_000, help="longest audio to generate (ms)")
    say.add_argument("-o", "--output", required=True, help="WAV file to write")
    say.set_defaults(func=_say)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", _app)
    try:
        return func(args)
    except GenerationCancelled:
        print("Stopped.", file=sys.stderr)
        return 130
    except CsmError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
