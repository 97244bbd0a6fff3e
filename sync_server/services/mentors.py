"""Peer mentor assignment: a coordinator assigns and unassigns mentors to people (cases).

The server stores who is assigned; it never sees a key. The coordinator's device seals the case's
basic key to an assigned mentor; on unassign it makes a new basic key version the mentor never
gets. Assigning and unassigning take a seq from the organisation's sequence (under its lock), so a
mentor's pull can order them against versions and grants (see ``services.sync.pull``).
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from shared.protocol import CaseMentors, MentorInfo, Role
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, NotFound
from sync_server.services.audit import AuditAction, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.guards import lock_organisation, require_own_case
from sync_server.storage import accounts, assignments
from sync_server.storage.tables import AssignmentRow, UserRow

__all__ = ["assign", "case_mentors", "unassign"]


def case_mentors(session: Session, caller: AuthenticatedDevice, case_id: str) -> CaseMentors:
    """Who mentors ``case_id`` and the organisation's peer mentors to choose from."""
    _require_coordinator(caller)
    require_own_case(session, caller, case_id)
    return _case_mentors(session, caller, case_id)


def assign(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str, user_id: str
) -> CaseMentors:
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    require_own_case(session, caller, case_id)
    mentor = _require_mentor(session, caller, user_id)
    if assignments.active_assignment(session, case_id, mentor.id) is None:
        now = ctx.now_ms()
        org.last_seq += 1
        session.add(org)
        session.add(
            AssignmentRow(
                id=str(uuid.uuid4()),
                org_id=org.id,
                case_id=case_id,
                mentor_user_id=mentor.id,
                assigned_at_ms=now,
                assigned_by=caller.user_id,
                assigned_seq=org.last_seq,
            )
        )
        session.flush()
        record_for(ctx, session, caller, AuditAction.MENTOR_ASSIGNED, case_id=case_id, user_id=mentor.id)
    result = _case_mentors(session, caller, case_id)
    session.commit()
    return result


def unassign(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str, user_id: str
) -> CaseMentors:
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    require_own_case(session, caller, case_id)
    mentor = _require_mentor(session, caller, user_id)
    row = assignments.active_assignment(session, case_id, mentor.id)
    if row is None:
        raise Conflict("not_assigned", f"{mentor.display_name} is not a peer mentor of this person")
    org.last_seq += 1
    session.add(org)
    row.unassigned_at_ms = ctx.now_ms()
    row.unassigned_by = caller.user_id
    row.unassigned_seq = org.last_seq
    session.add(row)
    session.flush()
    # The purge reaches the mentor's devices with their next pull (see services.sync.pull).
    record_for(ctx, session, caller, AuditAction.MENTOR_UNASSIGNED, case_id=case_id, user_id=mentor.id)
    result = _case_mentors(session, caller, case_id)
    session.commit()
    return result


def _case_mentors(session: Session, caller: AuthenticatedDevice, case_id: str) -> CaseMentors:
    statement = (
        select(UserRow)
        .where(
            UserRow.org_id == caller.org_id,
            UserRow.role == Role.PEER_MENTOR.value,
            col(UserRow.removed_at_ms).is_(None),
        )
        .order_by(col(UserRow.display_name), col(UserRow.id))
    )
    return CaseMentors(
        case_id=case_id,
        assigned=[_info(row) for row in assignments.assigned_mentors(session, case_id)],
        available=[_info(row) for row in session.exec(statement).all()],
    )


def _info(row: UserRow) -> MentorInfo:
    return MentorInfo(user_id=row.id, display_name=row.display_name, public_key=row.public_key)


def _require_coordinator(caller: AuthenticatedDevice) -> None:
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can assign peer mentors")


def _require_mentor(session: Session, caller: AuthenticatedDevice, user_id: str) -> UserRow:
    member = accounts.get_user(session, user_id)
    if member is None or member.org_id != caller.org_id:
        raise NotFound("member_not_found", "There is no such member in your organisation")
    if member.removed_at_ms is not None:
        raise Conflict("member_removed", f"{member.display_name} was removed from the organisation")
    if member.role != Role.PEER_MENTOR.value:
        raise Conflict("not_a_mentor", f"{member.display_name} is not a peer mentor: only peer mentors can be assigned")
    return member
