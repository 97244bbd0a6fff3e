"""Queries on records, versions and key grants.

Pull queries read one organisation's rows above a cursor in sequence order, through the
``(org_id, seq)`` index (versions) or the ``(recipient_kind, recipient_id, org_id, seq)`` index (grants),
and fetch at most ``limit`` rows: their cost follows what is returned, not the database size.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sync_server.storage import driver
from sync_server.storage.tables import KeyGrantRow, RecordRow, VersionRow

__all__ = [
    "add_rows",
    "get_grants",
    "get_records",
    "get_versions",
    "grants_after",
    "grants_after_statement",
    "insert_rows",
    "keys_wrapped_for_organisation",
    "taken_entries",
    "versions_after",
    "versions_after_statement",
]


_RECORD: str = RecordRow.__tablename__
_VERSION: str = VersionRow.__tablename__
_GRANT: str = KeyGrantRow.__tablename__


def _chunks(values: Collection[str], size: int = 500) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_versions(session: Session, change_ids: Collection[str]) -> dict[str, Row[Any]]:
    """What a push checks of versions it may repeat (columns, not ORM objects): their
    ``change_id``, ``org_id``, ``seq`` and ``content_hash``."""
    rows = driver.select_where_in(
        session.connection(), _VERSION, ("change_id", "org_id", "seq", "content_hash"), "change_id", change_ids
    )
    return {row.change_id: row for row in rows}


def get_records(session: Session, record_ids: Collection[str]) -> dict[str, Row[Any]]:
    """The ``record_id``, ``org_id``, ``case_id`` and ``kind`` of these records (columns: a push
    reads every record and case it touches, and an ORM object each was most of its cost)."""
    rows = driver.select_where_in(
        session.connection(), _RECORD, ("record_id", "org_id", "case_id", "kind"), "record_id", record_ids
    )
    return {row.record_id: row for row in rows}


def taken_entries(session: Session, record_ids: Collection[str]) -> set[tuple[str, str]]:
    """The ``(record_id, field)`` pairs among ``record_ids`` that already have a version."""
    rows = driver.select_where_in(session.connection(), _VERSION, ("record_id", "field"), "record_id", record_ids)
    return {(row.record_id, row.field) for row in rows}


def get_grants(session: Session, grant_ids: Collection[str]) -> dict[str, KeyGrantRow]:
    found: dict[str, KeyGrantRow] = {}
    for chunk in _chunks(grant_ids):
        for row in session.exec(select(KeyGrantRow).where(col(KeyGrantRow.grant_id).in_(chunk))):
            found[row.grant_id] = row
    return found


def keys_wrapped_for_organisation(session: Session, org_id: str, key_ids: Collection[str]) -> set[tuple[str, str]]:
    """``(key id, wrapped with)`` of the organisation's own wraps of these keys already stored."""
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(key_ids):
        statement = select(KeyGrantRow.key_id, KeyGrantRow.wrapped_with).where(
            KeyGrantRow.org_id == org_id,
            KeyGrantRow.recipient_kind == "organisation",
            KeyGrantRow.recipient_id == org_id,
            col(KeyGrantRow.key_id).in_(chunk),
        )
        found.update((key_id, wrapped_with) for key_id, wrapped_with in session.exec(statement).all())
    return found


def add_rows(session: Session, rows: Iterable[RecordRow | VersionRow | KeyGrantRow]) -> None:
    session.add_all(list(rows))
    session.flush()


def insert_rows(
    session: Session,
    *,
    records: Sequence[dict[str, object]] = (),
    versions: Sequence[dict[str, object]] = (),
    grants: Sequence[dict[str, object]] = (),
) -> None:
    """Insert new rows given as column values, one executemany per table (records first: versions
    refer to them), in the session's transaction. A push's rows go this way, by the driver: an ORM
    object per version, or Core's binding of each row, cost more than the insert itself."""
    connection = session.connection()
    for table, rows in ((_RECORD, records), (_VERSION, versions), (_GRANT, grants)):
        driver.insert_many(connection, table, rows)


def versions_after_statement(
    org_id: str,
    since: int,
    until: int,
    limit: int,
    *,
    tier: str | None = None,
    case_ids: Collection[str] | None = None,
    exclude_kinds: Collection[str] = (),
) -> SelectOfScalar[VersionRow]:
    statement = select(VersionRow).where(VersionRow.org_id == org_id, VersionRow.seq > since, VersionRow.seq <= until)
    if exclude_kinds:
        statement = statement.where(col(VersionRow.kind).not_in(sorted(exclude_kinds)))
    if tier is not None:
        statement = statement.where(VersionRow.tier == tier)
    if case_ids is not None:
        statement = statement.where(col(VersionRow.case_id).in_(sorted(case_ids)))
    return statement.order_by(col(VersionRow.seq)).limit(limit)


def versions_after(
    session: Session,
    org_id: str,
    since: int,
    until: int,
    limit: int,
    *,
    tier: str | None = None,
    case_ids: Collection[str] | None = None,
    exclude_kinds: Collection[str] = (),
) -> Sequence[Row[Any]]:
    """Up to ``limit`` versions of ``org_id`` with ``since < seq <= until``, in sequence order.

    ``tier`` and ``case_ids`` narrow the result (a peer mentor's view); ``exclude_kinds`` leaves out
    kinds the caller may not receive (case views, for anyone but a coordinator). The rows are plain rows of
    the version table's columns (attribute access by column name), not ORM objects: a pull page
    reads hundreds of versions only to send them on.
    """
    statement = versions_after_statement(
        org_id, since, until, limit, tier=tier, case_ids=case_ids, exclude_kinds=exclude_kinds
    )
    return session.connection().execute(statement).all()


def grants_after_statement(
    org_id: str, recipient_kind: str, recipient_id: str, since: int, until: int, limit: int
) -> SelectOfScalar[KeyGrantRow]:
    return (
        select(KeyGrantRow)
        .where(
            KeyGrantRow.recipient_kind == recipient_kind,
            KeyGrantRow.recipient_id == recipient_id,
            KeyGrantRow.org_id == org_id,
            KeyGrantRow.seq > since,
            KeyGrantRow.seq <= until,
        )
        .order_by(col(KeyGrantRow.seq))
        .limit(limit)
    )


def grants_after(
    session: Session, org_id: str, recipient_kind: str, recipient_id: str, since: int, until: int, limit: int
) -> Sequence[Row[Any]]:
    """Up to ``limit`` grants of ``org_id`` to one recipient with ``since < seq <= until``, in order:
    plain rows of the grant table's columns, as ``versions_after`` (every pull asks twice)."""
    statement = grants_after_statement(org_id, recipient_kind, recipient_id, since, until, limit)
    return session.connection().execute(statement).all()
