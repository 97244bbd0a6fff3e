"""Where the client keeps its data and which server it talks to by default."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_SERVER_URL", "app_data_dir", "default_server_url"]

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"


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
