"""CSM-1B speech generation on torch + Mimi. No Qt here."""

from csm_desktop.engine.generator import Generator, Segment, load_csm_1b

__all__ = ["Generator", "Segment", "load_csm_1b"]
