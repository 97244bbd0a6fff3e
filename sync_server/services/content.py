"""Content hashes that make pushes idempotent: same id and same hash means the same change."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

__all__ = ["content_hash"]


def content_hash(item: BaseModel) -> str:
    """SHA-256 (hex) of the canonical JSON of a change, grant or share exactly as the client sent it."""
    canonical = json.dumps(
        item.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
