"""Content hashes that make pushes idempotent: same id and same hash means the same change."""

from __future__ import annotations

import hashlib
import json

import pydantic_core
from pydantic import BaseModel

from shared.protocol import ChangeIn

__all__ = ["canonical_json", "content_hash"]

_CHANGE_FIELDS = tuple(sorted(ChangeIn.model_fields))


def canonical_json(item: BaseModel) -> bytes:
    """The canonical JSON of a change, grant or share: keys sorted, no spaces, UTF-8 (``json.dumps`` with
    ``sort_keys`` and ``ensure_ascii=False``). Stored hashes depend on these exact bytes."""
    return json.dumps(
        item.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_hash(item: BaseModel) -> str:
    """SHA-256 (hex) of the canonical JSON of a change, grant or share exactly as the client sent it."""
    if isinstance(item, ChangeIn):
        # Every field of a change is an id, base64, a stamp, a name, an enum, null or a list of ids:
        # ASCII with nothing to escape, so pydantic-core's compact JSON of the sorted fields is
        # canonical_json byte for byte, at half the cost (a test holds the two equal).
        values = item.__dict__  # a model's field values (pydantic keeps them there)
        data = pydantic_core.to_json({name: values[name] for name in _CHANGE_FIELDS})
    else:
        data = canonical_json(item)
    return hashlib.sha256(data).hexdigest()
