"""API keys and tokens, kept by the OS keyring under the service name ``csm-desktop``.

Environment variables override for one run without being stored. Without a usable keyring,
a secret is kept in memory for this session only, and :class:`KeyringUnavailableError` says
what to install. No secret is ever written to settings, projects or logs: every value read here is
remembered by :mod:`csm_desktop.redaction`, which scrubs it from messages, logs and tracebacks.
"""

from __future__ import annotations

import os
import sys

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from csm_desktop.errors import CsmError
from csm_desktop.redaction import RedactingFilter, redact, remember

__all__ = ["RedactingFilter", "redact", "get_secret", "set_secret", "delete_secret", "secret_source",
           "keyring_usable", "env_override", "KeyringUnavailableError", "LABELS", "APP_SECRETS", "SERVICE"]

SERVICE = "csm-desktop"
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "huggingface": ("HF_TOKEN",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "cerebrium": ("CEREBRIUM_API_KEY",),
}
LABELS = {"huggingface": "Hugging Face token", "google": "Google (Gemini) API key", "cerebrium": "Remote engine key (Cerebrium API key, or serve's token)"}
# Secrets the app keeps for itself (not typed in Settings > Credentials, no environment override).
APP_SECRETS = {
    "content-credentials": "passphrase of this installation's content-credentials signing key",
    "content-credentials-own": "passphrase of your own content-credentials signing key",
}

_session: dict[str, str] = {}  # kept in memory when no keyring works


class KeyringUnavailableError(CsmError):
    """No system keyring is usable; the secret is kept for this session only."""


def _install_hint() -> str:
    if sys.platform.startswith("linux"):
        return ("Install and unlock a Secret Service keyring (for example: sudo apt-get install gnome-keyring, "
                "then log in again), or use KWallet.")
    return "Check that the system keychain is available and unlocked."


def _check_name(name: str) -> None:
    """A known secret; an app secret may name what it belongs to after an ``@`` (one installation's
    signing key: ``content-credentials@<folder digest>``)."""
    if name not in ENV_OVERRIDES and name.partition("@")[0] not in APP_SECRETS:
        raise ValueError(f"unknown secret {name!r}; known: {', '.join([*ENV_OVERRIDES, *APP_SECRETS])}")


def _remember(value: str | None) -> str | None:
    return remember(value)


def env_override(name: str) -> str | None:
    _check_name(name)
    for var in ENV_OVERRIDES.get(name, ()):
        if os.environ.get(var):
            return _remember(os.environ[var])
    return None


def get_secret(name: str) -> str | None:
    """The secret from the environment, else the keyring, else this session's memory."""
    if (value := env_override(name)) is not None:
        return value
    try:
        value = keyring.get_password(SERVICE, name)
    except (KeyringError, RuntimeError, OSError):
        value = None
    return _remember(value or _session.get(name))


def secret_source(name: str) -> str | None:
    """Where :func:`get_secret` finds the secret: "environment", "session" (no keyring),
    "keyring", or None."""
    if env_override(name) is not None:
        return "environment"
    if name in _session:
        return "session"
    return "keyring" if get_secret(name) is not None else None


def keyring_usable() -> bool:
    """Whether a system keyring can keep secrets (keyring picks its ``fail`` backend when none can)."""
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except (KeyringError, RuntimeError, OSError):
        return False
    if isinstance(backend, fail.Keyring):
        return False
    return getattr(backend, "backends", None) != []  # a chainer with nothing to chain


def set_secret(name: str, value: str) -> None:
    """Store a secret in the keyring.

    Raises:
        KeyringUnavailableError: no usable keyring; the secret is kept for this session only.
    """
    _check_name(name)
    value = value.strip()
    if not value:
        return delete_secret(name)
    _remember(value)
    try:
        keyring.set_password(SERVICE, name, value)
    except (NoKeyringError, KeyringError, RuntimeError, OSError):
        _session[name] = value
        label = LABELS.get(name) or APP_SECRETS[name.partition("@")[0]]
        raise KeyringUnavailableError(
            f"No system keyring is available, so the {label} is kept only until CSM Desktop closes. "
            + _install_hint()
        ) from None
    _session.pop(name, None)


def delete_secret(name: str) -> None:
    _check_name(name)
    _session.pop(name, None)
    try:
        keyring.delete_password(SERVICE, name)
    except PasswordDeleteError:
        pass  # nothing stored
    except (NoKeyringError, KeyringError, RuntimeError, OSError):
        pass  # nothing can be stored there either
