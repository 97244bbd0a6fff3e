"""Where the client keeps its data and which server it talks to by default."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DEFAULT_LOCK_AFTER_SECONDS",
    "DEFAULT_SERVER_URL",
    "app_data_dir",
    "default_server_url",
    "lock_after_seconds",
]

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
DEFAULT_LOCK_AFTER_SECONDS = 5 * 60


def app_data_dir() -> Path:
    """``FLET_APP_STORAGE_DATA`` (phones; survives app updates), else ``OUTREACH_APP_DATA``,
    else ``~/.local/share/gatepost``."""
    for name in ("FLET_APP_STORAGE_DATA", "OUTREACH_APP_DATA"):
        value = os.environ.get(name)
        if value:
            return Path(value)
    return Path.home() / ".local" / "share" / "gatepost"


def default_server_url() -> str:
    return os.environ.get("OUTREACH_SERVER_URL") or DEFAULT_SERVER_URL


def lock_after_seconds() -> int:
    """How long an unlocked app may go untouched before it locks (``OUTREACH_LOCK_AFTER_SECONDS``)."""
    raw = os.environ.get("OUTREACH_LOCK_AFTER_SECONDS", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_LOCK_AFTER_SECONDS
    except ValueError:
        return DEFAULT_LOCK_AFTER_SECONDS
    return value if value > 0 else DEFAULT_LOCK_AFTER_SECONDS
