"""Giving freed memory back to the system.

glibc's malloc raises its mmap threshold each time a large block that came from mmap is freed
(up to 32 MiB): after the first mixdown or long take is freed, buffers of a few hundred KiB (a
take's audio, a resampled copy, a watermark's spectrogram) come from the heaps instead, spread
over the heaps of the threads that made them (the model's lane, the checks' thread, the side
pool), and the holes they leave are kept by the process. In a long session that is tens of MiB
that only grows (the soak test, ``tests/ui/test_long_session.py``, measured 30 to 70 MiB free
inside the heaps after a few rounds). :func:`release_free_memory` hands those free pages back;
the window calls it whenever a render ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the free pages of every malloc heap to the system (glibc's ``malloc_trim(0)``; a
    few milliseconds). Returns whether anything was released; False where there is no glibc."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
