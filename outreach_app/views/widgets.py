"""Small building blocks shared by the screens: phone-sized, labelled, large touch targets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import flet as ft

from outreach_app.state import AppState

TOUCH_HEIGHT = 52
Handler = Callable[[Any], Awaitable[None] | None]


def primary_button(text: str, on_click: Handler, *, icon: Any = None) -> ft.Control:
    return ft.FilledButton(text, icon=icon, on_click=on_click, height=TOUCH_HEIGHT, expand=True)


def secondary_button(text: str, on_click: Handler, *, icon: Any = None) -> ft.Control:
    return ft.OutlinedButton(text, icon=icon, on_click=on_click, height=TOUCH_HEIGHT)


def text_button(text: str, on_click: Handler) -> ft.Control:
    return ft.TextButton(text, on_click=on_click, height=TOUCH_HEIGHT)


def field(
    label: str,
    *,
    value: str = "",
    error: str | None = None,
    password: bool = False,
    multiline: bool = False,
    hint: str | None = None,
    keyboard: ft.KeyboardType | None = None,
    helper: str | None = None,
) -> ft.TextField:
    return ft.TextField(
        label=label,
        value=value,
        error=error,
        password=password,
        can_reveal_password=password,
        multiline=multiline,
        min_lines=3 if multiline else None,
        max_lines=8 if multiline else None,
        hint_text=hint,
        helper=helper,
        keyboard_type=keyboard,
        text_size=17,
    )


def choice(
    label: str, options: Mapping[str, str], *, value: str | None = None, error: str | None = None
) -> ft.Dropdown:
    return ft.Dropdown(
        label=label,
        value=value,
        error_text=error,
        options=[ft.DropdownOption(key=key, text=text) for key, text in options.items()],
        expand=True,
        menu_height=420,
    )


def labelled(label: str, control: ft.Control) -> ft.Control:
    """Name a control that Flutter leaves unnamed (a dropdown) for screen readers and tests."""
    return ft.Semantics(label=label, content=control)


def radio_choice(options: Mapping[str, str], value: str) -> ft.RadioGroup:
    return ft.RadioGroup(
        value=value,
        content=ft.Column([ft.Radio(value=key, label=text) for key, text in options.items()], spacing=0),
    )


def heading(text: str) -> ft.Control:
    return ft.Text(text, size=24, weight=ft.FontWeight.BOLD)


def section(text: str) -> ft.Control:
    return ft.Text(text, size=18, weight=ft.FontWeight.W_600)


def back_button(on_click: Handler) -> ft.Control:
    return ft.IconButton(
        icon=ft.Icon(ft.Icons.ARROW_BACK, semantics_label="Back"),
        on_click=on_click,
        icon_size=28,
        width=TOUCH_HEIGHT,
        height=TOUCH_HEIGHT,
    )


def screen(*controls: ft.Control) -> ft.Control:
    return ft.Container(
        content=ft.Column(
            list(controls),
            spacing=14,
            scroll=ft.ScrollMode.AUTO,
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        ),
        padding=ft.Padding.symmetric(horizontal=16, vertical=12),
        expand=True,
    )


def release_text(release_at: str | None) -> str:
    """ "Release Fri 04 Dec, 14:00", or "..., time not confirmed" for a date alone."""
    if not release_at:
        return "Release date not recorded"
    try:
        if "T" in release_at:
            moment = dt.datetime.fromisoformat(release_at)
            return "Release " + moment.strftime("%a %d %b, %H:%M")
        return "Release " + dt.date.fromisoformat(release_at).strftime("%a %d %b") + ", time not confirmed"
    except ValueError:
        return f"Release {release_at}"


def top_actions(state: AppState) -> list[ft.Control]:
    """The icons at the top of Today and the caseload: audit trail (coordinators), devices, lock."""

    async def lock(_: Any) -> None:
        await state.lock()

    async def show_devices(_: Any) -> None:
        await state.show_devices()

    async def show_audit(_: Any) -> None:
        await state.show_audit_trail()

    actions: list[ft.Control] = []
    if state.is_coordinator:
        actions.append(
            ft.IconButton(
                icon=ft.Icon(ft.Icons.HISTORY, semantics_label="Audit trail"),
                on_click=show_audit,
                tooltip="Audit trail",
            )
        )
    actions.append(
        ft.IconButton(
            icon=ft.Icon(ft.Icons.DEVICES_OUTLINED, semantics_label="Devices"), on_click=show_devices, tooltip="Devices"
        )
    )
    dark = state.theme == "dark"
    actions.append(
        ft.IconButton(
            icon=ft.Icon(
                ft.Icons.LIGHT_MODE_OUTLINED if dark else ft.Icons.DARK_MODE_OUTLINED,
                semantics_label="Light mode" if dark else "Dark mode",
            ),
            on_click=lambda _: state.toggle_dark_mode(),
            tooltip="Light mode" if dark else "Dark mode",
        )
    )
    actions.append(ft.IconButton(icon=ft.Icon(ft.Icons.LOCK_OUTLINE, semantics_label="Lock"), on_click=lock))
    return actions


def access_banner(state: AppState) -> list[ft.Control]:
    """Said at the top of Today and the caseload until a coordinator has given this account access."""
    who = state.profile
    # Peer mentors never hold the organisation key: each assignment brings them that person's key.
    if who is None or who.has_organisation_key or state.is_mentor:
        return []
    return [
        ft.Container(
            ft.Text(
                "Waiting for a coordinator to give this account access. It happens when a coordinator's "
                "phone next syncs; then press Sync now.",
                size=15,
            ),
            bgcolor=ft.Colors.SECONDARY_CONTAINER,
            padding=12,
            border_radius=8,
        )
    ]


def keep_typed(state: AppState, control: ft.TextField | ft.Dropdown | ft.RadioGroup | ft.Checkbox, name: str) -> None:
    """Keep what the worker types or picks in the state as they do it: a lock, a problem shown, or
    the app being closed (the draft is kept on the phone, encrypted) does not lose it."""

    def changed(_: Any) -> None:
        if isinstance(control, ft.Checkbox):
            state.keep_draft(name, "yes" if control.value else "no")
        else:
            state.keep_draft(name, str(control.value or ""))

    if isinstance(control, ft.Dropdown):
        control.on_select = changed
    else:
        control.on_change = changed
