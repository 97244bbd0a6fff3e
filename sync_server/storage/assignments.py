"""Queries on peer mentor assignments (one row per spell: assigned, then perhaps unassigned)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from sync_server.storage.tables import AssignmentRow, UserRow

__all__ = [
    "active_assignment",
    "active_by_mentor",
    "active_case_ids",
    "active_of_mentor",
    "assigned_mentors",
    "ended_at",
    "fresh_assignments",
    "purged_after",
]


def active_assignment(session: Session, case_id: str, mentor_user_id: str) -> AssignmentRow | None:
    statement = select(AssignmentRow).where(
        AssignmentRow.case_id == case_id,
        AssignmentRow.mentor_user_id == mentor_user_id,
        col(AssignmentRow.unassigned_at_ms).is_(None),
    )
    return session.exec(statement).first()


def assigned_mentors(session: Session, case_id: str) -> list[UserRow]:
    """The mentors assigned to ``case_id`` now, in the order they were assigned."""
    statement = (
        select(UserRow)
        .join(AssignmentRow, col(AssignmentRow.mentor_user_id) == col(UserRow.id))
        .where(AssignmentRow.case_id == case_id, col(AssignmentRow.unassigned_at_ms).is_(None))
        .order_by(col(AssignmentRow.assigned_seq))
    )
    return list(session.exec(statement).all())


def active_by_mentor(session: Session, org_id: str) -> dict[str, list[str]]:
    """Per peer mentor of ``org_id``: the cases they are assigned to now, in the order assigned."""
    statement = (
        select(AssignmentRow.mentor_user_id, AssignmentRow.case_id)
        .where(AssignmentRow.org_id == org_id, col(AssignmentRow.unassigned_at_ms).is_(None))
        .order_by(col(AssignmentRow.assigned_seq))
    )
    result: dict[str, list[str]] = {}
    for mentor_user_id, case_id in session.exec(statement).all():
        result.setdefault(mentor_user_id, []).append(case_id)
    return result


def active_case_ids(session: Session, mentor_user_id: str) -> frozenset[str]:
    statement = select(AssignmentRow.case_id).where(
        AssignmentRow.mentor_user_id == mentor_user_id, col(AssignmentRow.unassigned_at_ms).is_(None)
    )
    return frozenset(session.exec(statement).all())


def active_of_mentor(session: Session, mentor_user_id: str) -> list[AssignmentRow]:
    """The mentor's current spells, in the order assigned."""
    statement = (
        select(AssignmentRow)
        .where(AssignmentRow.mentor_user_id == mentor_user_id, col(AssignmentRow.unassigned_at_ms).is_(None))
        .order_by(col(AssignmentRow.assigned_seq))
    )
    return list(session.exec(statement).all())


def ended_at(session: Session, mentor_user_id: str, at_ms: int, by: str | None) -> list[str]:
    """The cases whose spell of this mentor ``by`` ended at ``at_ms`` (a removal), in the order assigned."""
    statement = (
        select(AssignmentRow.case_id)
        .where(
            AssignmentRow.mentor_user_id == mentor_user_id,
            AssignmentRow.unassigned_at_ms == at_ms,
            AssignmentRow.unassigned_by == by,
        )
        .order_by(col(AssignmentRow.assigned_seq))
    )
    return list(session.exec(statement).all())


def fresh_assignments(session: Session, mentor_user_id: str, since: int, until: int) -> Sequence[tuple[str, int]]:
    """``(case id, assigned seq)`` of the mentor's current spells that began at a seq in ``(since, until]``."""
    statement = select(AssignmentRow.case_id, AssignmentRow.assigned_seq).where(
        AssignmentRow.mentor_user_id == mentor_user_id,
        col(AssignmentRow.unassigned_at_ms).is_(None),
        AssignmentRow.assigned_seq > since,
        AssignmentRow.assigned_seq <= until,
    )
    return [(case_id, int(seq)) for case_id, seq in session.exec(statement).all()]


def purged_after(session: Session, mentor_user_id: str, since: int, until: int) -> Sequence[tuple[str, int]]:
    """``(case id, unassigned seq)`` of the mentor's spells that ended at a seq in ``(since, until]``."""
    statement = (
        select(AssignmentRow.case_id, AssignmentRow.unassigned_seq)
        .where(
            AssignmentRow.mentor_user_id == mentor_user_id,
            col(AssignmentRow.unassigned_seq).is_not(None),
            col(AssignmentRow.unassigned_seq) > since,
            col(AssignmentRow.unassigned_seq) <= until,
        )
        .order_by(col(AssignmentRow.unassigned_seq))
    )
    return [(case_id, int(seq or 0)) for case_id, seq in session.exec(statement).all()]
