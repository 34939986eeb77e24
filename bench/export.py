"""Export benchmark: time and peak memory of exporting long dialogues.

    python bench/export.py [--minutes 10 60]

For each length, builds a project of 6-second takes (synthetic audio, written as the renderer
writes takes), then exports the mixdown (16-bit WAV) with SRT subtitles in a fresh process and
reports wall time and that process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LINE_S = 6.0


def build(folder: Path, minutes: float) -> Path:
    import numpy as np
    import torch

    from csm_desktop.dialogue.project import Project
    from csm_desktop.dialogue.takes import TakeInfo, TakeStore

    n = int(minutes * 60 / (LINE_S + 0.3))
    project = Project.new("\n".join(f"{'Alice' if i % 2 else 'Bob'}: Line {i} of the long dialogue." for i in range(n)))
    project.save(folder / "long")
    store = TakeStore(project.takes_dir, 24_000)
    t = np.arange(int(LINE_S * 24_000)) / 24_000
    for i in range(n):
        audio = torch.from_numpy((0.3 * np.sin(2 * np.pi * (150 + i % 40) * t)).astype(np.float32))
        key = f"take{i:05d}"
        store.save(TakeInfo(key, f"Line {i}", "Alice", 0, 0, 0, LINE_S, int(LINE_S * 12.5)), audio)
        project.line(i).chosen_take = key
    project.save()
    return project.folder


def export_child(folder: str) -> None:
    from csm_desktop.dialogue.export import ExportOptions, export_dialogue
    from csm_desktop.dialogue.project import Project
    from csm_desktop.dialogue.takes import TakeStore

    project = Project.open(folder)
    out = Path(folder).parent / "out"
    t = time.perf_counter()
    export_dialogue(project, TakeStore(project.takes_dir, 24_000), out / "dialogue.wav",
                    ExportOptions(subtitles=[out / "dialogue.srt"]))
    elapsed = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return export_child(args.child)
    rows = []
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = build(Path(tmp), minutes)
            out = subprocess.run([sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True,
                                 check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((minutes, result["seconds"], result["peak_mb"]))
    print(f"## Export ({date.today()}, {platform.system()} {platform.machine()})\n")
    print("16-bit WAV mixdown plus SRT, 6 s takes, in a fresh process.\n")
    print("| dialogue | export time (s) | peak memory of the process (MB) |\n|---|---|---|")
    for minutes, seconds, peak in rows:
        print(f"| {minutes:g} min | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
