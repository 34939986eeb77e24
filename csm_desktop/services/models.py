"""The public way to load CSM-1B by name, as Sesame's ``load_csm_1b``: a hub repository id is
turned into a local folder by :mod:`csm_desktop.services.model_source` (cache, or the one
downloader), then the engine loads that folder (:func:`csm_desktop.engine.load_csm_1b`, which never downloads)."""

from __future__ import annotations

import os

import torch

from csm_desktop.engine import Generator
from csm_desktop.engine import load_csm_1b as load_folder
from csm_desktop.services import model_source
from csm_desktop.services.download import ProgressCallback
from csm_desktop.settings import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "load_csm_1b"]


def load_csm_1b(
    device: str | torch.device | None = None,
    *,
    model: str | os.PathLike = DEFAULT_MODEL,
    token: str | None = None,
    accel: str | None = "auto",
    warm_up: bool = True,
    on_progress: ProgressCallback | None = None,
) -> Generator:
    """Load CSM-1B from a hub repository id or a local folder (either checkpoint layout).

    Args:
        device: ``"cuda"``, ``"mps"``, ``"cpu"``, or None for the best available.
        model: hub repository id (downloaded with ``token``, or found in the cache) or a local
            model folder. Weights without a codec bring moshi's Mimi release file, fetched the
            same way.
        token: Hugging Face access token for the gated repository.
        accel: ``"auto"`` (CUDA graph on CUDA, eager elsewhere), ``"off"``, ``"graph"`` or
            ``"compile"``; the ``CSM_DESKTOP_ACCEL`` environment variable overrides it.
        warm_up: prepare the frame step (graph capture, compilation) before returning.
        on_progress: told the bytes done of a download, if one is needed (a partial one resumes).

    Raises:
        ModelNotFoundError, ModelAccessError, NetworkError: the model is not found or not reachable.
        CheckpointError: its files are missing or unusable.
    """
    folder = model_source.resolve_model_folder(model, token, on_progress=on_progress)
    mimi = None
    if model_source.needs_mimi_release(folder):
        mimi = model_source.mimi_release_file(token, on_progress=on_progress)
    return load_folder(device, model=folder, mimi=mimi, accel=accel, warm_up=warm_up, model_id=str(model))
