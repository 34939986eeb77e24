"""bench/mac.py runs where there is no Mac: it skips MPS and Metal and measures the CPU engines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mac_benchmark_prints_both_engines_and_skips_what_is_missing():
    mx = pytest.importorskip("mlx.core")
    import torch

    mps = torch.backends.mps.is_available()
    here = {"torch-mps": mps, "torch-mps-unmasked": mps, "mlx-gpu": mx.metal.is_available(),
            "torch-cpu": True, "mlx-cpu": True}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "mac.py"), "--size", "tiny", "--frames", "3", "--context-s", "1",
         "--repeats", "1", "--engines", "torch-mps,torch-mps-unmasked,mlx-gpu,torch-cpu,mlx-cpu"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| engine")}
    assert set(rows) == set(here)
    for name, available in here.items():
        dtype, load, first, rtf = (cell.strip() for cell in rows[name])
        if not available:  # Linux CI: no Apple GPU
            assert first.startswith("skipped:"), rows[name]
            continue
        assert dtype in ("float32", "float16") and float(load) > 0 and float(first) > 0 and 0 < float(rtf) < 100


@pytest.mark.parametrize("name", ["torch-cpu", "mlx-cpu"])
def test_full_size_engine_builder_runs(name, tiny_folder, tmp_path, monkeypatch):
    """The --size full path builds its engine as the loader would (dtype and policy for the device);
    checked with the tiny model's sizes, since a full-size build takes minutes."""
    if name.startswith("mlx"):
        pytest.importorskip("mlx.core")
    import torch

    from csm_desktop.engine import Segment
    from csm_desktop.engine import config as engine_config

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import mac
    finally:
        sys.path.remove(str(ROOT / "bench"))
    tiny = engine_config.read_config(tiny_folder)
    monkeypatch.setattr(engine_config, "parse_config", lambda raw: tiny)
    mac.use_mlx_device(name)
    gen = mac.full_engine(name, tmp_path)
    context = [Segment(0, mac.CONTEXT_TEXT, codes=gen.encode_audio(torch.randn(1920 * 3) * 0.1))]
    first, rtf = mac.timed_stream(gen, context, 3)
    assert first > 0 and rtf > 0
