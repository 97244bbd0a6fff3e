"""The lead professional on a person's record, and handing the role over."""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft

from outreach_app.services import Handover
from outreach_app.state import AppState
from outreach_app.views.widgets import (
    back_button,
    field,
    heading,
    keep_typed,
    primary_button,
    screen,
    secondary_button,
    section,
    text_button,
)
from shared.resettlement import HandoverStep

__all__ = ["LEAD_SCREENS", "lead_sections"]

_STEP_WORDS = {
    HandoverStep.PROPOSED: "proposed",
    HandoverStep.ACCEPTED: "accepted",
    HandoverStep.DECLINED: "declined",
    HandoverStep.COMPLETED: "recorded the handover completed",
}


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b")


def _history(handover: Handover) -> list[ft.Control]:
    lines: list[ft.Control] = []
    for event in handover.events:
        text = f"{_day(event.at_ms)}: {event.by} {_STEP_WORDS[event.step]}"
        if event.note:
            text += f" — {event.note}"
        if not event.counted:
            text += " (at the same time as another answer; the first one stands)"
        lines.append(ft.Text(text, size=14, color=ft.Colors.ON_SURFACE_VARIANT))
    return lines


def _decline_dialog(state: AppState, page: ft.Page, handover: Handover) -> None:
    reason = field("Why it is declined", multiline=True)

    async def decline(_: Any) -> None:
        page.pop_dialog()
        await state.lead.answer(handover.handover_id, accept=False, note=reason.value or "")

    page.show_dialog(
        ft.AlertDialog(
            title=ft.Text(f"Decline the handover to {handover.lead_name}?"),
            content=reason,
            actions=[
                ft.TextButton("Cancel", on_click=lambda _: page.pop_dialog()),
                ft.FilledButton("Decline handover", on_click=decline),
            ],
        )
    )


def lead_sections(state: AppState, page: ft.Page) -> list[ft.Control]:
    record = state.record
    if record is None:
        return []
    current = record.field("lead_professional").value
    controls: list[ft.Control] = [
        section("Lead professional"),
        ft.Text(current or "No lead professional recorded yet.", size=16),
    ]
    may_act = not state.is_mentor and record.shared_by is None
    handover = state.lead.under_way
    if handover is not None:
        status = (
            f"Handover to {handover.lead_name} ({handover.lead_organisation}) proposed by {handover.proposed_by}: "
            "waiting for them to accept."
            if handover.state is HandoverStep.PROPOSED
            else f"{handover.lead_name} ({handover.lead_organisation}) accepted. "
            f"{current or 'The interim lead'} stays involved until the handover is recorded completed."
        )
        controls.append(
            ft.Container(
                ft.Column([ft.Text(status, size=15), *_history(handover)], spacing=4),
                bgcolor=ft.Colors.SECONDARY_CONTAINER,
                padding=12,
                border_radius=8,
            )
        )
        if (
            may_act
            and handover.state is HandoverStep.PROPOSED
            and (not handover.proposed_by_you or state.is_coordinator)
        ):

            async def accept(_: Any, handover_id: str = handover.handover_id) -> None:
                await state.lead.answer(handover_id, accept=True)

            controls.append(
                ft.Row(
                    [
                        primary_button("Accept handover", accept, icon=ft.Icons.HANDSHAKE_OUTLINED),
                        secondary_button("Decline", lambda _: _decline_dialog(state, page, handover)),
                    ]
                )
            )
        if may_act and handover.state is HandoverStep.ACCEPTED:

            async def complete(_: Any, handover_id: str = handover.handover_id) -> None:
                await state.lead.complete(handover_id)

            controls.append(ft.Row([primary_button("Record handover completed", complete, icon=ft.Icons.DONE_ALL)]))
    elif may_act:
        controls.append(
            ft.Row(
                [secondary_button("Hand over the lead", lambda _: state.lead.start_handover(), icon=ft.Icons.SYNC_ALT)]
            )
        )
    for done in state.lead.handovers:
        if done is not handover:
            controls += _history(done)
    return controls


def handover_screen(state: AppState, page: ft.Page) -> ft.Control:
    draft, problems = state.draft, state.form_problems
    lead_name = field("New lead professional", value=draft.get("lead_name", ""), error=problems.get("lead_name"))
    agency = field(
        "Their agency",
        value=draft.get("lead_organisation", ""),
        error=problems.get("lead_organisation"),
        hint="Probation, a community lead agency…",
    )
    note = field("Note for them", value=draft.get("note", ""), multiline=True)
    for key, control in (("lead_name", lead_name), ("lead_organisation", agency), ("note", note)):
        keep_typed(state, control, key)

    async def propose(_: Any) -> None:
        await state.lead.propose(
            lead_name=lead_name.value or "", lead_organisation=agency.value or "", note=note.value or ""
        )

    async def back(_: Any) -> None:
        if state.case_id is not None:
            await state.open_person(state.case_id)

    record = state.record
    name = record.name if record is not None and record.name else "this person"
    return screen(
        ft.Row([back_button(back), heading("Hand over the lead")]),
        ft.Text(
            f"Propose who takes over as {name}'s lead professional. You stay the lead, and involved, until "
            "they accept and the handover is recorded completed.",
            size=16,
        ),
        lead_name,
        agency,
        note,
        ft.Row([primary_button("Propose handover", propose)]),
        text_button("Back", back),
    )


LEAD_SCREENS = {"handover": handover_screen}
