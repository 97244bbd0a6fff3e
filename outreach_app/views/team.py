"""The coordinator's Team screen (from the Desk): invite someone, invitations waiting to be used,
the members by role (last seen, waiting for access, a peer mentor's people with a tap to each
record) and each member's devices with "Sign out", a new password and "Remove … from the
organisation"; former members listed apart.

Also ``device_card``, the card of one phone or browser, which the Devices screen uses too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft

from outreach_app.services import RegisteredDevice, TeamInvitation, TeamMemberView
from outreach_app.state import AppState, time_ago
from outreach_app.state.team import ROLE_WORDS
from outreach_app.views.widgets import back_button, choice, field, heading, labelled, screen, secondary_button, section
from shared.protocol import Role

__all__ = ["TEAM_SCREENS", "device_card", "team_entry"]

_ROLE_GROUPS = (
    (Role.COORDINATOR, "Coordinators"),
    (Role.LINK_WORKER, "Link workers"),
    (Role.PEER_MENTOR, "Peer mentors"),
)
_INVITE_ROLES = {
    Role.LINK_WORKER.value: "Link worker",
    Role.PEER_MENTOR.value: "Peer mentor",
    Role.COORDINATOR.value: "Coordinator",
}


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%a %d %b")


def device_card(
    page: ft.Page, device: RegisteredDevice, now_ms: int, sign_out: Callable[[str], Awaitable[None]]
) -> ft.Control:
    """One phone or browser: when it last synced, or that it is signed out, and "Sign out …"."""
    facts = ["Signed out"] if device.signed_out else [f"Last synced {time_ago(device.last_seen_at_ms, now_ms)}"]
    title = f"{device.name} (this device)" if device.this_device else device.name

    async def confirmed(_: Any) -> None:
        page.pop_dialog()
        await sign_out(device.device_id)

    def ask(_: Any) -> None:
        page.show_dialog(
            ft.AlertDialog(
                modal=True,
                title=ft.Text(f"Sign out {device.name}?"),
                content=ft.Text(
                    "It stops syncing at once and erases its Gatepost data the next time it connects. "
                    "Anything it has already shown cannot be taken back.",
                    size=16,
                ),
                actions=[
                    ft.TextButton("Cancel", on_click=lambda _: page.pop_dialog()),
                    ft.FilledButton("Sign it out", on_click=confirmed),
                ],
            )
        )

    actions: list[ft.Control] = []
    if not device.signed_out:
        actions.append(
            ft.OutlinedButton(
                f"Sign out {device.name}",
                icon=ft.Icons.LOGOUT,
                on_click=ask,
                height=48,
                style=ft.ButtonStyle(color=ft.Colors.ERROR),
            )
        )
    return ft.Card(
        content=ft.Container(
            ft.Column(
                [
                    ft.Text(title, size=18, weight=ft.FontWeight.W_600),
                    ft.Text(" · ".join(facts), size=15),
                    *actions,
                ],
                spacing=8,
                horizontal_alignment=ft.CrossAxisAlignment.START,
            ),
            padding=14,
        )
    )


def _code_dialog(page: ft.Page, title: str, code: str, words: str) -> None:
    page.show_dialog(
        ft.AlertDialog(
            modal=True,
            title=ft.Text(title),
            content=ft.Column(
                [ft.Text(code, size=30, weight=ft.FontWeight.BOLD), ft.Text(words, size=16)],
                tight=True,
                spacing=12,
            ),
            actions=[ft.FilledButton("Done", on_click=lambda _: page.pop_dialog())],
        )
    )


def _reset_button(state: AppState, page: ft.Page, member: TeamMemberView) -> ft.Control:
    async def make_code(_: Any) -> None:
        code = await state.create_password_reset(member.user_id)
        if code is None:
            return
        _code_dialog(
            page,
            f"Reset code for {member.name}",
            code,
            f"Read it to {member.name} yourself, not by text or email. It works once, for 24 hours. "
            "Their old password and sessions stop working as soon as they use it; your phone "
            "gives them their access back when it next syncs.",
        )

    return ft.TextButton(f"New password for {member.name}", icon=ft.Icons.KEY, on_click=make_code, height=48)


def _remove_button(state: AppState, page: ft.Page, member: TeamMemberView) -> ft.Control:
    """Remove a member, after saying plainly what it does and what it cannot undo."""
    role = ROLE_WORDS[member.role]
    people = len(member.assigned)
    mentored = (
        f" They stop receiving the {people} {'person' if people == 1 else 'people'} they mentor, "
        "and new notes about them use new keys."
        if people
        else ""
    )

    async def confirmed(_: Any) -> None:
        page.pop_dialog()
        await state.team.remove_member(member.user_id)

    def ask(_: Any) -> None:
        page.show_dialog(
            ft.AlertDialog(
                modal=True,
                title=ft.Text(f"Remove {member.name} from the organisation?"),
                content=ft.Text(
                    f"Every phone and browser of theirs is signed out at once and erases its Gatepost data "
                    f"the next time it connects, and they can no longer sign in as a {role}.{mentored} "
                    "What their phones have already shown cannot be recalled. This cannot be undone.",
                    size=16,
                ),
                actions=[
                    ft.TextButton("Keep them", on_click=lambda _: page.pop_dialog()),
                    ft.FilledButton(
                        f"Remove {member.name}",
                        on_click=confirmed,
                        style=ft.ButtonStyle(bgcolor=ft.Colors.ERROR, color=ft.Colors.ON_ERROR),
                    ),
                ],
            )
        )

    return ft.OutlinedButton(
        f"Remove {member.name} from the organisation",
        icon=ft.Icons.PERSON_REMOVE_OUTLINED,
        on_click=ask,
        height=48,
        style=ft.ButtonStyle(color=ft.Colors.ERROR),
    )


def _removed_card(member: TeamMemberView) -> ft.Control:
    """A former member: named, with their role and when they were removed, never with actions."""
    when = _day(member.removed_at_ms) if member.removed_at_ms is not None else "?"
    return ft.Container(
        ft.Column(
            [
                ft.Text(member.name, size=16, weight=ft.FontWeight.W_600),
                ft.Text(f"Was a {ROLE_WORDS[member.role]} · removed on {when} · no devices, no access", size=14),
            ],
            spacing=4,
        ),
        padding=12,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=12,
    )


def _invite_form(state: AppState, page: ft.Page) -> list[ft.Control]:
    role = choice(
        "They will be a",
        _INVITE_ROLES,
        value=state.draft.get("invite_role", Role.LINK_WORKER.value),
        error=state.form_problems.get("invite_role"),
    )
    email = field(
        "Their email (optional)",
        value=state.draft.get("invite_email", ""),
        error=state.form_problems.get("email"),
        keyboard=ft.KeyboardType.EMAIL,
        helper="With an email, only they can use the code",
    )

    async def invite(_: Any) -> None:
        made = await state.team.invite(role.value or "", email.value or "")
        if made is None:
            return
        who = made.email or f"the new {ROLE_WORDS[made.role]}"
        _code_dialog(page, f"Invitation code for {who}", made.code, made.how)

    return [
        section("Invite someone"),
        labelled("They will be a", role),
        email,
        ft.Row([secondary_button("Make an invitation code", invite, icon=ft.Icons.PERSON_ADD_ALT)]),
    ]


def _invitation_card(state: AppState, item: TeamInvitation) -> ft.Control:
    who = item.email or f"a {ROLE_WORDS[item.role]} (any email)"

    async def cancel(_: Any) -> None:
        await state.team.cancel_invitation(item.invitation_id)

    return ft.Container(
        ft.Column(
            [
                ft.Text(
                    f"{ROLE_WORDS[item.role].capitalize()} · {item.email or 'any email'}",
                    size=16,
                    weight=ft.FontWeight.W_600,
                ),
                ft.Text(
                    f"Invited by {item.invited_by} on {_day(item.created_at_ms)}; "
                    f"the code works until {_day(item.expires_at_ms)}",
                    size=14,
                ),
                ft.TextButton(
                    f"Cancel invitation for {who}", icon=ft.Icons.CANCEL_OUTLINED, on_click=cancel, height=48
                ),
            ],
            spacing=4,
        ),
        padding=12,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=12,
    )


def _member_card(state: AppState, page: ft.Page, member: TeamMemberView) -> ft.Control:
    now = state.now_ms()
    seen = f"last seen {time_ago(member.last_seen_at_ms, now)}" if member.last_seen_at_ms else "not seen yet"
    devices = f"{member.device_count} device{'s' if member.device_count != 1 else ''}"
    lines: list[ft.Control] = [
        ft.Text(f"{member.name} (you)" if member.is_me else member.name, size=17, weight=ft.FontWeight.W_600),
        ft.Text(member.email, size=14, color=ft.Colors.ON_SURFACE_VARIANT),
        ft.Text(f"Joined {_day(member.joined_at_ms)} · {seen} · {devices}", size=14),
    ]
    if member.waiting_for_access:
        lines.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.HOURGLASS_TOP, size=18),
                    ft.Text(
                        "Waiting for access: they can read nobody's record until a coordinator's phone syncs",
                        size=14,
                        expand=True,
                    ),
                ],
                spacing=6,
            )
        )
    if member.role is Role.PEER_MENTOR:
        if member.assigned:
            count = len(member.assigned)
            lines.append(ft.Text(f"Mentors {count} {'person' if count == 1 else 'people'}:", size=14))
            for person in member.assigned:

                async def open_record(_: Any, case_id: str = person.case_id) -> None:
                    await state.team.open_person(case_id)

                lines.append(
                    ft.TextButton(
                        person.name,
                        icon=ft.Icons.PERSON_OUTLINE,
                        tooltip=f"Open {person.name}'s record",
                        on_click=open_record,
                        height=44,
                    )
                )
        else:
            lines.append(ft.Text("Nobody assigned yet. Assign a mentor on a person's record.", size=14))
    team = state.team.team
    owned = team.devices_of(member.user_id) if team is not None else ()
    lines += [device_card(page, device, now, state.team.sign_out_device) for device in owned]
    if not member.is_me:
        lines.append(_reset_button(state, page, member))
        lines.append(_remove_button(state, page, member))
    return ft.Container(
        ft.Column(lines, spacing=4, horizontal_alignment=ft.CrossAxisAlignment.START),
        padding=12,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=12,
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
    )


def team_screen(state: AppState, page: ft.Page) -> ft.Control:
    async def back(_: Any) -> None:
        await state.team.back()

    async def try_again(_: Any) -> None:
        await state.team.show_team()

    team = state.team.team
    controls: list[ft.Control] = [ft.Row([back_button(back), heading("Team")])]
    if team is None and state.team.unavailable:
        controls += [
            ft.Row(
                [ft.Icon(ft.Icons.CLOUD_OFF, size=20), ft.Text(state.team.unavailable, size=16, expand=True)],
                spacing=8,
            ),
            ft.Row([secondary_button("Try again", try_again, icon=ft.Icons.REFRESH)]),
        ]
        return screen(*controls)
    controls += _invite_form(state, page)
    invitations = team.invitations if team is not None else ()
    controls.append(section(f"Invitations not used yet ({len(invitations)})"))
    if invitations:
        controls += [_invitation_card(state, item) for item in invitations]
    else:
        controls.append(ft.Text("None. A code you make stays here until it is used, cancelled or runs out.", size=15))
    members = team.members if team is not None else ()
    for role, title in _ROLE_GROUPS:
        group = [member for member in members if member.role is role and not member.removed]
        controls.append(section(f"{title} ({len(group)})"))
        controls += [_member_card(state, page, member) for member in group]
    removed = [member for member in members if member.removed]
    if removed:
        controls.append(section(f"No longer in the organisation ({len(removed)})"))
        controls += [_removed_card(member) for member in removed]
    return screen(*controls)


def team_entry(state: AppState) -> list[ft.Control]:
    """The Desk's button to the Team screen (coordinators)."""
    if not state.is_coordinator:
        return []

    async def open_team(_: Any) -> None:
        await state.team.show_team()

    return [ft.Row([secondary_button("Team", open_team, icon=ft.Icons.GROUPS_OUTLINED)])]


TEAM_SCREENS = {"team": team_screen}
