"""CSM-1B speech generation on torch + Mimi. No Qt here.

The public names load lazily (PEP 562), so that ``csm_desktop.engine.accel`` and the other
torch-free modules can be imported without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Candidate", "Generator", "Segment", "load_csm_1b"]

if TYPE_CHECKING:
    from csm_desktop.engine.generator import Candidate, Generator, Segment, load_csm_1b


def __getattr__(name: str):
    if name in __all__:
        from csm_desktop.engine import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
