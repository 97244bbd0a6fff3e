"""Queries on a case's state (closed, erased) and the deletion that erases a case.

An erased case keeps one ``case_state`` row, the tombstone: the pull reads tombstones above a
cursor through the ``(org_id, erased_seq)`` index, the push checks the cases it writes to.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, cast, delete, or_
from sqlmodel import Session, col, select

from sync_server.storage.tables import AssignmentRow, CaseStateRow, KeyGrantRow, OrganisationRow, RecordRow, VersionRow

__all__ = [
    "DeletedRows",
    "delete_case_content",
    "delete_case_views",
    "delete_case_views_before",
    "due_for_erasure",
    "erased_after",
    "erased_among",
    "get_case_state",
    "save_case_state",
]

_DAY_MS = 86_400_000
_ID_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class DeletedRows:
    versions: int
    records: int
    key_grants: int
    assignments: int


def get_case_state(session: Session, case_id: str) -> CaseStateRow | None:
    return session.get(CaseStateRow, case_id)


def save_case_state(session: Session, row: CaseStateRow) -> None:
    session.add(row)
    session.flush()


def erased_among(session: Session, case_ids: Collection[str]) -> frozenset[str]:
    """Which of ``case_ids`` were erased (a push must not bring them back)."""
    if not case_ids:
        return frozenset()
    statement = select(CaseStateRow.case_id).where(
        col(CaseStateRow.case_id).in_(sorted(case_ids)), col(CaseStateRow.erased_seq).is_not(None)
    )
    return frozenset(session.exec(statement).all())


def erased_after(session: Session, org_id: str, since: int, until: int) -> Sequence[tuple[str, int]]:
    """``(case id, erased seq)`` of the organisation's cases erased at a seq in ``(since, until]``."""
    statement = (
        select(CaseStateRow.case_id, CaseStateRow.erased_seq)
        .where(
            CaseStateRow.org_id == org_id,
            col(CaseStateRow.erased_seq).is_not(None),
            col(CaseStateRow.erased_seq) > since,
            col(CaseStateRow.erased_seq) <= until,
        )
        .order_by(col(CaseStateRow.erased_seq))
    )
    return [(case_id, int(seq or 0)) for case_id, seq in session.exec(statement).all()]


def due_for_erasure(session: Session, now_ms: int, org_id: str | None = None) -> Sequence[tuple[str, str, int]]:
    """``(case id, org id, closed at)`` of closed, unerased cases whose organisation's retention has run out."""
    # Cast before multiplying: days * ms-per-day overflows PostgreSQL's 32-bit integer.
    kept_until = col(CaseStateRow.closed_at_ms) + cast(OrganisationRow.retention_days, BigInteger) * _DAY_MS
    statement = (
        select(CaseStateRow.case_id, CaseStateRow.org_id, CaseStateRow.closed_at_ms)
        .join(OrganisationRow, col(OrganisationRow.id) == col(CaseStateRow.org_id))
        .where(
            col(CaseStateRow.closed_at_ms).is_not(None),
            col(CaseStateRow.erased_seq).is_(None),
            kept_until <= now_ms,
        )
        .order_by(col(CaseStateRow.closed_at_ms), col(CaseStateRow.case_id))
    )
    if org_id is not None:
        statement = statement.where(CaseStateRow.org_id == org_id)
    return [(case_id, org, int(closed or 0)) for case_id, org, closed in session.exec(statement).all()]


def delete_case_content(session: Session, org_id: str, case_id: str) -> DeletedRows:
    """Delete every version, record, key grant and mentor assignment of one case, in the caller's
    transaction (versions first: they refer to their records)."""
    connection = session.connection()
    versions = connection.execute(
        delete(VersionRow).where(col(VersionRow.org_id) == org_id, col(VersionRow.case_id) == case_id)
    )
    records = connection.execute(
        delete(RecordRow).where(
            col(RecordRow.org_id) == org_id,
            or_(col(RecordRow.case_id) == case_id, col(RecordRow.record_id) == case_id),
        )
    )
    grants = connection.execute(
        delete(KeyGrantRow).where(col(KeyGrantRow.org_id) == org_id, col(KeyGrantRow.case_id) == case_id)
    )
    assignments = connection.execute(
        delete(AssignmentRow).where(col(AssignmentRow.org_id) == org_id, col(AssignmentRow.case_id) == case_id)
    )
    return DeletedRows(
        versions=int(versions.rowcount),
        records=int(records.rowcount),
        key_grants=int(grants.rowcount),
        assignments=int(assignments.rowcount),
    )


_CASE_VIEW = "case_view"  # shared.kinds.CASE_VIEW: organisation-level, belonging to no case


def delete_case_views(session: Session, org_id: str, record_ids: Collection[str]) -> int:
    """Delete the named ``case_view`` records of the organisation (others named are left alone)."""
    ids = sorted(set(record_ids))
    deleted = 0
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        deleted += _delete_case_view_records(session, org_id, chunk)
    return deleted


def delete_case_views_before(session: Session, org_id: str, before_ms: int) -> int:
    """Delete the organisation's ``case_view`` records that reached the server before ``before_ms``."""
    old = select(VersionRow.record_id).where(
        col(VersionRow.org_id) == org_id,
        col(VersionRow.kind) == _CASE_VIEW,
        col(VersionRow.received_at_ms) < before_ms,
    )
    ids = list(session.exec(old).all())
    return delete_case_views(session, org_id, ids)


def _delete_case_view_records(session: Session, org_id: str, record_ids: Sequence[str]) -> int:
    records = select(RecordRow.record_id).where(
        col(RecordRow.org_id) == org_id,
        col(RecordRow.record_id).in_(record_ids),
        col(RecordRow.kind) == _CASE_VIEW,
        col(RecordRow.case_id).is_(None),
    )
    ids = list(session.exec(records).all())
    if not ids:
        return 0
    connection = session.connection()
    connection.execute(delete(VersionRow).where(col(VersionRow.record_id).in_(ids)))
    result = connection.execute(delete(RecordRow).where(col(RecordRow.record_id).in_(ids)))
    return int(result.rowcount)
