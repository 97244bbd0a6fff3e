"""Where the person lives and their work and training: two sections of their record and the forms
that record them. The outcomes report counts them on the day an order or licence ends (NI 143 and
NI 144), so each is dated "since". Peer mentors see none of this (full tier).

The coordinator's **Outcomes** report: a period, every figure as a button that opens the people
behind it (names are for the coordinator only), and the anonymised CSV for commissioners.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft

from outreach_app.services import ReportFile
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
from shared.outcomes import Figure, OutcomesReport, Unit

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


# --- the coordinator's outcomes report ----------------------------------------------------------


# Totals and the headline figures are shown even when they are 0; a breakdown only when it is not.
_ALWAYS = ("ni143.", "ni144.ended", "ni144.employed", "release.", "work.seen", "work.contacts", "work.referrals",
           "engagement.")  # fmt: skip


def _shown(item: Figure) -> bool:
    return item.count > 0 or (item.group is None and item.key.startswith(_ALWAYS))


def _count_words(item: Figure, report: OutcomesReport) -> str:
    words = str(item.count)
    if item.unit is not Unit.PEOPLE:
        words += f" {item.unit.value}" if item.count != 1 else f" {item.unit.value.removesuffix('s')}"
    if item.out_of is not None and item.unit is Unit.PEOPLE:
        words += f" of {report.figure(item.out_of).count}"
    return words


def _figure_button(state: AppState, report: OutcomesReport, item: Figure) -> ft.Control:
    async def tapped(_: Any, key: str = item.key) -> None:
        await state.outcomes.open_figure(key)

    return ft.Container(
        ft.Row(
            [
                ft.Text(item.label, size=15, expand=True),
                ft.Text(_count_words(item, report), size=17, weight=ft.FontWeight.BOLD),
            ],
            spacing=10,
        ),
        padding=ft.Padding.symmetric(horizontal=12, vertical=10),
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=8,
        on_click=tapped if item.case_ids else None,
        ink=True,
    )


def outcomes_screen(state: AppState, page: ft.Page) -> ft.Control:
    outcomes, draft, problems = state.outcomes, state.draft, state.form_problems
    report = outcomes.report
    start = field("From", value=draft.get("start", ""), hint="YYYY-MM-DD", error=problems.get("period"))
    end = field("To (included)", value=draft.get("end", ""), hint="YYYY-MM-DD")

    async def show(_: Any) -> None:
        await outcomes.show_report(start.value or "", end.value or "")

    async def this_quarter(_: Any) -> None:
        await outcomes.show_quarter(0)

    async def last_quarter(_: Any) -> None:
        await outcomes.show_quarter(1)

    async def export(_: Any) -> None:
        await save(await outcomes.export_csv())

    async def export_summary(_: Any) -> None:
        await save(await outcomes.export_summary())

    async def save(exported: ReportFile | None) -> None:
        if exported is None:
            return
        saved = await ft.FilePicker().save_file(
            dialog_title="Save the figures", file_name=exported.file_name, src_bytes=exported.content
        )
        # In a browser the file is downloaded and no path comes back.
        outcomes.note_export_saved(exported.file_name, page.web or saved is not None)

    async def back(_: Any) -> None:
        await state.desk.show_desk()  # the report is opened from the Desk

    body: list[ft.Control] = []
    if report is not None:
        body.append(
            ft.Text(
                f"{_day(report.period.start)} to {_day(report.period.end)}, counted on this phone from the "
                f"{report.people} people it holds. Tap a figure to see who is behind it: the names are for you only.",
                size=15,
            )
        )
        if report.not_readable:
            # Said, not hidden: a commissioner's figure must not quietly leave people out.
            body.append(
                ft.Text(
                    f"{_people_words(report.not_readable)} on this phone could not be read here and "
                    "are not counted: a sync may bring the keys to read them.",
                    size=15,
                    color=ft.Colors.ERROR,
                )
            )
        for part in report.sections:
            shown = [item for item in part.figures if _shown(item)]
            if not shown:
                continue
            body.append(section(part.title))
            body += [_figure_button(state, report, item) for item in shown]
        body += [
            section("For commissioners"),
            ft.Text(
                "The figures only, as a spreadsheet (CSV): no names, no identifiers, and every number under 5 "
                "hidden, with any that would give one away.",
                size=15,
            ),
            ft.Row([secondary_button("Save anonymised figures", export, icon=ft.Icons.DOWNLOAD)]),
            ft.Text("Or the same figures on one page with charts, to print:", size=15),
            ft.Row([secondary_button("Save printable summary", export_summary, icon=ft.Icons.PRINT_OUTLINED)]),
        ]
    return screen(
        ft.Row([back_button(back), heading("Outcomes")]),
        start,
        end,
        ft.Row(
            [
                secondary_button("This quarter", this_quarter),
                secondary_button("Last quarter", last_quarter),
            ],
            wrap=True,
        ),
        ft.Row([primary_button("Show figures", show)]),
        *body,
        text_button("Back", back),
    )


def outcome_people_screen(state: AppState, page: ft.Page) -> ft.Control:
    outcomes = state.outcomes
    item, report = outcomes.figure, outcomes.report

    async def back(_: Any) -> None:
        await outcomes.back_to_report()

    if item is None or report is None:
        return screen(ft.Row([back_button(back), heading("Outcomes")]))
    people: list[ft.Control] = []
    for case_id, name in outcomes.people:

        async def open_person(_: Any, chosen: str = case_id) -> None:
            await state.open_person(chosen)

        people.append(
            ft.Container(
                ft.Text(name, size=17),
                padding=ft.Padding.symmetric(horizontal=12, vertical=12),
                border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
                border_radius=8,
                on_click=open_person,
                ink=True,
            )
        )
    counted = (
        f"{len(outcomes.people)} people"
        if item.unit is Unit.PEOPLE
        else f"{_count_words(item, report)}, with {len(outcomes.people)} people"
    )
    return screen(
        ft.Row([back_button(back), ft.Text(item.label, size=20, weight=ft.FontWeight.BOLD, expand=True)]),
        ft.Text(f"{counted}, {_day(report.period.start)} to {_day(report.period.end)}. For you only.", size=15),
        *people,
        text_button("Back to the figures", back),
    )


OUTCOME_SCREENS = {
    "record_accommodation": record_accommodation_screen,
    "record_work": record_work_screen,
    "outcomes": outcomes_screen,
    "outcome_people": outcome_people_screen,
}


def _people_words(count: int) -> str:
    return "1 more person" if count == 1 else f"{count} more people"
