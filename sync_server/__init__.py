"""Gatepost's blind sync server: stores ciphertext plus the metadata needed to route and order it.

``create_app(settings)`` builds the FastAPI application; ``outreach-server`` is the admin CLI.
Layers: ``api`` (routes, dependencies, problem responses) -> ``services`` (rules) -> ``storage``
(the only layer that queries the database). Imports ``shared`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from sync_server.app import create_app


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``import sync_server.settings`` (the CLI, Alembic) stays light.
    if name == "create_app":
        from sync_server.app import create_app

        return create_app
    raise AttributeError(f"module 'sync_server' has no attribute {name!r}")
