"""The outbox as a push reads and acknowledges it, and the versions a pull brings: plain SQL on
the device's SQLite connection.

A push reads up to 500 pending versions, sends them, and marks what the server acknowledged. Done
through SQLAlchemy Core, binding each row and compiling a fresh ``IN (...)`` for every list of ids
cost more than SQLite's own work, so these few statements go to the driver as written: a list of
ids is one JSON array parameter, read with ``json_each``. Rows come back as dictionaries of the
wire fields, ready for ``ChangeIn``/``KeyGrantIn``.

``insert_received`` stores a pulled page's new versions the same way, one executemany of tuples,
and counts them as changes of their cases itself, one count per case (the insert trigger counts
only versions written here: see client migration 0004).
``acknowledge_versions`` is a bulk ``UPDATE``: the caller tells the journal with
``LocalStore.left_outbox``, as for any bulk statement.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import Any

from sqlmodel import Session

from shared.protocol import ChangeIn, KeyGrantIn, Version

__all__ = [
    "acknowledge_versions",
    "grant_keys_after",
    "held_seqs",
    "held_unsettled",
    "insert_received",
    "pending_grants",
    "pending_versions",
]

_CHANGE_FIELDS = tuple(ChangeIn.model_fields)
_GRANT_FIELDS = tuple(KeyGrantIn.model_fields)
_EMPTY = "[]"

# "pending IS 1", the partial index's own condition, so SQLite walks ix_local_version_outbox in push order.
_PENDING_VERSIONS = (
    f"SELECT {', '.join(_CHANGE_FIELDS)} FROM local_version "  # noqa: S608 (column names of the model)
    "WHERE pending IS 1 AND change_id NOT IN (SELECT value FROM json_each(?)) ORDER BY hlc LIMIT ?"
)
_PENDING_GRANTS = (
    f"SELECT {', '.join(_GRANT_FIELDS)} FROM key_grant "  # noqa: S608 (column names of the model)
    "WHERE pending IS 1 AND grant_id NOT IN (SELECT value FROM json_each(?)) ORDER BY grant_id LIMIT ?"
)
_LATER_GRANT_KEYS = (
    "SELECT key_id FROM key_grant WHERE pending IS 1 AND grant_id NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY grant_id LIMIT -1 OFFSET ?"
)
_HELD_SEQS = "SELECT change_id, seq FROM local_version WHERE change_id IN (SELECT value FROM json_each(?))"
_HELD_UNSETTLED = (
    "SELECT change_id, (pending IS 1 OR acknowledged IS NOT 1 OR seq IS NULL) FROM local_version "
    "WHERE change_id IN (SELECT value FROM json_each(?))"
)
_VERSION_FIELDS = tuple(Version.model_fields)
_TIER, _SETTLES = _VERSION_FIELDS.index("tier"), _VERSION_FIELDS.index("settles")
_VERSION_VALUES = itemgetter(*_VERSION_FIELDS)
_INSERT_RECEIVED = (
    f"INSERT INTO local_version ({', '.join(_VERSION_FIELDS)}, pending, acknowledged) "  # noqa: S608 (model's columns)
    f"VALUES ({', '.join('?' for _ in _VERSION_FIELDS)}, 0, 1)"
)
_COUNT_CHANGES = (
    "INSERT INTO case_change (case_id, changes) VALUES (?, ?) "
    "ON CONFLICT (case_id) DO UPDATE SET changes = changes + excluded.changes"
)
_ACKNOWLEDGE = (
    "UPDATE local_version SET pending = 0, acknowledged = 1, seq = ?, org_id = ?, author_user_id = ? "
    "WHERE change_id = ?"
)


def _ids(values: Collection[str]) -> str:
    return json.dumps(sorted(values)) if values else _EMPTY


def pending_versions(session: Session, skip: Collection[str], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` pending versions in push order (clock stamp), leaving out ``skip``."""
    rows = session.connection().exec_driver_sql(_PENDING_VERSIONS, (_ids(skip), limit)).all()
    found = []
    for row in rows:
        values = dict(zip(_CHANGE_FIELDS, row, strict=True))
        settles = values["settles"]
        values["settles"] = json.loads(settles) if settles and settles != _EMPTY else []
        found.append(values)
    return found


def pending_grants(session: Session, skip: Collection[str], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` pending key grants in push order (grant id), leaving out ``skip``."""
    rows = session.connection().exec_driver_sql(_PENDING_GRANTS, (_ids(skip), limit)).all()
    return [dict(zip(_GRANT_FIELDS, row, strict=True)) for row in rows]


def grant_keys_after(session: Session, skip: Collection[str], offset: int) -> set[str]:
    """The key ids of pending grants past the first ``offset`` (in push order, leaving out ``skip``)."""
    rows = session.connection().exec_driver_sql(_LATER_GRANT_KEYS, (_ids(skip), offset)).all()
    return {row[0] for row in rows}


def held_unsettled(session: Session, change_ids: Collection[str]) -> tuple[set[str], set[str]]:
    """Which of ``change_ids`` this device holds, and which of those are not yet settled with the
    server (pending, unacknowledged or without a seq): a version that comes back settled needs
    nothing done, as when a phone pulls back what it pushed itself."""
    rows = session.connection().exec_driver_sql(_HELD_UNSETTLED, (_ids(change_ids),)).all()
    return {row[0] for row in rows}, {row[0] for row in rows if row[1]}


def held_seqs(session: Session, change_ids: Collection[str]) -> dict[str, int | None]:
    """change id -> seq of the versions this device holds among ``change_ids``."""
    rows = session.connection().exec_driver_sql(_HELD_SEQS, (_ids(change_ids),)).all()
    return {row[0]: row[1] for row in rows}


def acknowledge_versions(
    session: Session, acknowledged: Sequence[tuple[str, int | None]], *, org_id: str, author_user_id: str
) -> None:
    """Mark these versions (change id, seq the server gave it) as stored by the server, in one
    executemany."""
    if acknowledged:
        session.connection().exec_driver_sql(
            _ACKNOWLEDGE, [(seq, org_id, author_user_id, change_id) for change_id, seq in acknowledged]
        )


def insert_received(session: Session, versions: Sequence[Version]) -> None:
    """Store versions pulled from the server (acknowledged, not pending) in one executemany, and
    count them as changes of their cases (what keeps a case's summary from being used stale)."""
    if not versions:
        return
    rows = []
    for version in versions:
        values = list(_VERSION_VALUES(version.__dict__))  # a model's field values (pydantic keeps them there)
        values[_TIER] = values[_TIER].value
        values[_SETTLES] = json.dumps(values[_SETTLES]) if values[_SETTLES] else _EMPTY
        rows.append(tuple(values))
    connection = session.connection()
    connection.exec_driver_sql(_INSERT_RECEIVED, rows)
    per_case = Counter(version.case_id for version in versions if version.case_id is not None)
    if per_case:
        connection.exec_driver_sql(_COUNT_CHANGES, list(per_case.items()))
