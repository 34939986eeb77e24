"""Which engine a device choice means: torch (CUDA, MPS, CPU), or MLX on Apple Silicon.

Imports neither torch nor mlx, so that the settings and the command line can ask.
"""

from __future__ import annotations

import platform
import sys

MLX = "mlx"


def is_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def mlx_installed() -> bool:
    """Whether ``mlx`` imports here (it installs on Apple Silicon, and as ``mlx[cpu]`` on Linux)."""
    try:
        import mlx.core  # noqa: F401
    except ImportError:
        return False
    return True


def wants_mlx(device: object) -> bool:
    """True for ``"mlx"``, and for no choice (``None``/``"auto"``) on Apple Silicon with MLX installed."""
    if device is None or str(device) == "auto":
        return is_apple_silicon() and mlx_installed()
    return str(device) == MLX
