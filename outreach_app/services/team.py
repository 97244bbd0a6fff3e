"""``TeamService``: the coordinator's Team screen — members, invitations, mentors' people, devices.

The server lists accounts (name, role, email, joined, last seen, devices, whether the organisation
key has reached them) and which case ids each peer mentor is assigned to; it never sees a name of
a person. This phone turns those case ids into names from its own records. Everything here is
online: the team lives on the server, not on the phone.

Removing a member signs out their devices and ends their mentor assignments on the server; this
phone then rotates the basic key of each person a removed mentor had, for new writes, exactly as
after unassigning (noted as due before asking the server, so a lost answer still rotates at the
next sync).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from outreach_app.errors import DeviceRevoked, NotAllowed, ServerRejected
from outreach_app.services.account import AccountService, RegisteredDevice
from outreach_app.services.device import Device
from outreach_app.services.mentors import MentorService
from outreach_app.services.reports import ReportService
from outreach_app.services.sync import SyncService
from outreach_app.sync.transport import SyncApi
from shared.protocol import Invitation, PendingInvitation, Role, TeamMember

__all__ = ["AssignedPerson", "Team", "TeamInvitation", "TeamMemberView", "TeamService", "how_to_join"]

T = TypeVar("T")

_FULL_MEMBERS = (Role.COORDINATOR, Role.LINK_WORKER)


@dataclass(frozen=True)
class AssignedPerson:
    case_id: str
    name: str


@dataclass(frozen=True)
class TeamMemberView:
    """A member as the coordinator reads them."""

    user_id: str
    name: str
    email: str
    role: Role
    joined_at_ms: int
    last_seen_at_ms: int | None
    device_count: int
    # A coordinator or link worker the organisation key has not reached yet: they cannot read
    # anyone's record until a coordinator's phone syncs (it seals the key to them then).
    waiting_for_access: bool
    assigned: tuple[AssignedPerson, ...]
    is_me: bool
    # Removed from the organisation (when): no devices, no access, listed apart from the team.
    removed_at_ms: int | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at_ms is not None


@dataclass(frozen=True)
class TeamInvitation:
    invitation_id: str
    role: Role
    email: str | None
    created_at_ms: int
    expires_at_ms: int
    invited_by: str  # a name, or "the server's administrator"

    @classmethod
    def of(cls, pending: PendingInvitation) -> TeamInvitation:
        return cls(
            invitation_id=pending.invitation_id,
            role=pending.role,
            email=pending.email,
            created_at_ms=pending.created_at_ms,
            expires_at_ms=pending.expires_at_ms,
            invited_by=pending.invited_by_name or "the server's administrator",
        )


@dataclass(frozen=True)
class Team:
    members: tuple[TeamMemberView, ...]  # coordinators, link workers, peer mentors; by name
    invitations: tuple[TeamInvitation, ...]  # newest first
    devices: tuple[RegisteredDevice, ...]  # every device of the organisation, signed-out ones last

    def devices_of(self, user_id: str) -> tuple[RegisteredDevice, ...]:
        return tuple(device for device in self.devices if device.owner_user_id == user_id)


def how_to_join(invitation: Invitation, server_url: str) -> str:
    """What to tell the person with the code, in plain words."""
    until = dt.datetime.fromtimestamp(invitation.expires_at_ms / 1000).strftime("%a %d %b")
    who = f", and only with {invitation.email}" if invitation.email else ""
    return (
        f"Tell them yourself (say it, or write it down) and keep it off group chats. On the sign-in "
        f'screen they choose "I have an invitation code", enter the server address {server_url}, '
        f"this code, their name, email and a password. It works once, until {until}{who}."
    )


class TeamService:
    def __init__(
        self,
        device: Device,
        account: AccountService,
        reports: ReportService,
        mentors: MentorService,
        sync: SyncService,
    ) -> None:
        self._device = device
        self._account = account
        self._reports = reports
        self._mentors = mentors
        self._sync = sync

    def team(self) -> Team:
        """Members, pending invitations and devices, from the server (coordinators; online)."""
        self._require_coordinator()
        me = self._device.require_identity().user_id
        members = self._online(lambda api: api.team_members()).members
        invitations = self._online(lambda api: api.pending_invitations()).invitations
        devices = self._account.devices()
        wanted = [case_id for member in members for case_id in member.assigned_case_ids]
        names = dict(self._reports.names(wanted)) if wanted else {}
        return Team(
            members=tuple(self._view(member, names, me) for member in members),
            invitations=tuple(TeamInvitation.of(item) for item in invitations),
            devices=tuple(devices),
        )

    def invite(self, role: Role, email: str | None = None) -> Invitation:
        """A one-time code for someone new (coordinators; online)."""
        self._require_coordinator()
        return self._account.create_invitation(role, email)

    def cancel_invitation(self, invitation_id: str) -> TeamInvitation:
        """Cancel an invitation nobody has used: its code no longer opens an account (coordinators; online)."""
        self._require_coordinator()
        return TeamInvitation.of(self._online(lambda api: api.cancel_invitation(invitation_id)))

    def remove_member(self, user_id: str) -> TeamMemberView:
        """Remove a member from the organisation (coordinators; online): every device of theirs is
        signed out and erases itself at its next contact, they sign in no more, and a peer mentor's
        people get a new basic key for new writes. Removing them again answers the same."""
        self._require_coordinator()
        me = self._device.require_identity().user_id
        if user_id == me:
            raise NotAllowed("You cannot remove yourself. Ask another coordinator to do it.")
        listed = self._online(lambda api: api.team_members()).members
        known = next((member for member in listed if member.user_id == user_id), None)
        cases = list(known.assigned_case_ids) if known is not None else []
        self._mentors.note_rotations_due(cases, user_id, due=True)  # before the server changes anything
        try:
            removal = self._online(lambda api: api.remove_member(user_id))
        except ServerRejected:
            self._mentors.note_rotations_due(cases, user_id, due=False)  # refused: nothing was removed
            raise
        if known is None or known.removed_at_ms is None:
            # Assigned meanwhile on another phone; a removal done before was rotated for then.
            extra = [case_id for case_id in removal.ended_case_ids if case_id not in cases]
            self._mentors.note_rotations_due(extra, user_id, due=True)
        self._sync.sync_now()  # rotates the keys (offline: at the next sync)
        return self._view(removal.member, {}, me)

    def server_url(self) -> str:
        return self._device.require_identity().server_url

    @staticmethod
    def _view(member: TeamMember, names: dict[str, str], me: str) -> TeamMemberView:
        assigned = tuple(
            AssignedPerson(case_id, names.get(case_id, "Not on this phone yet")) for case_id in member.assigned_case_ids
        )
        return TeamMemberView(
            user_id=member.user_id,
            name=member.display_name,
            email=member.email,
            role=member.role,
            joined_at_ms=member.joined_at_ms,
            last_seen_at_ms=member.last_seen_at_ms,
            device_count=member.device_count,
            waiting_for_access=member.role in _FULL_MEMBERS and not member.holds_organisation_key,
            assigned=tuple(sorted(assigned, key=lambda person: (person.name.casefold(), person.case_id))),
            is_me=member.user_id == me,
            removed_at_ms=member.removed_at_ms,
        )

    def _require_coordinator(self) -> None:
        if self._device.require_identity().role is not Role.COORDINATOR:
            raise NotAllowed("Only a coordinator can see and manage the team.")

    def _online(self, work: Callable[[SyncApi], T]) -> T:
        with self._device.net_lock:
            try:
                return work(self._device.api())
            except DeviceRevoked:
                self._device.erase_after_revocation()
                raise
