"""Talking to the outside world: keyring, hub, Gemini, remote engines. No Qt here."""
