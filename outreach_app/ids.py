"""UUIDv7 identifiers (time-ordered) for cases, records, changes and grants."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["uuid7"]

_MS_MASK = (1 << 48) - 1


def uuid7(now_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) in canonical lower-case text form."""
    ms = (time.time_ns() // 1_000_000 if now_ms is None else now_ms) & _MS_MASK
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))
