"""CSM Desktop: multi-speaker dialogue with Sesame's CSM-1B on your own machine."""

__version__ = "0.1.0"
