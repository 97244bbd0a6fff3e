"""The service directory: the "Services" screen (search, filter by kind, one large card per service
with what a worker needs at the gate: its name, kind, area, phone, opening hours and what to know),
the add / edit form, and the same list to choose a service from for a referral.

Peer mentors' phones hold no directory, and the screen says so in plain words.
"""

from __future__ import annotations

from typing import Any

import flet as ft

from outreach_app.services import ConflictView, DirectoryEntry, FieldValue
from outreach_app.state import AppState, time_ago
from outreach_app.views.widgets import (
    back_button,
    choice,
    field,
    heading,
    labelled,
    primary_button,
    screen,
    secondary_button,
    text_button,
    top_actions,
)
from shared.kinds import DIRECTORY_ENTRY, REFERRAL_SERVICES

__all__ = ["DIRECTORY_SCREENS"]

ALL_KINDS = "all"
# What each field is called on the form (the kinds table's labels, said for this form).
_LABELS = {
    "name": "Name of the service",
    "service": "Kind of service",
    "area": "Area or borough",
    "address": "Address",
    "phone": "Phone",
    "opening_hours": "Opening hours",
    "notes": "What to know",
}
_HINTS = {
    "opening_hours": "For example Mon-Fri 9:00-17:00",
    "notes": "Who to ask for, what to bring, how referrals work",
}
_ICONS = {
    "area": ft.Icons.PLACE_OUTLINED,
    "address": ft.Icons.HOME_WORK_OUTLINED,
    "phone": ft.Icons.PHONE_OUTLINED,
    "opening_hours": ft.Icons.SCHEDULE,
    "notes": ft.Icons.INFO_OUTLINE,
}


def _unavailable(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, size=16), bgcolor=ft.Colors.SECONDARY_CONTAINER, padding=12, border_radius=8)


