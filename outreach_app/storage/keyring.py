"""Keyring entries written in one statement: keys new to this device or replaced, each encrypted
under the device key by the caller (this module only stores what it is given).

A fresh phone's first sync opens about two keys a person (a thousand for 500 people); an ORM
object and a unit-of-work insert each cost more than opening the keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

__all__ = ["keep_entries"]

_UPSERT = (
    "INSERT INTO keyring (key_id, nonce, ciphertext) VALUES (?, ?, ?) "
    "ON CONFLICT (key_id) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext"
)


def keep_entries(session: Session, entries: Sequence[tuple[str, str, str]]) -> None:
    """Store ``(key id, nonce, ciphertext)`` entries, replacing any with the same key id."""
    if entries:
        session.connection().exec_driver_sql(_UPSERT, list(entries))
