"""CSM-1B speech generation on torch + Mimi. No Qt here."""

from csm_desktop.engine.generator import Candidate, Generator, Segment, load_csm_1b

__all__ = ["Candidate", "Generator", "Segment", "load_csm_1b"]