def _line(name: str, text: str, *, size: int = 16) -> ft.Control:
    return ft.Row(
        [ft.Icon(_ICONS[name], size=20), ft.Text(text, size=size, expand=True)],
        spacing=8,
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def _card(state: AppState, entry: DirectoryEntry, *, choosing: bool) -> ft.Control:
    """One service as a large card; tapping it edits it (or, for a referral, chooses it)."""
    kind = entry.service_label
    lines: list[ft.Control] = [
        ft.Text(entry.name, size=19, weight=ft.FontWeight.BOLD),
        ft.Text(kind, size=15, weight=ft.FontWeight.W_500, color=ft.Colors.PRIMARY),
    ]
    for name in ("area", "phone", "opening_hours", "address"):
        value = entry.value(name)
        if value:
            lines.append(_line(name, value, size=17 if name in ("phone", "opening_hours") else 16))
    if entry.closed:
        lines.append(ft.Text("No longer running", size=15, color=ft.Colors.ERROR, weight=ft.FontWeight.W_600))
    notes = entry.value("notes")
    if notes:
        lines.append(_line("notes", notes, size=15))
    facts = [f"Updated {time_ago(entry.updated_at_ms, state.now_ms())}"]
    if entry.pending:
        facts.append("waiting to sync")
    lines.append(ft.Text(" · ".join(facts), size=13, color=ft.Colors.ON_SURFACE_VARIANT))
    if entry.conflicts:
        fields = ", ".join(sorted({conflict.label.lower() for conflict in entry.conflicts}))
        lines.append(
            ft.Text(
                f"Two people changed {fields} at the same time: open it to choose.",
                size=15,
                color=ft.Colors.ERROR,
                weight=ft.FontWeight.W_600,
            )
        )

    async def tapped(_: Any, record_id: str = entry.record_id, chosen: DirectoryEntry = entry) -> None:
        if choosing:
            state.directory.use_for_referral(chosen)
        else:
            await state.directory.start_editing(record_id)

    return ft.Card(
        content=ft.Container(
            ft.Column(lines, spacing=6),
            padding=14,
            on_click=tapped,
            ink=True,
            border_radius=12,
        ),
    )


def _list_controls(state: AppState, *, choosing: bool) -> list[ft.Control]:
    directory = state.directory
    search = ft.TextField(
        label="Search services", value=directory.search_text, prefix_icon=ft.Icons.SEARCH, text_size=17
    )

    async def on_search(_: Any) -> None:
        await directory.search(search.value or "")

    search.on_submit = search.on_change = on_search
    kinds = choice(
        "Show", {ALL_KINDS: "Every kind of service", **REFERRAL_SERVICES}, value=directory.service_filter or ALL_KINDS
    )

    async def on_kind(_: Any) -> None:
        await directory.filter_by(str(kinds.value or ""))

    kinds.on_select = on_kind
    cards = [_card(state, entry, choosing=choosing) for entry in directory.entries]
    if not cards:
        filtered = directory.search_text.strip() or directory.service_filter
        cards = [
            ft.Text(
                "No service matches." if filtered else "No service in the directory yet. Add the ones you use.",
                size=16,
            )
        ]
    controls: list[ft.Control] = [search, labelled("Show", kinds)]
    if not choosing:  # a referral is never made to a service that has closed
        closed = ft.Checkbox(
            label="Show services no longer running",
            value=directory.show_closed,
            label_style=ft.TextStyle(size=16),
        )

        async def on_closed(_: Any) -> None:
            await directory.include_closed(closed.value is True)

        closed.on_change = on_closed
        controls.append(closed)
    return [*controls, *cards]


def services_screen(state: AppState, page: ft.Page) -> ft.Control:
    who = state.profile
    subtitle = f"Local provision · {who.org_name}" if who else "Local provision"
    top = ft.Row(
        [ft.Column([heading("Services"), ft.Text(subtitle, size=14)], spacing=2, expand=True), *top_actions(state)]
    )
    if state.directory.unavailable:
        return screen(top, _unavailable(state.directory.unavailable))
    return screen(
        top,
        ft.Row([primary_button("Add a service", lambda _: state.directory.start_adding(), icon=ft.Icons.ADD_BUSINESS)]),
        *_list_controls(state, choosing=False),
    )


def choose_service_screen(state: AppState, page: ft.Page) -> ft.Control:
    """The directory to pick a service from for the referral being written."""

    def back(_: Any) -> None:
        state.directory.use_for_referral(None)

    title = ft.Row([back_button(back), ft.Text("Choose a service", size=22, weight=ft.FontWeight.BOLD, expand=True)])
    if state.directory.unavailable:
        return screen(title, _unavailable(state.directory.unavailable), text_button("Back to the referral", back))
    return screen(
        title,
        ft.Text("Tap the service to refer to: its name and kind go into the referral.", size=15),
        *_list_controls(state, choosing=True),
        text_button("Back to the referral", back),
    )


def _version_line(version: FieldValue, now_ms: int) -> str:
    return f"{version.author.name}: {version.value or 'not readable'} ({time_ago(version.written_at_ms, now_ms)})"


def _conflict_box(state: AppState, conflict: ConflictView) -> ft.Control:
    def keep(value: str | None) -> Any:
        async def chosen(_: Any) -> None:
            await state.directory.settle(conflict.field, conflict.conflict_id, value or "")

        return chosen

    earlier, later = conflict.earlier, conflict.later
    return ft.Container(
        ft.Column(
            [
                ft.Text(f"Two people changed {conflict.label.lower()} at the same time", weight=ft.FontWeight.W_600),
                ft.Text(_version_line(earlier, state.now_ms())),
                ft.Text(_version_line(later, state.now_ms())),
                ft.Row(
                    [
                        ft.OutlinedButton(f"Keep {earlier.value}", on_click=keep(earlier.value)),
                        ft.OutlinedButton(f"Keep {later.value}", on_click=keep(later.value)),
                    ],
                    wrap=True,
                ),
            ],
            spacing=4,
        ),
        bgcolor=ft.Colors.ERROR_CONTAINER,
        padding=10,
        border_radius=8,
    )


def edit_service_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    editing = state.directory.editing
    inputs: dict[str, ft.TextField | ft.Dropdown] = {}
    controls: list[ft.Control] = []
    conflicts = {conflict.field: conflict for conflict in editing.conflicts} if editing is not None else {}
    for name, spec in DIRECTORY_ENTRY.fields.items():
        label = _LABELS.get(name, spec.label)
        control: ft.TextField | ft.Dropdown
        if spec.choices:
            control = choice(label, spec.choices, value=draft.get(name) or None, error=problems.get(name))
            controls.append(labelled(label, control))
        else:
            control = field(
                label,
                value=draft.get(name, ""),
                error=problems.get(name),
                multiline=spec.max_length > 300,
                hint=_HINTS.get(name),
                keyboard=ft.KeyboardType.PHONE if name == "phone" else None,
            )
            controls.append(control)
        if name in conflicts:
            controls.append(_conflict_box(state, conflicts[name]))
        inputs[name] = control

        def changed(_: Any, key: str = name, source: ft.TextField | ft.Dropdown = control) -> None:
            state.keep_draft(key, str(source.value or ""))

        if isinstance(control, ft.Dropdown):
            control.on_select = changed
        else:
            control.on_change = changed

    async def save(_: Any) -> None:
        await state.directory.save({name: str(control.value or "") for name, control in inputs.items()})

    async def back(_: Any) -> None:
        await state.directory.cancel()

    title = f"Edit {editing.name}" if editing is not None else "Add a service"
    return screen(
        ft.Row([back_button(back), ft.Text(title, size=22, weight=ft.FontWeight.BOLD, expand=True)]),
        ft.Text(
            "Every link worker and coordinator of your organisation sees this on their phone, offline too. "
            "Keep it current: opening hours and numbers change.",
            size=15,
        ),
        *controls,
        ft.Row([primary_button("Save service", save)]),
        secondary_button("Cancel", back),
    )


DIRECTORY_SCREENS = {
    "services": services_screen,
    "edit_service": edit_service_screen,
    "choose_service": choose_service_screen,
}
