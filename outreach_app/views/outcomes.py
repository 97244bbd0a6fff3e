"""Where the person lives and their work and training: two sections of their record and the forms
that record them. The outcomes report counts them on the day an order or licence ends (NI 143 and
NI 144), so each is dated "since". Peer mentors see none of this (full tier)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft

from outreach_app.state import AppState
from outreach_app.views.widgets import (
    back_button,
    choice,
    field,
    heading,
    keep_typed,
    labelled,
    primary_button,
    radio_choice,
    screen,
    secondary_button,
    section,
    text_button,
)
from shared.kinds import ACCOMMODATION_TYPES, EMPLOYMENT_STATUSES, ETE_STAGES

__all__ = ["OUTCOME_SCREENS", "outcome_sections"]

_SUITABLE = {"yes": "Yes, it suits them", "no": "No (overcrowded, unsafe, wrong area…)"}


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _muted(text: str) -> ft.Control:
    return ft.Text(text, size=14, color=ft.Colors.ON_SURFACE_VARIANT)


def outcome_sections(state: AppState, page: ft.Page) -> list[ft.Control]:
    """ "Where they live" and "Work and training" on the person's record."""
    record = state.record
    if state.is_mentor or record is None:
        return []
    may_add = record.shared_by is None
    places, work = state.outcomes.accommodation, state.outcomes.employment
    if not may_add and not (places or work):
        return []
    controls: list[ft.Control] = [section("Where they live")]
    if places:
        now = places[0]
        suits = "suits them" if now.suitable else "does not suit them"
        controls.append(ft.Text(f"{now.label}, since {_day(now.from_on)} ({suits})", size=16))
        controls += [_muted(f"Before: {place.label}, from {_day(place.from_on)}") for place in places[1:4]]
    else:
        controls.append(ft.Text("Not recorded yet.", size=16))
    if may_add:
        controls.append(
            ft.Row(
                [
                    secondary_button(
                        "Record where they live",
                        lambda _: state.outcomes.start_recording_accommodation(),
                        icon=ft.Icons.HOME_OUTLINED,
                    )
                ]
            )
        )
    controls.append(section("Work and training"))
    if work:
        now_work = work[0]
        line = f"{now_work.status.label}, since {_day(now_work.from_on)}"
        if now_work.ete_stage is not None:
            line += f". Stage reached: {now_work.ete_stage.label}"
        controls.append(ft.Text(line, size=16))
        controls += [_muted(f"Before: {entry.status.label}, from {_day(entry.from_on)}") for entry in work[1:4]]
    else:
        controls.append(ft.Text("Not recorded yet.", size=16))
    if may_add:
        controls.append(
            ft.Row(
                [
                    secondary_button(
                        "Record work and training",
                        lambda _: state.outcomes.start_recording_work(),
                        icon=ft.Icons.WORK_OUTLINE,
                    )
                ]
            )
        )
    return controls


def _back(state: AppState) -> Any:
    async def back(_: Any) -> None:
        if state.case_id is not None:
            await state.open_person(state.case_id)

    return back


def _name(state: AppState) -> str:
    return state.record.name if state.record is not None and state.record.name else "they"


def _problem(state: AppState, name: str) -> list[ft.Control]:
    problem = state.form_problems.get(name)
    return [ft.Text(problem, color=ft.Colors.ERROR, size=14)] if problem else []


def record_accommodation_screen(state: AppState, page: ft.Page) -> ft.Control:
    draft, problems = state.draft, state.form_problems
    where = choice(
        "Where they live",
        ACCOMMODATION_TYPES,
        value=draft.get("accommodation_type") or None,
        error=problems.get("accommodation_type"),
    )
    suitable = radio_choice(_SUITABLE, draft.get("suitable", ""))
    since = field("Since", value=draft.get("from_on", ""), error=problems.get("from_on"), hint="YYYY-MM-DD")
    for key, control in (("accommodation_type", where), ("suitable", suitable), ("from_on", since)):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.outcomes.record_accommodation(
            accommodation_type=str(where.value or ""), suitable=str(suitable.value or ""), from_on=since.value or ""
        )

    return screen(
        ft.Row([back_button(_back(state)), heading("Where they live")]),
        ft.Text(f"Where does {_name(state)} live now, and since when?", size=16),
        labelled("Where they live", where),
        ft.Text("Does it suit them?", size=16, weight=ft.FontWeight.W_600),
        _muted("Its quality, who they live with, overcrowding, the area."),
        labelled("Does it suit them?", suitable),
        *_problem(state, "suitable"),
        since,
        ft.Row([primary_button("Save where they live", save)]),
        text_button("Back", _back(state)),
    )


def record_work_screen(state: AppState, page: ft.Page) -> ft.Control:
    draft, problems = state.draft, state.form_problems
    status = radio_choice(EMPLOYMENT_STATUSES, draft.get("status", ""))
    stage = choice("Stage reached", ETE_STAGES, value=draft.get("ete_stage") or None, error=problems.get("ete_stage"))
    since = field("Since", value=draft.get("from_on", ""), error=problems.get("from_on"), hint="YYYY-MM-DD")
    for key, control in (("status", status), ("ete_stage", stage), ("from_on", since)):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.outcomes.record_work(
            status=str(status.value or ""), ete_stage=str(stage.value or ""), from_on=since.value or ""
        )

    return screen(
        ft.Row([back_button(_back(state)), heading("Work and training")]),
        ft.Text("In work?", size=16, weight=ft.FontWeight.W_600),
        labelled("In work?", status),
        *_problem(state, "status"),
        labelled("Stage reached", stage),
        _muted("From soft skills and motivation, basic skills and training to job seeking, work and sustained work."),
        since,
        ft.Row([primary_button("Save work and training", save)]),
        text_button("Back", _back(state)),
    )


OUTCOME_SCREENS = {
    "record_accommodation": record_accommodation_screen,
    "record_work": record_work_screen,
}
