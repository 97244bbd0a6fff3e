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
    "due_for_erasure",
    "erased_after",
    "erased_among",
    "get_case_state",
    "save_case_state",
]

_DAY_MS = 86_400_000


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
