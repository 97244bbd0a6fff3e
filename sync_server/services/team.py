"""The coordinator's view of the team: members, pending invitations and cancelling one.

What the server lists here is account data it holds anyway (names, roles, emails, when they joined
and were last seen, how many devices, whether the organisation key has been sealed to them) and
which cases a peer mentor is assigned to, by id: never anything decrypted. The coordinator's phone
turns those case ids into names from its own records.
"""

from __future__ import annotations

from sqlmodel import Session

from shared.protocol import PendingInvitation, PendingInvitationList, Role, TeamMember, TeamMemberList, org_key_id
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, NotFound
from sync_server.services.audit import AuditAction, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.storage import accounts, assignments, organisations
from sync_server.storage.database import begin_write
from sync_server.storage.tables import InvitationRow, UserRow

__all__ = ["cancel_invitation", "members", "pending_invitations"]

_FULL_MEMBERS = (Role.COORDINATOR.value, Role.LINK_WORKER.value)
_ROLE_ORDER = {Role.COORDINATOR: 0, Role.LINK_WORKER: 1, Role.PEER_MENTOR: 2}


def _require_coordinator(caller: AuthenticatedDevice) -> None:
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can see and manage the team")


def members(session: Session, caller: AuthenticatedDevice) -> TeamMemberList:
    """Every member of the caller's organisation, coordinators first, then link workers, then mentors."""
    _require_coordinator(caller)
    org = organisations.get_organisation(session, caller.org_id)
    if org is None:
        raise NotFound("organisation_not_found", "Your organisation no longer exists")
    users = accounts.list_members(session, org.id)
    devices = accounts.device_summaries(session, org.id)
    waiting: set[str] = {row.id for row in users if row.role in _FULL_MEMBERS}
    if org.key_version > 0:
        key_id = org_key_id(org.id, org.key_version)
        waiting = {row.id for row in accounts.members_without_grant(session, org.id, _FULL_MEMBERS, key_id)}
    assigned = assignments.active_by_mentor(session, org.id)
    result = [_member(row, devices.get(row.id), row.id not in waiting, assigned.get(row.id, [])) for row in users]
    result.sort(key=lambda member: (_ROLE_ORDER[member.role], member.display_name.casefold(), member.user_id))
    return TeamMemberList(members=result)


def _member(row: UserRow, devices: tuple[int, int] | None, has_key: bool, case_ids: list[str]) -> TeamMember:
    role = Role(row.role)
    return TeamMember(
        user_id=row.id,
        display_name=row.display_name,
        email=row.email,
        role=role,
        joined_at_ms=row.created_at_ms,
        last_seen_at_ms=devices[1] if devices is not None else None,
        device_count=devices[0] if devices is not None else 0,
        holds_organisation_key=has_key and role is not Role.PEER_MENTOR,
        assigned_case_ids=case_ids if role is Role.PEER_MENTOR else [],
    )


def pending_invitations(ctx: ServerContext, session: Session, caller: AuthenticatedDevice) -> PendingInvitationList:
    """Invitations nobody has used, cancelled or let expire (password-reset codes are not listed)."""
    _require_coordinator(caller)
    rows = accounts.pending_invitations(session, caller.org_id, now_ms=ctx.now_ms())
    inviters = accounts.get_users(session, [row.created_by for row in rows if row.created_by is not None])
    return PendingInvitationList(invitations=[_pending(row, inviters) for row in rows])


def _pending(row: InvitationRow, inviters: dict[str, UserRow]) -> PendingInvitation:
    inviter = inviters.get(row.created_by) if row.created_by is not None else None
    return PendingInvitation(
        invitation_id=row.id,
        role=Role(row.role),
        email=row.email,
        created_at_ms=row.created_at_ms,
        expires_at_ms=row.expires_at_ms,
        invited_by_user_id=row.created_by,
        invited_by_name=inviter.display_name if inviter is not None else None,
        cancelled_at_ms=row.cancelled_at_ms,
    )


def cancel_invitation(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, invitation_id: str
) -> PendingInvitation:
    """Cancel an invitation nobody has used: its code can no longer register. Cancelling twice
    answers the same and records nothing more; an invitation already used is a conflict."""
    _require_coordinator(caller)
    begin_write(session)
    row = accounts.get_invitation(session, invitation_id)
    if row is None or row.org_id != caller.org_id or row.reset_user_id is not None:
        raise NotFound("invitation_not_found", "There is no such invitation in your organisation")
    if row.used_at_ms is None and row.cancelled_at_ms is None:
        if accounts.cancel_invitation(session, row.id, now_ms=ctx.now_ms()):
            record_for(ctx, session, caller, AuditAction.INVITATION_CANCELLED, role=row.role)
        session.commit()
        row = accounts.get_invitation(session, invitation_id)
        assert row is not None
    if row.used_at_ms is not None:
        raise Conflict("invitation_used", "This invitation has been used: the person has joined already")
    inviters = accounts.get_users(session, [row.created_by] if row.created_by is not None else [])
    return _pending(row, inviters)
