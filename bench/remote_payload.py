"""Bytes a remote render sends per line: context as 32-bit float WAV (the first client), as 16-bit
FLAC (today's fallback) and as Mimi codes (today's default).

    python bench/remote_payload.py [--lines 8] [--clip-seconds 8] [--max-line-ms 4000]

Two voice clips spoken by espeak-ng (sox resamples them), a dialogue of ``--lines`` lines between
their two speakers, rendered through ``csm-desktop serve`` (in this process, on 127.0.0.1) with
the tiny test model (32 codebooks at 12.5 frames/s like CSM-1B; its random weights make noise,
which FLAC compresses worse than speech). The render itself sends codes; for the same lines,
takes and context, the request the client would send with each other encoding is built by the
client's own code and measured too. Every figure is the JSON body of the request, in bytes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEXTS = ["Hello, this is the first voice. I speak slowly and clearly, so that the model can learn how I sound "
         "from a few sentences of my speech.",
         "And this is the second voice, a little faster and higher, with a different rhythm to my words and "
         "pauses between my phrases."]


def speak(text: str, voice: str, out: Path) -> Path:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "24000", str(out)], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--clip-seconds", type=float, default=8.0)
    parser.add_argument("--max-line-ms", type=int, default=4000)
    args = parser.parse_args()

    import torch

    from csm_desktop.dialogue.project import Project
    from csm_desktop.dialogue.render import Renderer
    from csm_desktop.dialogue.voices import VoiceLibrary
    from csm_desktop.engine import load_csm_1b
    from csm_desktop.engine.testing import make_tiny_checkpoint
    from csm_desktop.services.engine_server import EngineServer
    from csm_desktop.services.remote import RemoteEngine
    from csm_desktop.services.remote_protocol import encode_wav

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="csm-payload-"))
    generator = load_csm_1b("cpu", model=make_tiny_checkpoint(tmp / "tiny", seed=0))
    server = EngineServer(generator, "bench", port=0, timeout_s=60).start()
    try:
        library = VoiceLibrary(tmp / "lib")
        clips = []
        for n, (text, voice) in enumerate(zip(TEXTS, ("en-us", "en-gb"))):
            wav = speak(text, voice, tmp / f"voice{n}.wav")
            clip = library.import_clip(wav, speaker=f"S{n}", transcript=text)
            clips.append(clip)
        script = "\n".join(f"S{i % 2}: Line {i}, said by speaker {i % 2}, with a few more words to say." for i in range(args.lines))
        project = Project.new(script)
        project.settings.max_line_ms = args.max_line_ms
        for n, clip in enumerate(clips):
            project.speaker(f"S{n}").clip_ids.append(clip.id)
        project.save(tmp / "dialogue")

        engine = RemoteEngine(server.url, "bench")
        engine.connect()
        renderer = Renderer(project, engine, library)
        sent = []
        for line in range(args.lines):
            before = engine.bytes_sent
            renderer.render([line])
            sent.append(engine.bytes_sent - before)

        # The same lines, takes and context under each encoding, built by the client's own code.
        class FloatWav(RemoteEngine):  # what the first client sent
            def _context_item(self, seg):
                return {"speaker": seg.speaker, "text": seg.text,
                        "audio_data": encode_wav(seg.audio, self.sample_rate)}

        audio_view = Renderer(project, RemoteEngine(server.url, "bench", use_codes=False), library)
        float_client = FloatWav(server.url, "bench", use_codes=False)
        flac_client = RemoteEngine(server.url, "bench", use_codes=False)
        for client in (audio_view.engine, float_client, flac_client):
            client.connect()
        rows = []
        for line in range(args.lines):
            plan = renderer.plan(line)
            text, spk = plan.utterance.text, plan.csm_id
            options = (args.max_line_ms, 0.9, 50, plan.seed)
            codes_body = len(json.dumps(engine._payload(text, spk, renderer._segments(plan), *options)).encode())
            audio_segments = audio_view._segments(audio_view.plan(line))
            float_body = len(json.dumps(float_client._payload(text, spk, audio_segments, *options)).encode())
            flac_body = len(json.dumps(flac_client._payload(text, spk, audio_segments, *options)).encode())
            rows.append((line, len(plan.context), float_body, flac_body, codes_body, sent[line]))
    finally:
        server.stop()

    print(f"# Remote payload per line — {date.today()}, {platform.node()} ({platform.machine()}), "
          f"torch {torch.__version__}")
    print(f"python bench/remote_payload.py --lines {args.lines} --max-line-ms {args.max_line_ms}; clips: "
          + ", ".join(f"{c.duration:.1f} s" for c in clips))
    print()
    print("| line | context lines | float32 WAV (before) | 16-bit FLAC | Mimi codes | sent by the render |")
    print("|---|---|---|---|---|---|")
    for line, ctx, f32, flac, codes, real in rows:
        print(f"| {line + 1} | {ctx} | {f32:,} | {flac:,} | {codes:,} | {real:,} |")
    mean = [statistics.mean(r[i] for r in rows) for i in (2, 3, 4, 5)]
    print(f"| mean | | {mean[0]:,.0f} | {mean[1]:,.0f} | {mean[2]:,.0f} | {mean[3]:,.0f} |")
    print(f"\nfloat32 WAV / codes: {mean[0] / mean[2]:.0f}x; FLAC / codes: {mean[1] / mean[2]:.0f}x "
          "(the render's first line also sends each clip once, to encode_audio)")


if __name__ == "__main__":
    main()
