"""The worker's day: Today (the first screen), the gate checklist, and what happened at the gate.

From Today a contact with a person is one tap away ("Log contact with …"), so a worker at the gate
with one hand free types their note after a single tap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft

from outreach_app.services import ConsentReview, GateOutcome, NotSeen, Today, TodayFollowUp, TodayRelease
from outreach_app.state import AppState
from outreach_app.views.desk import conflicts_line
from outreach_app.views.widgets import (
    access_banner,
    back_button,
    choice,
    field,
    heading,
    keep_typed,
    labelled,
    primary_button,
    radio_choice,
    release_text,
    screen,
    secondary_button,
    section,
    text_button,
    top_actions,
)
from shared.kinds import ACCOMMODATION_PLANS, GATE_NOT_MET_REASONS, RELEASE_PLAN, Tier, ValueType
from shared.resettlement import READINESS_ITEMS, FollowUpState, ReleaseFlag

__all__ = ["DAY_SCREENS", "gate_sections", "today_screen"]

YES_NO_UNKNOWN = {"yes": "Yes", "no": "No", "": "Not known yet"}
MET_CHOICES = {"yes": "We met them", "no": "We did not meet them"}
# The checklist's yes/no items, in the order of the research's list (accommodation is a choice).
_CHECK_ITEMS = tuple(name for name, spec in RELEASE_PLAN.fields.items() if spec.value_type is ValueType.BOOLEAN)


def _day(day: dt.date) -> str:
    return day.strftime("%a %d %b")


def _flag_chip(flag: ReleaseFlag) -> ft.Control:
    return ft.Container(
        ft.Row(
            [
                ft.Icon(ft.Icons.WARNING_AMBER_ROUNDED, color=ft.Colors.ON_ERROR_CONTAINER, size=20),
                ft.Text(flag.label, size=15, color=ft.Colors.ON_ERROR_CONTAINER, expand=True),
            ],
            spacing=6,
        ),
        bgcolor=ft.Colors.ERROR_CONTAINER,
        padding=ft.Padding.symmetric(horizontal=10, vertical=6),
        border_radius=8,
    )


def _card(*controls: ft.Control) -> ft.Control:
    return ft.Card(content=ft.Container(ft.Column(list(controls), spacing=6), padding=12))


def _moment(text: str, today: dt.date) -> str:
    """ "today at 11:00", "Mon 07 Dec at 07:30"."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    day = "today" if moment.date() == today else _day(moment.date())
    return f"{day} at {moment:%H:%M}"


def _meeting_line(item: TodayRelease, today: dt.date) -> str:
    if not (item.meeting_at or item.meeting_place or item.met_by):
        return "Nobody has arranged to meet them yet"
    parts = []
    if item.meeting_at:
        parts.append(_moment(item.meeting_at, today))
    if item.meeting_place:
        parts.append(item.meeting_place)
    line = "Meet " + ", ".join(parts) if parts else "Meeting arranged"
    return f"{line} · by {item.met_by}" if item.met_by else line


