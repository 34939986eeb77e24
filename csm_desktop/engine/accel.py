"""The frame step's speed-up modes, in a module that imports no torch: the settings and the
command line offer them without loading the engine.

``auto`` means a CUDA graph on CUDA and eager elsewhere; ``off`` is plain PyTorch; ``graph`` a
CUDA graph (CUDA only); ``compile`` ``torch.compile`` of the step (on CUDA inside a graph).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from csm_desktop.errors import CsmError

if TYPE_CHECKING:
    import torch

ACCELS = ("auto", "off", "graph", "compile")
ACCEL_ENV = "CSM_DESKTOP_ACCEL"  # overrides the setting, e.g. CSM_DESKTOP_ACCEL=off to rule graphs out


def resolve_accel(choice: str | None, device: torch.device) -> str:
    """The frame-step mode to use: ``"off"`` (eager), ``"graph"`` or ``"compile"``.

    ``auto`` means a CUDA graph on CUDA and eager elsewhere (MPS and CPU have no graphs, and
    compiling on them costs more start-up than it saves for most users). ``graph`` falls back
    to eager off CUDA; ``compile`` works on CUDA and on the CPU (with a C++ compiler), and is
    refused on MPS, where inductor's Metal backend is a prototype with known wrong results and
    nothing checks its frames against eager ones.
    """
    from_env = os.environ.get(ACCEL_ENV)
    choice = from_env or choice or "auto"
    if choice not in ACCELS:
        where = f"The environment variable {ACCEL_ENV} says" if from_env else "Unknown speed-up mode"
        raise CsmError(f"{where} {choice!r}: use one of {', '.join(ACCELS)}" + (", or unset it." if from_env else "."))
    if choice == "compile" and device.type == "mps":
        where = f"The environment variable {ACCEL_ENV} asks" if from_env else "The speed-up mode 'compile' asks"
        raise CsmError(f"{where} for torch.compile, which is not offered on a Mac's GPU (MPS): its Metal backend is "
                       "an early prototype that can give wrong audio. Choose 'auto' or 'off'"
                       + (", or unset the variable." if from_env else " in Settings."))
    if choice == "auto":
        return "graph" if device.type == "cuda" else "off"
    if choice == "graph" and device.type != "cuda":
        return "off"
    return choice
