"""``TeamState``: the coordinator's Team screen, opened from the Desk.

Members by role with when they were last seen and who is still waiting for access, inviting
someone (the code to pass on), pending invitations to cancel, each peer mentor's people (a tap
opens the record; assigning stays on the record), every device with "Sign out" and the
password reset, and removing a member from the organisation. All of it comes from the server, so
the screen needs the network.

Composed into ``AppState`` as ``state.team``; imports neither flet nor storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach_app.errors import AppError, OfflineError
from outreach_app.services import Team, how_to_join
from outreach_app.state.navigation import Notice, Screen
from shared.protocol import Role

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["InvitationToPass", "TeamState"]

ROLE_WORDS = {Role.COORDINATOR: "coordinator", Role.LINK_WORKER: "link worker", Role.PEER_MENTOR: "peer mentor"}


class InvitationToPass:
    """A new invitation's code and what to tell the person (shown once: the server keeps no code)."""

    def __init__(self, code: str, role: Role, email: str | None, how: str) -> None:
        self.code, self.role, self.email, self.how = code, role, email, how


class TeamState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.team: Team | None = None
        # Why the team could not be read when the screen was shown again after the PIN (offline).
        self.unavailable: str | None = None

    def forget(self) -> None:
        self.team, self.unavailable = None, None

    async def reload(self) -> None:
        """Read the team for the screen being shown again after the PIN; when the server cannot be
        reached the screen says so in plain words instead (the team lives on the server)."""
        app = self._app
        try:
            self.team, self.unavailable = await app._run(app.gatepost.team.team), None
        except OfflineError:
            self.team = None
            self.unavailable = (
                "No connection just now. The team comes from the server, so this screen needs the "
                "network: try again when you have signal."
            )
        except AppError as error:
            self.team, self.unavailable = None, error.message

    async def show_team(self) -> None:
        """The Team screen (coordinators), read from the server; nothing changes when it cannot be reached."""
        app = self._app
        team = await app._guarded(app.gatepost.team.team)
        if team is None:
            return
        self.team, self.unavailable = team, None
        app.form_problems, app.draft = {}, {}
        app.screen = Screen.TEAM
        app.on_screen()

    async def back(self) -> None:
        await self._app.desk.show_desk()

    async def invite(self, role: str, email: str) -> InvitationToPass | None:
        """A new invitation for ``role`` (bound to ``email`` when given); None when it could not be made."""
        app = self._app
        app.draft = {"invite_role": role, "invite_email": email}
        try:
            chosen = Role(role)
        except ValueError:
            app._problems({"invite_role": "Choose what they will do: link worker, peer mentor or coordinator."})
            return None
        invitation = await app._guarded(lambda: app.gatepost.team.invite(chosen, email.strip() or None))
        if invitation is None:
            return None
        server_url = await app._run(app.gatepost.team.server_url)
        await self.show_team()
        return InvitationToPass(invitation.code, chosen, invitation.email, how_to_join(invitation, server_url))

    async def cancel_invitation(self, invitation_id: str) -> None:
        app = self._app
        cancelled = await app._guarded(lambda: app.gatepost.team.cancel_invitation(invitation_id))
        if cancelled is None:
            return
        who = cancelled.email or f"a {ROLE_WORDS[cancelled.role]}"
        await self.show_team()
        app.on_notice(Notice(f"Cancelled the invitation for {who}. Its code no longer works."))

    async def sign_out_device(self, device_id: str) -> None:
        app = self._app
        signed_out = await app._guarded(lambda: app.gatepost.account.sign_out_device(device_id))
        if signed_out is None:
            return
        await self.show_team()
        app.on_notice(
            Notice(f"{signed_out.name} is signed out. It will erase its Gatepost data when it next connects.")
        )

    async def remove_member(self, user_id: str) -> None:
        """Remove a member from the organisation (asked and confirmed on the screen first)."""
        app = self._app
        removed = await app._guarded(lambda: app.gatepost.team.remove_member(user_id))
        if removed is None:
            return
        await self.show_team()
        app.on_notice(
            Notice(
                f"{removed.name} is no longer in the organisation. Their phones erase their Gatepost data "
                "when they next connect."
            )
        )

    async def open_person(self, case_id: str) -> None:
        await self._app.open_person(case_id)
