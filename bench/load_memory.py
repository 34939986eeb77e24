"""Peak memory of loading a full-size CSM-1B checkpoint, against the size of the loaded model.

Writes a random checkpoint with CSM-1B's sizes (Sesame's original layout: ``llama-1B`` backbone,
``llama-100M`` depth decoder, 128,256 text tokens, 32 codebooks of 2051) in bfloat16 with
safetensors (about 3.1 GB), then loads it with ``checkpoint.load_model`` in a fresh process per
dtype and reports that process's peak resident memory (``ru_maxrss``) above what it held before
loading, divided by the bytes of the loaded parameters. Needs RAM for the writer (about twice
the file) and for the loads; ``--source`` names another checkout's package to measure its loader.

    python bench/load_memory.py --dtype float16 --dtype float32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = {"backbone_flavor": "llama-1B", "decoder_flavor": "llama-100M", "text_vocab_size": 128_256,
          "audio_vocab_size": 2051, "audio_num_codebooks": 32}

_CHILD = r"""
import json, resource, sys, torch
from pathlib import Path
from csm_desktop.engine.checkpoint import load_model

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

before = rss_kib()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model = load_model(Path(sys.argv[1]), torch.device("cpu"), getattr(torch, sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
params = sum(p.numel() * p.element_size() for p in model.parameters())
caches = sum(b.numel() * b.element_size() for b in model.buffers())
import csm_desktop
print(json.dumps({"package": csm_desktop.__file__, "rss_before_kib": before, "peak_before_kib": peak_before, "peak_kib": peak,
                  "param_bytes": params, "buffer_bytes": caches}))
"""


def write_checkpoint(folder: Path) -> Path:
    """A random CSM-1B-sized original-layout checkpoint in bfloat16 (one tensor made at a time)."""
    import torch
    from safetensors.torch import save_file

    from csm_desktop.engine.checkpoint import checkpoint_name_map
    from csm_desktop.engine.config import parse_config

    cfg = parse_config(CONFIG)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    g = torch.Generator().manual_seed(0)
    for ours, name in checkpoint_name_map(cfg).items():
        shape = _shape(cfg, ours)
        tensors[name] = torch.empty(shape, dtype=torch.bfloat16).normal_(std=0.02, generator=g)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(CONFIG))
    return folder


def _shape(cfg, ours: str) -> tuple[int, ...]:
    v, n = cfg.audio_vocab_size, cfg.audio_num_codebooks
    bdim, ddim = cfg.backbone.embed_dim, cfg.decoder.embed_dim
    top = {"text_embeddings.weight": (cfg.text_vocab_size, bdim), "audio_embeddings.weight": (v * n, bdim),
           "projection.weight": (ddim, bdim), "codebook0_head.weight": (v, bdim), "audio_head": (n - 1, ddim, v),
           "backbone.norm.weight": (bdim,), "decoder.norm.weight": (ddim,)}
    if ours in top:
        return top[ours]
    t = cfg.backbone if ours.startswith("backbone") else cfg.decoder
    hd, dim = t.attn_head_dim, t.embed_dim
    leaf = ours.split(".", 3)[3]
    return {"attn_norm.weight": (dim,), "mlp_norm.weight": (dim,), "attn.q": (t.num_heads * hd, dim),
            "attn.k": (t.num_kv_heads * hd, dim), "attn.v": (t.num_kv_heads * hd, dim),
            "attn.wo.weight": (dim, t.num_heads * hd), "mlp.gate": (t.intermediate_dim, dim),
            "mlp.up": (t.intermediate_dim, dim), "mlp.w2.weight": (dim, t.intermediate_dim)}[leaf]


def measure(folder: Path, dtype: str, source: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(source)}
    # -P: not the current folder first on sys.path, so the package comes from `source`.
    out = subprocess.run([sys.executable, "-P", "-c", _CHILD, str(folder), dtype], env=env, check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["source"] = str(source)
    net = (r["peak_kib"] - r["rss_before_kib"]) * 1024
    r.update(dtype=dtype, net_peak_bytes=net, ratio=net / r["param_bytes"])
    if r["peak_before_kib"] >= r["peak_kib"]:
        raise RuntimeError("the loading process started with a larger peak than loading reached: not measured")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", action="append", choices=("float16", "bfloat16", "float32"))
    ap.add_argument("--dir", type=Path, help="checkpoint folder (written if empty; a temporary one by default)")
    ap.add_argument("--source", type=Path, default=ROOT, help="folder holding the csm_desktop package to measure")
    ap.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_only:
        write_checkpoint(args.dir)
        return
    with tempfile.TemporaryDirectory(prefix="csm-load-", dir="/tmp") as tmp:
        folder = args.dir or Path(tmp) / "csm-1b-random"
        if not (folder / "model.safetensors").is_file():
            # In a process of its own: a child inherits its parent's peak (ru_maxrss survives
            # fork and exec), so this process stays small.
            subprocess.run([sys.executable, __file__, "--write-only", "--dir", str(folder)], check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        size = (folder / "model.safetensors").stat().st_size
        print(f"checkpoint: {folder} ({size / 2**30:.2f} GiB, bfloat16)")
        for dtype in args.dtype or ["float16"]:
            r = measure(folder, dtype, args.source)
            print(f"{dtype} ({r['package']}): model {r['param_bytes'] / 2**30:.2f} GiB (+{r['buffer_bytes'] / 2**20:.0f} MiB caches); "
                  f"RSS before load {r['rss_before_kib'] / 2**20:.2f} GiB, peak {r['peak_kib'] / 2**20:.2f} GiB; "
                  f"peak above before: {r['net_peak_bytes'] / 2**30:.2f} GiB = {r['ratio']:.2f}x the model")


if __name__ == "__main__":
    main()
