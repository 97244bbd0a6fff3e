"""The coordinator's desk: "Conflicts to settle", each with every value, who wrote it and when, a
button to keep each value, a box to type a new one, and the record one tap away.

Issue 6's dashboard, team and outcomes will sit here too; only coordinators see the Desk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft

from outreach_app.services import ConflictValue, OpenConflict
from outreach_app.state import AppState, time_ago
from outreach_app.views.dashboard import dashboard_controls
from outreach_app.views.team import team_entry
from outreach_app.views.widgets import field, heading, screen, secondary_button, section, top_actions
from shared.kinds import ValueType, kind_spec

__all__ = ["DESK_SCREENS", "conflicts_line"]

_HINTS = {
    ValueType.DATE: "YYYY-MM-DD",
    ValueType.DATETIME: "YYYY-MM-DD HH:MM",
    ValueType.DATE_OR_DATETIME: "YYYY-MM-DD HH:MM, or the date alone if the time is not confirmed",
    ValueType.BOOLEAN: "yes or no",
}


def _when(ms: int, now_ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000):%a %d %b, %H:%M} ({time_ago(ms, now_ms)})"


def _value_line(value: ConflictValue, now_ms: int) -> ft.Control:
    text = value.text if value.text is not None else "cannot be read on this phone"
    facts = [_when(value.written_at_ms, now_ms)]
    if value.standing:
        facts.append("shown on the record for now")
    if value.sync_state == "pending":
        facts.append("waiting to sync")
    return ft.Column(
        [
            ft.Text(f"{value.author.name}: {text}", size=16, weight=ft.FontWeight.W_500),
            ft.Text(" · ".join(facts), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
        ],
        spacing=0,
    )


def _safety_chip() -> ft.Control:
    return ft.Container(
        ft.Row(
            [
                ft.Icon(ft.Icons.WARNING_AMBER_ROUNDED, color=ft.Colors.ON_ERROR_CONTAINER, size=20),
                ft.Text(
                    "Safety-critical: check which is right before anyone acts on it",
                    size=15,
                    color=ft.Colors.ON_ERROR_CONTAINER,
                    weight=ft.FontWeight.W_600,
                    expand=True,
                ),
            ],
            spacing=6,
        ),
        bgcolor=ft.Colors.ERROR_CONTAINER,
        padding=ft.Padding.symmetric(horizontal=10, vertical=6),
        border_radius=8,
    )


def _conflict_card(state: AppState, item: OpenConflict) -> ft.Control:
    desk, now = state.desk, state.now_ms()
    spec = kind_spec(item.kind)
    field_spec = spec.fields[item.field] if spec is not None else None

    def keep(change_id: str) -> Any:
        async def chosen(_: Any) -> None:
            await desk.keep(item.key, change_id)

        return chosen

    typed = field(
        f"New value for {item.label}",
        value=state.draft.get(item.key, ""),
        error=state.form_problems.get(item.key),
        hint=_HINTS.get(field_spec.value_type) if field_spec is not None else None,
        multiline=field_spec is not None and field_spec.max_length > 300,
    )

    def remember(_: Any) -> None:
        state.keep_draft(item.key, typed.value or "")

    typed.on_change = remember

    async def save_new(_: Any) -> None:
        await desk.save_new_value(item.key, typed.value or "")

    async def open_record(_: Any) -> None:
        await desk.open_record(item.key)

    buttons: list[ft.Control] = []
    kept: set[str] = set()
    for value in item.values:
        if value.text is None or value.text in kept:
            continue
        kept.add(value.text)
        buttons.append(secondary_button(f"Keep {value.text}", keep(value.change_id), icon=ft.Icons.CHECK))
    record = item.what.removeprefix("Service directory · ")
    whose = f"Open {item.person}'s record" if item.person else f"Open {record}"
    heading_lines: list[ft.Control] = [
        ft.Text(item.person or "Service directory", size=18, weight=ft.FontWeight.BOLD),
        ft.Text(
            item.label if item.what == "Their details" else f"{record}: {item.label}",
            size=16,
            weight=ft.FontWeight.W_600,
            color=ft.Colors.PRIMARY,
        ),
    ]
    # A plain box, not a Card: Flutter reads a card's texts as the name of a text field inside it.
    return ft.Container(
        ft.Column(
            [
                *([_safety_chip()] if item.safety_critical else []),
                *heading_lines,
                ft.Text(
                    f"Changed differently by {len({value.author.name for value in item.values})} people "
                    f"since {dt.datetime.fromtimestamp(item.since_ms / 1000):%a %d %b}:",
                    size=14,
                ),
                *[_value_line(value, now) for value in item.values],
                ft.Column(buttons, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
                typed,
                secondary_button("Save new value", save_new, icon=ft.Icons.SAVE_OUTLINED),
                ft.TextButton(whose, icon=ft.Icons.OPEN_IN_NEW, on_click=open_record, height=48),
            ],
            spacing=8,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        ),
        padding=14,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=12,
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
    )


def desk_screen(state: AppState, page: ft.Page) -> ft.Control:
    who = state.profile
    conflicts = state.desk.conflicts
    count = len(conflicts)
    controls: list[ft.Control] = [
        ft.Row(
            [
                ft.Column(
                    [heading("Desk"), ft.Text(f"Coordinator · {who.display_name}" if who else "Coordinator", size=14)],
                    spacing=2,
                    expand=True,
                ),
                *top_actions(state),
            ]
        ),
        *team_entry(state),
        *dashboard_controls(state),
        section(f"Conflicts to settle ({count})"),
    ]
    if not conflicts:
        controls.append(
            ft.Text("Nothing to settle. When two people change the same detail differently, it comes here.", size=16)
        )
    else:
        critical = sum(1 for item in conflicts if item.safety_critical)
        lines = ["Two people changed the same detail from the same starting point. Choose what should stand."]
        if critical:
            lines.append(f"{critical} of them {'is' if critical == 1 else 'are'} safety-critical, shown first.")
        controls.append(ft.Text(" ".join(lines), size=15))
        controls += [_conflict_card(state, item) for item in conflicts]
    return screen(*controls)


def conflicts_line(state: AppState) -> list[ft.Control]:
    """Today, for coordinators: "2 conflicts to settle", opening the Desk."""
    count = state.desk.conflict_count
    if not state.is_coordinator or not count:
        return []

    async def open_desk(_: Any) -> None:
        await state.desk.show_desk()

    return [
        secondary_button(f"{count} conflict{'s' if count != 1 else ''} to settle", open_desk, icon=ft.Icons.CALL_SPLIT)
    ]


DESK_SCREENS = {"desk": desk_screen}