def _release_card(state: AppState, item: TodayRelease, *, at_the_gate: bool) -> ft.Control:
    async def log(_: Any) -> None:
        await state.day.log_contact_with(item.case_id)

    async def open_record(_: Any) -> None:
        await state.open_person(item.case_id)

    async def outcome(_: Any) -> None:
        await state.day.record_outcome_for(item.case_id)

    when = release_text(item.release.on.isoformat() + (f"T{item.release.at:%H:%M}" if item.release.at else ""))
    details = [when] + ([item.establishment] if item.establishment else [])
    readiness = item.readiness
    ready_line = (
        "Ready for release: everything on the checklist is in place"
        if readiness.ready
        else f"Ready: {readiness.done} of {readiness.total} · still to do: {', '.join(readiness.missing[:3])}"
        + ("…" if len(readiness.missing) > 3 else "")
    )
    actions: list[ft.Control] = [primary_button(f"Log contact with {item.name}", log, icon=ft.Icons.EDIT_NOTE)]
    if at_the_gate:
        actions.append(secondary_button(f"Gate outcome for {item.name}", outcome, icon=ft.Icons.DOOR_FRONT_DOOR))
    actions.append(secondary_button(f"Open {item.name}", open_record, icon=ft.Icons.PERSON_OUTLINE))
    return _card(
        ft.Text(item.name, size=18, weight=ft.FontWeight.W_600),
        ft.Text(" · ".join(details), size=15),
        ft.Text(_meeting_line(item, state.day.today_date()), size=15),
        ft.Text(ready_line, size=14, color=ft.Colors.ON_SURFACE_VARIANT),
        *[_flag_chip(flag) for flag in item.flags],
        ft.Column(actions, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
    )


def _follow_up_card(state: AppState, item: TodayFollowUp) -> ft.Control:
    async def open_record(_: Any) -> None:
        await state.open_person(item.case_id)

    action = item.action
    when = f"Overdue since {_day(action.due_on)}" if action.state is FollowUpState.OVERDUE else "Due today"
    return _card(
        ft.Text(f"{item.name}: {action.action}", size=17, weight=ft.FontWeight.W_600),
        ft.Text(
            f"{when} · {action.owner}",
            size=15,
            color=ft.Colors.ERROR if action.state is FollowUpState.OVERDUE else None,
        ),
        secondary_button(f"Open {item.name}", open_record, icon=ft.Icons.PERSON_OUTLINE),
    )


def _not_seen_card(state: AppState, item: NotSeen) -> ft.Control:
    async def log(_: Any) -> None:
        await state.day.log_contact_with(item.case_id)

    last = f"Last contact {_day(item.last_contact_on)}" if item.last_contact_on else "No contact logged yet"
    days = item.due.overdue_days
    return _card(
        ft.Text(item.name, size=17, weight=ft.FontWeight.W_600),
        ft.Text(
            f"{last} · a contact was due {_day(item.due.due_on)} ({days} day{'s' if days != 1 else ''} ago)", size=15
        ),
        primary_button(f"Log contact with {item.name}", log, icon=ft.Icons.EDIT_NOTE),
    )


def _consent_card(state: AppState, item: ConsentReview) -> ft.Control:
    async def open_record(_: Any) -> None:
        await state.open_person(item.case_id)

    who = ", ".join(item.recipients) or "another organisation"
    return _card(
        ft.Text(f"{item.name}: sharing with {who}", size=17, weight=ft.FontWeight.W_600),
        ft.Text(
            f"Consent ends {_day(item.review_on)} unless renewed. Ask {item.name} whether they still agree.", size=15
        ),
        secondary_button(f"Review consent for {item.name}", open_record, icon=ft.Icons.HANDSHAKE),
    )


def _today_sections(state: AppState, today: Today) -> list[ft.Control]:
    gate_ids = {item.case_id for item in today.gate_meetings}
    later = [item for item in today.releases if item.case_id not in gate_ids]
    controls: list[ft.Control] = [section("At the gate today")]
    controls += [_release_card(state, item, at_the_gate=True) for item in today.gate_meetings] or [
        ft.Text("No gate meetings today.", size=16)
    ]
    controls.append(section("Releases in the next 14 days"))
    controls += [_release_card(state, item, at_the_gate=item.release.on == today.on) for item in later] or [
        ft.Text("No releases in the next 14 days.", size=16)
    ]
    if not state.is_mentor:
        controls.append(section("Follow-ups due"))
        controls += [_follow_up_card(state, item) for item in today.follow_ups] or [
            ft.Text("No follow-ups due or overdue.", size=16)
        ]
    if not state.is_mentor and today.consents_due:
        controls.append(section("Consent to review"))
        controls += [_consent_card(state, item) for item in today.consents_due]
    controls.append(section("Not seen for longer than planned"))
    controls += [_not_seen_card(state, item) for item in today.not_seen] or [
        ft.Text("Everyone has been seen as often as planned.", size=16)
    ]
    return controls


def today_screen(state: AppState, page: ft.Page) -> ft.Control:
    who = state.profile
    today = state.day.today
    date_line = today.on.strftime("%A %d %B") if today is not None else ""
    subtitle = " · ".join(part for part in (date_line, who.display_name if who else "") if part)
    body = (
        _today_sections(state, today)
        if today is not None
        else [ft.Text("Today's list could not be made on this phone.", size=16)]
    )
    return screen(
        ft.Row(
            [
                ft.Column([heading("Today"), ft.Text(subtitle, size=14)], spacing=2, expand=True),
                *top_actions(state),
            ]
        ),
        *access_banner(state),
        *conflicts_line(state),
        *body,
    )


# --- the person's record: release and the gate ------------------------------------------------


def _outcome_line(outcome: GateOutcome) -> str:
    when = dt.datetime.fromtimestamp(outcome.written_at_ms / 1000).strftime("%d %b")
    parts = [
        f"{when}: met at the gate"
        if outcome.met
        else f"{when}: not met ({outcome.not_met_reason or 'no reason given'})"
    ]
    if outcome.accompanied_to:
        parts.append(f"went with them to {outcome.accompanied_to}")
    if outcome.housed_on_release_day is not None:
        parts.append("housed on the day of release" if outcome.housed_on_release_day else "not housed on the day")
    if outcome.reached_planned_address is not None:
        parts.append(
            "reached the planned address" if outcome.reached_planned_address else "did not reach the planned address"
        )
    if outcome.help_given:
        parts.append(f"help given: {outcome.help_given}")
    return " · ".join(parts)


def gate_sections(state: AppState, page: ft.Page) -> list[ft.Control]:
    """The record's "Release and the gate": flags, the checklist so far, the meeting, outcomes."""
    record, plan = state.record, state.day.release_plan
    if record is None or plan is None:
        return []
    read_only = record.shared_by is not None
    controls: list[ft.Control] = [section("Release and the gate")]
    controls += [_flag_chip(flag) for flag in state.day.release_flags()]
    readiness = plan.readiness
    controls.append(
        ft.Text(
            "Everything on the release checklist is in place."
            if readiness.ready
            else f"Ready: {readiness.done} of {readiness.total}. Still to do: {', '.join(readiness.missing)}.",
            size=15,
        )
    )
    values = plan.values
    if values.get("meeting_at") or values.get("meeting_place") or values.get("met_by"):
        when = _moment(str(values["meeting_at"]), state.day.today_date()) if values.get("meeting_at") else ""
        meeting = ", ".join(part for part in (when, str(values.get("meeting_place") or "")) if part)
        controls.append(
            ft.Text(f"Meeting: {meeting}" + (f" · by {values['met_by']}" if values.get("met_by") else ""), size=15)
        )
    for name in plan.conflicts:
        label = RELEASE_PLAN.fields[name].label if name in RELEASE_PLAN.fields else name
        controls.append(
            ft.Text(
                f"Two people filled in “{label}” differently; the later answer is shown.",
                size=14,
                color=ft.Colors.ERROR,
            )
        )
    controls += [ft.Text(_outcome_line(outcome), size=15) for outcome in state.day.gate_outcomes]
    if not read_only:
        buttons = [
            secondary_button(
                "Record gate outcome", lambda _: state.day.start_gate_outcome(), icon=ft.Icons.DOOR_FRONT_DOOR
            )
        ]
        if not state.is_mentor:  # the link worker keeps the checklist; a mentor sees where and when
            buttons.insert(
                0,
                secondary_button("Gate checklist", lambda _: state.day.start_gate_checklist(), icon=ft.Icons.CHECKLIST),
            )
        controls.append(ft.Row(buttons, wrap=True))
    return controls


# --- the gate checklist -------------------------------------------------------------------------


def gate_checklist_screen(state: AppState, page: ft.Page) -> ft.Control:
    plan, record = state.day.release_plan, state.record
    values = dict(plan.values) if plan is not None else {}
    values.update(state.draft)
    problems = state.form_problems
    fields = RELEASE_PLAN.fields
    accommodation = choice(
        fields["accommodation"].label,
        ACCOMMODATION_PLANS,
        value=str(values["accommodation"]) if values.get("accommodation") else None,
        error=problems.get("accommodation"),
    )
    address = field(fields["accommodation_address"].label, value=str(values.get("accommodation_address") or ""))
    boxes: dict[str, ft.Checkbox] = {}
    for name in _CHECK_ITEMS:
        if state.is_mentor and fields[name].tier is Tier.FULL:
            continue  # a mentor's phone holds only what mentors may read
        current = values.get(name)
        boxes[name] = ft.Checkbox(
            label=READINESS_ITEMS.get(name, fields[name].label),
            value=current is True or current == "yes",
            label_style=ft.TextStyle(size=16),
        )
    meeting_at = field(
        fields["meeting_at"].label,
        value=str(values.get("meeting_at") or state.day.default_meeting_time()).replace("T", " ", 1),
        hint="YYYY-MM-DD HH:MM",
        error=problems.get("meeting_at"),
    )
    meeting_place = field(fields["meeting_place"].label, value=str(values.get("meeting_place") or ""))
    met_by = field(fields["met_by"].label, value=str(values.get("met_by") or ""))
    typed: dict[str, ft.TextField | ft.Dropdown | ft.Checkbox] = {
        "accommodation": accommodation,
        "accommodation_address": address,
        "meeting_at": meeting_at,
        "meeting_place": meeting_place,
        "met_by": met_by,
        **boxes,
    }
    for key, control in typed.items():
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        answers: dict[str, object] = {name: box.value is True for name, box in boxes.items()}
        answers["accommodation"] = accommodation.value or ""
        answers["accommodation_address"] = (address.value or "").strip()
        answers["meeting_at"] = (meeting_at.value or "").strip().replace(" ", "T", 1)
        answers["meeting_place"] = (meeting_place.value or "").strip()
        answers["met_by"] = (met_by.value or "").strip()
        await state.day.save_release_plan(answers)

    async def back(_: Any) -> None:
        if state.case_id is not None:
            await state.open_person(state.case_id)

    name = record.name if record is not None and record.name else "this person"
    return screen(
        ft.Row([back_button(back), heading("Gate checklist")]),
        ft.Text(f"Getting {name} ready for release. Tick what is in place.", size=16),
        section("Where they will sleep"),
        labelled(fields["accommodation"].label, accommodation),
        address,
        section("In place for release day"),
        *boxes.values(),
        section("Meeting them at the gate"),
        meeting_at,
        meeting_place,
        met_by,
        ft.Row([primary_button("Save release plan", save)]),
        text_button("Back", back),
    )


# --- what happened at the gate -----------------------------------------------------------------


def gate_outcome_screen(state: AppState, page: ft.Page) -> ft.Control:
    draft, problems = state.draft, state.form_problems
    met = radio_choice(MET_CHOICES, draft.get("met", ""))
    reason = choice(
        "Why not", GATE_NOT_MET_REASONS, value=draft.get("not_met_reason") or None, error=problems.get("not_met_reason")
    )
    accompanied = field(
        "Went with them to", value=draft.get("accompanied_to", ""), hint="Housing options, probation, DIP…"
    )
    housed = choice("Housed on the day of release", YES_NO_UNKNOWN, value=draft.get("housed_on_release_day", ""))
    reached = choice("Reached the planned address", YES_NO_UNKNOWN, value=draft.get("reached_planned_address", ""))
    help_given = field("Help given", value=draft.get("help_given", ""), multiline=True)
    for key, control in (
        ("met", met),
        ("not_met_reason", reason),
        ("accompanied_to", accompanied),
        ("housed_on_release_day", housed),
        ("reached_planned_address", reached),
        ("help_given", help_given),
    ):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.day.record_gate_outcome(
            met=str(met.value or ""),
            not_met_reason=str(reason.value or ""),
            accompanied_to=(accompanied.value or "").strip(),
            housed_on_release_day=str(housed.value or ""),
            reached_planned_address=str(reached.value or ""),
            help_given=(help_given.value or "").strip(),
        )

    async def back(_: Any) -> None:
        if state.case_id is not None:
            await state.open_person(state.case_id)

    record = state.record
    name = record.name if record is not None and record.name else "them"
    problem = problems.get("met")
    return screen(
        ft.Row([back_button(back), heading("Gate outcome")]),
        ft.Text(f"What happened when {name} came out?", size=16),
        met,
        *([ft.Text(problem, color=ft.Colors.ERROR, size=14)] if problem else []),
        labelled("Why not", reason),
        accompanied,
        labelled("Housed on the day of release", housed),
        labelled("Reached the planned address", reached),
        help_given,
        ft.Row([primary_button("Save gate outcome", save)]),
        text_button("Back", back),
    )


DAY_SCREENS = {
    "today": today_screen,
    "gate_checklist": gate_checklist_screen,
    "gate_outcome": gate_outcome_screen,
}
