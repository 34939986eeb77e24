"""The benchmark scripts run (their figures come from real runs; see bench/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_runs_end_to_end_in_smoke_mode():
    """bench/engine.py gpu is measured only where a GPU is lent; its smoke mode runs the same
    code on the CPU with the tiny model, so the script does not rot between GPU sessions."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "engine.py"), "gpu", "--smoke", "--frames", "4", "--context-s", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "SMOKE RUN" in out and "measures nothing" in out
    rows = [line for line in out.splitlines() if line.startswith("| ours") or line.startswith("| transformers")]
    assert len(rows) == 3
    assert all(row.split("|")[5].strip() == "4" for row in rows)  # every engine made the 4 frames asked for


def test_parallel_benchmark_runs_and_finds_the_same_takes():
    """bench/parallel.py at its smallest: two runs (one server, then two) leave identical takes."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "parallel.py"), "--servers", "1", "2", "--scenes", "2", "--lines", "1",
         "--max-line-ms", "160", "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(rows) == 2
    assert "Takes identical across all 2 renders (keys, and samples within 1e-06): yes." in proc.stdout


def test_remote_payload_benchmark_runs_and_codes_are_smaller():
    """bench/remote_payload.py at its smallest: every line's codes request is the smallest."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remote_payload.py"), "--lines", "2", "--max-line-ms", "400"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(rows) == 2
    for row in rows:
        float_wav, flac, codes = (int(row[i].strip().replace(",", "")) for i in (3, 4, 5))
        assert codes < flac < float_wav


def test_checks_benchmark_runs_in_quick_mode():
    """bench/checks.py at its smallest: every table is printed and clean takes raise no alarm."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "checks.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("Length cap from the text", "Voice activity on clean speech", "Fault detection",
                    "Voice similarity", "Time per check of a 10 s take"):
        assert f"### {heading}" in proc.stdout
    assert "| clean | 16 | 16 (100 %)" in proc.stdout


def test_watermark_benchmark_runs_and_finds_the_mark():
    """bench/watermark.py at its smallest: one 8 s espeak-ng clip through every transformation."""
    import shutil

    import pytest

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (./run-tests installs it)")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "watermark.py"), "--clips", "1", "--seconds", "8"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.startswith("| ") and "/1 |" in line]
    assert len(rows) == 15 and all(row[2].strip() == "1/1" for row in rows)
