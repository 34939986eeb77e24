"""Parallel rendering benchmark: one multi-scene script over 1, 2 and 4 local servers.

    python bench/parallel.py [--servers 1 2 4] [--scenes 8] [--lines 3] [--max-line-ms 2000]
                             [--threads 1] [--repeats 3]

Starts N ``csm-desktop serve`` processes with the tiny test model on the CPU (each limited to
``--threads`` torch/OpenMP threads, so that N servers share the cores instead of fighting over
them), renders the same script (``--scenes`` scenes of ``--lines`` lines) through
``render_parallel`` with one RemoteEngine per server into a new project ``--repeats`` times, and
reports the median wall time, the speed-up against the first server count, and the CPU time the
servers used. Every render must leave the same takes (keys, and samples within a float32 step or two); the script checks and
says so.

Prints a Markdown block that can be pasted into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csm_desktop.dialogue.parallel import render_parallel  # noqa: E402
from csm_desktop.dialogue.project import Project  # noqa: E402
from csm_desktop.engine.testing import make_tiny_checkpoint  # noqa: E402
from csm_desktop.errors import NetworkError  # noqa: E402
from csm_desktop.services.remote import RemoteEngine  # noqa: E402

TOKEN = "bench-parallel-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_servers(n: int, model: Path, threads: int, logs: Path) -> tuple[list[subprocess.Popen], list[str]]:
    env = {**os.environ, "CSM_SERVER_TOKEN": TOKEN, "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    procs, urls = [], []
    for k in range(n):
        port = free_port()
        with open(logs / f"serve-{n}-{k}.log", "w") as log:  # the server keeps its own copy of the file
            procs.append(subprocess.Popen([sys.executable, "-m", "csm_desktop.cli", "serve", "--port", str(port),
                                           "--model", str(model), "--device", "cpu"], env=env, stdout=log,
                                          stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 300
    for proc, url in zip(procs, urls):
        while True:  # up once the warm-up line below answers
            try:
                RemoteEngine(url, TOKEN, timeout_s=60).generate("Warm up.", 0, max_audio_length_ms=160, seed=0)
                break
            except NetworkError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_servers(procs)
                    sys.exit(f"A server did not start; see {logs}.")
                time.sleep(0.5)
    return procs, urls


def stop_servers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def script(scenes: int, lines: int) -> str:
    return "".join(f"[scene Scene {s}]\n" + "".join(
        f"{'Alice' if i % 2 == 0 else 'Bob'}: Scene {s}, line {i}: a few words of dialogue.\n" for i in range(lines))
        for s in range(scenes))


def server_cpu_s(procs: list[subprocess.Popen]) -> float | None:
    """CPU seconds the servers have used so far (Linux: /proc), or None where not known."""
    try:
        total = 0
        for proc in procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None


def run(urls: list[str], procs: list[subprocess.Popen], folder: Path, text: str,
        max_line_ms: int) -> tuple[float, float | None, list[tuple[str, bytes]]]:
    """Wall time and the servers' CPU time of one render into a new project, and its takes."""
    project = Project.new(text)
    project.settings.seed = 1
    project.settings.max_line_ms = max_line_ms
    project.save(folder)
    engines = [RemoteEngine(url, TOKEN) for url in urls]  # each learns the servers' (one) model
    cpu = server_cpu_s(procs)
    t = time.perf_counter()
    report = render_parallel(project, engines)
    elapsed = time.perf_counter() - t
    cpu = None if cpu is None else server_cpu_s(procs) - cpu
    if report.failed or report.stopped:
        sys.exit(f"The render did not finish: {report.failed or 'stopped'}")
    takes = []
    for i in range(len(project.script().utterances)):
        key = project.line(i).chosen_take
        takes.append((key, sf.read(project.takes_dir / f"{key}.wav", dtype="float32")[0].tobytes()))
    return elapsed, cpu, takes


# PerTh's watermark (applied to every take before it is stored) comes out one float32 step apart
# (3.7e-8, measured) on its first call in a process: far below what a 16-bit file or an ear holds.
SAMPLE_TOLERANCE = 1e-6


def same_takes(a: list[tuple[str, bytes]], b: list[tuple[str, bytes]]) -> bool:
    """The same take keys, and samples equal within :data:`SAMPLE_TOLERANCE`."""
    if [k for k, _ in a] != [k for k, _ in b]:
        return False
    for (_, x), (_, y) in zip(a, b):
        x, y = np.frombuffer(x, np.float32), np.frombuffer(y, np.float32)
        if x.size != y.size or (x.size and float(np.abs(x - y).max()) > SAMPLE_TOLERANCE):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--max-line-ms", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads of each server")
    parser.add_argument("--repeats", type=int, default=3, help="renders per server count (the median is shown)")
    args = parser.parse_args()
    text = script(args.scenes, args.lines)
    rows, reference, same = [], None, True
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = make_tiny_checkpoint(root / "csm-tiny", seed=0)
        for n in args.servers:
            procs, urls = start_servers(n, model, args.threads, root)
            times, cpus = [], []
            try:
                for r in range(args.repeats):
                    elapsed, cpu, takes = run(urls, procs, root / f"run-{n}-{r}", text, args.max_line_ms)
                    times.append(elapsed)
                    cpus.append(cpu)
                    reference = reference or takes
                    same = same and same_takes(takes, reference)
            finally:
                stop_servers(procs)
            seconds = sum(len(audio) for _, audio in reference) / 4 / 24_000
            cpu = statistics.median(cpus) if None not in cpus else None
            rows.append((n, statistics.median(times), min(times), max(times), cpu, seconds))
    base = rows[0][1]
    print(f"## Parallel rendering over local servers ({date.today()}, {platform.system()} {platform.machine()}, "
          f"{os.cpu_count()} cores)\n")
    load = f"; load average {load_before:.2f} when it started" if load_before is not None else ""
    print(f"Tiny test model on the CPU, each server with {args.threads} torch/OpenMP thread(s); {args.scenes} scenes "
          f"x {args.lines} lines, up to {args.max_line_ms} ms a line; one RemoteEngine (one worker) per server; wall "
          f"time of `render_parallel` into a new project after each server's warm-up line, median of "
          f"{args.repeats}{load}.\n")
    print(f"| servers | wall time (s), median | min-max (s) | speed-up vs {args.servers[0]} | servers' CPU (s) "
          "| audio (s) |")
    print("|---|---|---|---|---|---|")
    for n, median, low, high, cpu, seconds in rows:
        cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
        print(f"| {n} | {median:.2f} | {low:.2f}-{high:.2f} | {base / median:.2f}x | {cpu_text} | {seconds:.1f} |")
    print(f"\nTakes identical across all {len(args.servers) * args.repeats} renders (keys, and samples within "
          f"{SAMPLE_TOLERANCE:g}): "
          f"{'yes' if same else 'NO'}.")


if __name__ == "__main__":
    main()
