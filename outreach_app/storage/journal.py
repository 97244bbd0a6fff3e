"""``OutboxJournal``: an append-only, fsynced copy of the outbox beside the device database.

The database is the device's working copy; the journal exists so that a damaged or vanished
database never takes unsent work with it. It holds exactly what the outbox holds — the pending
versions and key grants, as the server would receive them (ciphertext under case keys, grants
wrapped or sealed) — plus who the device belongs to (server address, user and device ids, email,
role, organisation), so a rebuilt database can sign the same user in on the same device id.
Nothing in it is readable about a person.

Each write transaction of ``LocalStore`` appends one line *before* it commits (and fsyncs it), so
the journal always holds at least the outbox the database has committed. A line is
``<sha256 prefix> <json>``; a torn last line (the app killed mid-append) fails its checksum and is
ignored — its transaction never committed. When the server acknowledges a version, a later line
drops it; when nothing is left the file is emptied, and it is rewritten from the database's
outbox whenever a healthy database is opened (so a transaction that appended but did not commit
leaves nothing behind).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["JournalEntry", "OutboxJournal"]

EntryType = Literal["version", "grant"]
_CHECK_CHARS = 16
# Rewrite the file once it is this many times larger than what it must hold (acknowledged work),
# and larger than the floor. The floor is high because a sync that empties a big outbox drops it
# batch by batch: each rewrite on the way re-serialises everything still unsent (once measured at
# a tenth of a 10,000-note push), while the emptied outbox resets the file at the end anyway.
_COMPACT_FACTOR = 4
COMPACT_MIN_BYTES = 16_000_000


@dataclass(frozen=True)
class JournalEntry:
    type: EntryType
    item_id: str  # change id or grant id
    data: Mapping[str, Any]  # the ChangeIn or KeyGrantIn fields


class OutboxJournal:
    """One device's journal. Not thread-safe on its own: ``LocalStore`` calls it under its write lock,
    and one process opens a device at a time (``outreach_app.main`` keeps one ``Gatepost`` per
    database), since each journal keeps what is live in memory."""

    def __init__(self, path: Path, *, compact_min_bytes: int = COMPACT_MIN_BYTES) -> None:
        self.path = path
        self.compact_min_bytes = compact_min_bytes
        self.live: dict[str, JournalEntry] = {}
        self._sizes: dict[str, int] = {}  # bytes each live entry takes in the file
        self.identity: dict[str, str] = {}
        self.existed = path.exists()
        self.damaged_lines = 0
        self._needs_rewrite = False
        if self.existed:
            self._load()

    # --- reading -------------------------------------------------------------------------------

    def _load(self) -> None:
        with self.path.open("rb") as file:
            for raw in file:
                record = _parse_line(raw)
                if record is None:
                    self.damaged_lines += 1
                    continue
                self._apply(record)
        # A torn line (the app killed mid-append) has no newline: the next append must not follow it.
        self._needs_rewrite = self.damaged_lines > 0

    def _apply(self, record: Mapping[str, Any]) -> None:
        if "identity" in record:
            self.identity = {str(k): str(v) for k, v in record["identity"].items()}
        for item in record.get("put", ()):
            entry = JournalEntry(type=item["type"], item_id=str(item["id"]), data=item["data"])
            self.live[entry.item_id] = entry
            self._sizes[entry.item_id] = len(json.dumps(item, separators=(",", ":")))
        for item_id in record.get("drop", ()):
            self.live.pop(str(item_id), None)
            self._sizes.pop(str(item_id), None)

    def entries(self, entry_type: EntryType) -> list[JournalEntry]:
        return [entry for entry in self.live.values() if entry.type == entry_type]

    # --- writing -------------------------------------------------------------------------------

    def record(
        self, puts: Iterable[JournalEntry], drops: Iterable[str], identity: Mapping[str, str] | None = None
    ) -> None:
        """Append one step (items new to or changed in the outbox, items that left it) and fsync it.

        The in-memory state follows only once the step is on disk, so a failed append (a full
        disk) fails the caller's transaction and leaves the journal as it was.
        """
        changed = [entry for entry in puts if self.live.get(entry.item_id) != entry]
        gone = sorted({item_id for item_id in drops if item_id in self.live})
        new_identity = identity is not None and dict(identity) != self.identity
        if not changed and not gone and not new_identity:
            return
        record: dict[str, Any] = {}
        if new_identity and identity is not None:
            record["identity"] = dict(identity)
        if changed:
            record["put"] = [_entry_json(entry) for entry in changed]
        if gone:
            record["drop"] = gone
        remaining = (set(self.live) | {entry.item_id for entry in changed}) - set(gone)
        if not remaining or self._needs_rewrite:
            # Nothing unsent (keep only who the device belongs to), or the file's tail is damaged.
            live, sizes, known = dict(self.live), dict(self._sizes), dict(self.identity)
            self._apply(record)
            try:
                self.replace(self.live.values(), self.identity)
            except BaseException:
                self.live, self._sizes, self.identity = live, sizes, known
                raise
            return
        try:
            with self.path.open("ab") as file:
                file.write(_line(record))
                file.flush()
                _sync_data(file.fileno())
        except BaseException:
            self._needs_rewrite = True  # a partial line may be there: never append after it
            raise
        self._sync_directory_once()
        self._apply(record)
        if self.path.stat().st_size > max(self.compact_min_bytes, _COMPACT_FACTOR * self._live_bytes()):
            self.replace(self.live.values(), self.identity)

    def replace(self, entries: Iterable[JournalEntry], identity: Mapping[str, str]) -> None:
        """Make the journal hold exactly ``entries`` (atomically: a temporary file renamed over it)."""
        listed = list(entries)
        self.live, self._sizes = {}, {}
        record: dict[str, Any] = {"identity": dict(identity)}
        if listed:
            record["put"] = [_entry_json(entry) for entry in listed]
        self._apply(record)
        self._write_all([record])
        self.damaged_lines = 0
        self._needs_rewrite = False

    def _write_all(self, records: list[dict[str, Any]]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as file:
            for record in records:
                file.write(_line(record))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        _fsync_directory(self.path.parent)
        self.existed = True

    def _live_bytes(self) -> int:
        return sum(self._sizes.values())

    def _sync_directory_once(self) -> None:
        if not self.existed:
            _fsync_directory(self.path.parent)  # the file's name is durable too
            self.existed = True


def _entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {"type": entry.type, "id": entry.item_id, "data": dict(entry.data)}


def _line(record: Mapping[str, Any]) -> bytes:
    body = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return f"{_checksum(body)} {body}\n".encode()


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:_CHECK_CHARS]


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        text = raw.decode().rstrip("\n")
        check, _, body = text.partition(" ")
        if not raw.endswith(b"\n") or check != _checksum(body):
            return None
        record = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _sync_data(descriptor: int) -> None:
    # fdatasync still writes the file's new size (needed to read the data back), not its times.
    if hasattr(os, "fdatasync"):
        os.fdatasync(descriptor)
    else:
        os.fsync(descriptor)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
