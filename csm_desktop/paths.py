"""Where the app keeps its per-user files (overridable for tests and portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "csm-desktop"


def data_dir() -> Path:
    """Voice library, caches: ``$CSM_DESKTOP_DATA_DIR`` or the platform's user data folder."""
    override = os.environ.get("CSM_DESKTOP_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Settings: ``$CSM_DESKTOP_CONFIG_DIR`` or the platform's user config folder."""
    override = os.environ.get("CSM_DESKTOP_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Re-computable data (Mimi codes of clips): ``data_dir() / "cache"``."""
    return data_dir() / "cache"


def recovery_dir() -> Path:
    """Unsaved work of running apps, offered back after a crash: ``data_dir() / "recovery"``."""
    return data_dir() / "recovery"


def resources_dir() -> Path:
    """The ``resources/`` folder (icons) beside the package."""
    return Path(__file__).resolve().parent.parent / "resources"
