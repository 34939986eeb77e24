"""Opening the engine the settings ask for: the local CSM generator or a remote one."""

from __future__ import annotations

from csm_desktop.errors import CsmError
from csm_desktop.services.credentials import get_secret
from csm_desktop.settings import Settings


def open_engine(settings: Settings):
    """A :class:`~csm_desktop.dialogue.render.SpeechEngine` as configured (may download the model)."""
    if settings.engine == "remote":
        from csm_desktop.services.remote import RemoteEngine

        if not settings.remote_url:
            raise CsmError("Remote generation is selected but no URL is set. Add it in Settings > Engine.")
        token = get_secret("cerebrium")
        if not token:
            raise CsmError("Remote generation needs its API token. Add it in Settings > Credentials.")
        return RemoteEngine(settings.remote_url, token)
    from csm_desktop.services.models import load_csm_1b

    device = None if settings.device == "auto" else settings.device
    return load_csm_1b(device, model=settings.model, token=get_secret("huggingface"), accel=settings.accel)
