"""The coordinator's view of the team: members, pending invitations and cancelling one.

What the server lists here is account data it holds anyway (names, roles, emails, when they joined
and were last seen, how many devices, whether the organisation key has been sealed to them) and
which cases a peer mentor is assigned to, by id: never anything decrypted. The coordinator's phone
turns those case ids into names from its own records.

Removing a member (a worker leaves, a mentor stops volunteering) is one transaction under the
organisation's lock: the account is marked removed (kept: it authored versions and audit entries),
every device of theirs is signed out and every session ended, their mentor assignments end as
unassigning does (a seq each, so their devices would get the purge), and the audit trail says so.
The organisation key is not rotated: a link worker or coordinator held it, and what they read
cannot be recalled (see README, threat model).
"""

from __future__ import annotations

from sqlmodel import Session

from shared.protocol import (
    MemberRemoval,
    PendingInvitation,
    PendingInvitationList,
    Role,
    TeamMember,
    TeamMemberList,
    org_key_id,
)
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, NotFound
from sync_server.services import sharing
from sync_server.services.audit import AuditAction, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.guards import lock_organisation
from sync_server.storage import accounts, assignments, organisations
from sync_server.storage.database import begin_write
from sync_server.storage.tables import InvitationRow, UserRow

__all__ = ["cancel_invitation", "members", "pending_invitations", "remove_member"]

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
    result.sort(
        key=lambda member: (
            member.removed_at_ms is not None,
            _ROLE_ORDER[member.role],
            member.display_name.casefold(),
            member.user_id,
        )
    )
    return TeamMemberList(members=result)


def _member(row: UserRow, devices: tuple[int, int] | None, has_key: bool, case_ids: list[str]) -> TeamMember:
    role = Role(row.role)
    removed = row.removed_at_ms is not None
    return TeamMember(
        user_id=row.id,
        display_name=row.display_name,
        email=row.email,
        role=role,
        joined_at_ms=row.created_at_ms,
        last_seen_at_ms=devices[1] if devices is not None else None,
        device_count=devices[0] if devices is not None else 0,
        holds_organisation_key=has_key and role is not Role.PEER_MENTOR and not removed,
        assigned_case_ids=case_ids if role is Role.PEER_MENTOR and not removed else [],
        removed_at_ms=row.removed_at_ms,
    )


def remove_member(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, user_id: str) -> MemberRemoval:
    """Remove ``user_id`` from the caller's organisation (see the module's docstring). Removing a
    member already removed changes nothing and answers the same."""
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    member = accounts.get_user(session, user_id)
    if member is None or member.org_id != caller.org_id:
        raise NotFound("member_not_found", "There is no such member in your organisation")
    if member.id == caller.user_id:
        raise Conflict("cannot_remove_yourself", "You cannot remove yourself: ask another coordinator to do it")
    if member.removed_at_ms is None:
        if member.role == Role.COORDINATOR.value and not accounts.other_active_coordinators(session, org.id, member.id):
            # Reachable when two coordinators remove each other at once: the second one is refused.
            raise Conflict(
                "last_coordinator",
                f"{member.display_name} is the organisation's last coordinator: make someone else a coordinator first",
            )
        now = ctx.now_ms()
        member.removed_at_ms, member.removed_by = now, caller.user_id
        session.add(member)
        signed_out = 0
        for device, _ in accounts.list_devices(session, org.id, member.id):
            if device.revoked_at_ms is None:
                accounts.revoke_device(session, device.id, now_ms=now)
                sharing.release_rotations_of(session, org.id, device.id, now)
                signed_out += 1
        accounts.revoke_user_sessions(session, member.id, now_ms=now)  # every refresh token family
        ended = 0
        for row in assignments.active_of_mentor(session, member.id):
            # Exactly as unassigning: a seq from the organisation's sequence, so a pull orders it.
            org.last_seq += 1
            row.unassigned_at_ms, row.unassigned_by, row.unassigned_seq = now, caller.user_id, org.last_seq
            session.add(row)
            session.flush()
            record_for(ctx, session, caller, AuditAction.MENTOR_UNASSIGNED, case_id=row.case_id, user_id=member.id)
            ended += 1
        session.add(org)
        session.flush()
        record_for(
            ctx,
            session,
            caller,
            AuditAction.MEMBER_REMOVED,
            user_id=member.id,
            role=member.role,
            devices=signed_out,
            assignments=ended,
        )
        session.commit()
    else:
        session.rollback()  # nothing to change: let go of the organisation's lock
    return _removal(session, member)


def _removal(session: Session, member: UserRow) -> MemberRemoval:
    devices = accounts.device_summaries(session, member.org_id).get(member.id)
    ended = assignments.ended_at(session, member.id, member.removed_at_ms or 0, member.removed_by)
    return MemberRemoval(
        member=_member(member, devices, False, []),
        removed_by_user_id=member.removed_by,
        ended_case_ids=ended,
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
