"""Mimi audio codec (moshi) with 32 codebooks: 24 kHz audio <-> 12.5 Hz frames of codes."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import torch

from csm_desktop.engine import mimi_weights
from csm_desktop.engine.weights import (
    CODEC_PREFIX,
    MIMI_CONFIG_FILE,
    MIMI_FILE,
    WeightSet,
    read_small_json,
    read_weights,
)
from csm_desktop.errors import CheckpointError

MPS_CALL_FRAMES = 32  # see MimiCodec.max_call_frames


class MimiCodec:
    """Wraps a moshi ``MimiModel``. Audio tensors are 1-D float32 at :attr:`sample_rate`."""

    def __init__(self, mimi, device: torch.device, identity: str) -> None:
        self.mimi = mimi
        self.device = device
        self.identity = identity  # names these weights, for caches keyed by codec
        self.sample_rate = int(mimi.sample_rate)
        self.frame_size = int(mimi.frame_size)
        self.num_codebooks = int(mimi.num_codebooks)
        self.cardinality = int(mimi.cardinality)
        # moshi CUDA-graphs Mimi's streaming decoder on CUDA; the engine's speed-up switch
        # turns that off together with its own graphs.
        self.use_graphs = True
        self._stream: torch.cuda.Stream | None = None  # Mimi's own CUDA stream, beside the frame step's
        # Frames per Mimi call in encode/decode (None: any length). MPS before macOS 15.1 refuses
        # a convolution output longer than 65536 ("Output channels > 65536 not supported at the
        # MPS device"), and Mimi's outer convolutions make one value per sample: 2.7 s at 24 kHz.
        # Longer audio goes through in pieces of 32 frames (61440 samples), with Mimi's streaming
        # state carrying each piece's context to the next, which gives the whole call's result.
        self.max_call_frames: int | None = MPS_CALL_FRAMES if device.type == "mps" else None

    def _pieces(self, frames: int) -> int | None:
        """Frames per call when ``frames`` must be split, else None."""
        n = self.max_call_frames
        return n if n is not None and frames > n else None

    @torch.inference_mode()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """audio ``[T]`` -> codes ``[num_codebooks, frames]`` (long, on the codec's device)."""
        x = audio.to(self.device, torch.float32).reshape(1, 1, -1)
        pad = -x.shape[-1] % self.frame_size  # Mimi takes whole frames: pad the last with silence
        if pad:
            x = torch.nn.functional.pad(x, (0, pad))
        n = self._pieces(x.shape[-1] // self.frame_size)
        if n is None:
            return self.mimi.encode(x)[0].long()
        step = n * self.frame_size
        with self.mimi.streaming(1):
            return torch.cat([self.mimi.encode(x[..., i : i + step]) for i in range(0, x.shape[-1], step)], -1)[0].long()

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[num_codebooks, frames]`` -> audio ``[frames * frame_size]`` on the CPU."""
        if codes.shape[-1] == 0:
            return torch.zeros(0)
        codes = codes.to(self.device).unsqueeze(0)
        n = self._pieces(codes.shape[-1])
        if n is None:
            return self.mimi.decode(codes)[0, 0].float().cpu()
        with self.mimi.streaming(1):
            return torch.cat([self.mimi.decode(codes[..., i : i + n]) for i in range(0, codes.shape[-1], n)],
                             -1)[0, 0].float().cpu()

    @contextlib.contextmanager
    def streaming(self):
        """Within this block, :meth:`decode_step` keeps the decoder's state between calls."""
        with torch.inference_mode(), self.mimi.streaming(1):
            yield

    def decode_step(self, codes: torch.Tensor, ready: torch.cuda.Event | None = None):
        """Decode the next ``[num_codebooks, n]`` frames inside :meth:`streaming` (on CUDA, with
        graphs on, every call of one streaming block must pass the same ``n``).

        Without ``ready``: the audio ``[n * frame_size]`` on the CPU. With ``ready`` (a CUDA
        event after which ``codes`` are made): ``(copy of codes, audio)``, decoded on the codec's
        own stream once the event has passed, so the main stream goes on with the next frame.
        """
        from moshi.utils.compile import no_cuda_graph

        graphs = contextlib.nullcontext() if self.use_graphs else no_cuda_graph()
        if ready is None:
            with torch.inference_mode(), graphs:
                return self.mimi.decode(codes.to(self.device).unsqueeze(0))[0, 0].float().cpu()
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        caller = torch.cuda.current_stream(self.device)
        self._stream.wait_event(ready)
        with torch.inference_mode(), graphs, torch.cuda.stream(self._stream):
            kept = codes.clone()  # made on this stream: safe to read when the caller gets it
            audio = self.mimi.decode(kept.unsqueeze(0))[0, 0].float().cpu()  # waits for this stream only
        kept.record_stream(caller)  # its memory is not reused while the caller's stream may read it
        return kept, audio


def _file_identity(*paths: Path, tag: str = "") -> str:
    h = hashlib.sha256(tag.encode())
    for path in paths:
        st = path.stat()
        h.update(f"{path.name}:{st.st_size}".encode())
        with path.open("rb") as f:  # the header and the first MiB name the weights well enough
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def _codec_from_checkpoint(folder: Path, chosen: WeightSet, device: torch.device, num_codebooks: int) -> MimiCodec:
    """moshi's Mimi with the ``codec_model.*`` tensors of a transformers checkpoint."""
    from moshi.models import loaders

    config = read_small_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    codec_config = config.get("codec_config") if isinstance(config, dict) else None
    mimi_config = mimi_weights.moshi_config(codec_config if isinstance(codec_config, dict) else {})
    raw = read_weights(folder, chosen, lambda key: key.startswith(CODEC_PREFIX))
    tensors = {key[len(CODEC_PREFIX):]: t for key, t in raw.items()}
    files = sorted({chosen.weight_map[k] for k in raw} if chosen.weight_map else chosen.files)
    try:
        mimi = loaders.get_mimi(None, mimi_config=mimi_config, device="cpu", num_codebooks=num_codebooks)
        state = mimi_weights.moshi_state(list(mimi.state_dict()), tensors, mimi_config["transformer"]["num_heads"])
        mimi.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"The codec weights in {folder} could not be loaded ({exc}). "
                              "Download the model again.") from exc
    return MimiCodec(mimi.to(device), device, _file_identity(*(folder / f for f in files), tag=CODEC_PREFIX))


def load_mimi(folder: Path | None, device: torch.device, num_codebooks: int, chosen: WeightSet | None = None,
              mimi: Path | None = None) -> MimiCodec:
    """Mimi from the file ``mimi`` when given (moshi's release file, for checkpoints without a
    codec), else from the model folder (``mimi.safetensors``, or ``codec_model.*`` in the chosen
    weights). A ``mimi_config.json`` beside a Mimi file gives a non-standard size. Nothing is
    downloaded.

    Raises:
        CheckpointError: no codec anywhere, or its weights do not load.
    """
    from moshi.models import loaders

    path = folder / MIMI_FILE if folder is not None else None
    if mimi is not None:
        path = Path(mimi).expanduser()
        if not path.is_file():
            raise CheckpointError(f"The Mimi codec weights {path} do not exist. Check the path, or leave it out "
                                  "for a model folder that carries its codec.")
    elif path is None or not path.is_file():
        if folder is not None and chosen is not None and chosen.has_codec:
            return _codec_from_checkpoint(folder, chosen, device, num_codebooks)
        raise CheckpointError(
            f"The Mimi codec weights are missing: {folder} carries no codec ({MIMI_FILE} or codec_model.* "
            f"tensors). Download the model through the app (Model setup) or load it with "
            f"csm_desktop.services.models.load_csm_1b, which fetches moshi's {loaders.MIMI_NAME} from "
            f"{loaders.DEFAULT_REPO}; or pass that file as mimi=."
        )
    config = None
    cfg_path = path.with_name(MIMI_CONFIG_FILE)  # a non-standard size says so beside the weights
    if cfg_path.is_file():
        try:
            config = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{cfg_path} is malformed ({exc}).") from exc
    try:
        mimi_model = loaders.get_mimi(str(path), mimi_config=config, device=device, num_codebooks=num_codebooks)
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        raise CheckpointError(f"The Mimi codec weights {path} could not be loaded ({exc}).") from exc
    return MimiCodec(mimi_model, device, _file_identity(path))
