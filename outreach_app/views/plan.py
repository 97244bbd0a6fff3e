"""The person's needs, plan and referrals: the sections of their record and the screens that add to
them (rate a need, add to the plan, refer with the summary of all their needs, move a referral on).

A rating is always said in words (Red, Amber, Green) beside its colour and its own icon, never by
colour alone. Peer mentors see none of this (it is the full tier); a person shared with us by
another organisation is read only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft
import flet_charts as fch

from outreach_app.services import NeedHistory, NeedRating, PlanAction, Referral
from outreach_app.state import AppState, Notice
from outreach_app.state.plan import day_text, movement_text, referral_next_statuses
from outreach_app.views.widgets import (
    TOUCH_HEIGHT,
    back_button,
    choice,
    field,
    keep_typed,
    labelled,
    primary_button,
    radio_choice,
    screen,
    secondary_button,
    section,
    text_button,
)
from shared.kinds import NEED_HANDLED, RATINGS, REFERRAL_SERVICES, REFERRAL_STATUSES
from shared.resettlement import NEED_AREAS, FollowUpState, Rating

__all__ = ["PLAN_SCREENS", "plan_sections"]

# Colour, the colour of text on it, an icon of its own shape, and what it means in plain words.
_RATING_LOOK: dict[Rating, tuple[str, str, Any, str]] = {
    Rating.RED: (ft.Colors.RED_700, ft.Colors.WHITE, ft.Icons.REPORT, "Needs help now"),
    Rating.AMBER: (ft.Colors.AMBER_600, ft.Colors.BLACK, ft.Icons.WARNING_AMBER, "Some help still needed"),
    Rating.GREEN: (ft.Colors.GREEN_700, ft.Colors.WHITE, ft.Icons.CHECK_CIRCLE, "Sorted for now"),
}
_STATUS_ICONS = {
    "sent": ft.Icons.OUTBOX,
    "accepted": ft.Icons.THUMB_UP_ALT_OUTLINED,
    "declined": ft.Icons.DO_NOT_DISTURB_ON_OUTLINED,
    "started": ft.Icons.PLAY_CIRCLE_OUTLINE,
}
_OPTIONAL = "(if any)"


def _read_only(state: AppState) -> bool:
    return state.record is None or bool(state.record.shared_by)


def _name(state: AppState) -> str:
    return state.record.name if state.record is not None and state.record.name else "this person"


def _problems(state: AppState, *names: str) -> list[ft.Control]:
    return [
        ft.Text(state.form_problems[name], color=ft.Colors.ERROR, size=15)
        for name in names
        if name in state.form_problems
    ]


def _title(back: Any, text: str) -> ft.Control:
    return ft.Row([back_button(back), ft.Text(text, size=22, weight=ft.FontWeight.BOLD, expand=True)])


def _back_to_person(state: AppState) -> Any:
    async def back(_: Any) -> None:
        if state.case_id:
            await state.open_person(state.case_id)

    return back


# --- the sections of the person's record --------------------------------------------------------


def plan_sections(state: AppState, page: ft.Page) -> list[ft.Control]:
    """Needs, Plan and Referrals, shown on the person's record after the contacts."""
    if state.is_mentor or state.record is None:
        return []
    plan = state.plan
    read_only = _read_only(state)
    if read_only and not (plan.needs or plan.plan or plan.referrals):
        return []  # the organisation that shares this person shared none of it
    return [*_needs_section(state, read_only), *_plan_section(state, read_only), *_referrals_section(state, read_only)]


def rating_chip(rating: Rating) -> ft.Control:
    """The rating as a coloured chip that also says it in a word and an icon."""
    colour, on_colour, icon, _meaning = _RATING_LOOK[rating]
    return ft.Container(
        ft.Row(
            [ft.Icon(icon, color=on_colour, size=18), ft.Text(RATINGS[rating.value], color=on_colour, size=16,
                                                               weight=ft.FontWeight.BOLD)],
            spacing=4,
            tight=True,
        ),
        bgcolor=colour,
        border_radius=16,
        padding=ft.Padding.symmetric(horizontal=10, vertical=4),
    )  # fmt: skip


def _rating_chart(need: NeedHistory, today: dt.date) -> ft.Control:
    """One bar per rating, oldest first: higher and greener is better (red 1, amber 2, green 3)."""
    shown = need.ratings[-8:]  # a phone has room for about eight; the words cover the whole history
    groups = [
        fch.BarChartGroup(
            x=index,
            rods=[
                fch.BarChartRod(
                    from_y=0,
                    to_y=rating.rating.score + 1,
                    width=18,
                    color=_RATING_LOOK[rating.rating][0],
                    border_radius=3,
                    tooltip=f"{RATINGS[rating.rating.value]} on {day_text(rating.rated_on, today)}",
                )
            ],
        )
        for index, rating in enumerate(shown)
    ]
    chart = fch.BarChart(
        groups=groups,
        min_y=0,
        max_y=3,
        interactive=False,
        left_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=score + 1, label=ft.Text(word, size=11))
                for score, word in enumerate(RATINGS.values())
            ],
            label_size=48,
            label_spacing=1,
        ),
        bottom_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=index, label=ft.Text(day_text(rating.rated_on, today), size=11))
                for index, rating in enumerate(shown)
            ],
            label_size=24,
        ),
        horizontal_grid_lines=fch.ChartGridLines(interval=1, color=ft.Colors.OUTLINE_VARIANT, width=1),
        height=130,
        expand=True,
    )
    words = ", ".join(f"{RATINGS[rating.rating.value]} on {day_text(rating.rated_on, today)}" for rating in shown)
    return ft.Semantics(label=f"{need.label} ratings over time: {words}", content=chart)


def _rating_line(rating: NeedRating, today: dt.date) -> str:
    line = f"Rated {day_text(rating.rated_on, today)}"
    return f"{line} · {rating.handled}" if rating.handled else line


def _need_card(state: AppState, need: NeedHistory, read_only: bool) -> ft.Control:
    today = state.plan.today()
    latest = need.latest
    lines: list[ft.Control] = [
        ft.Row(
            [ft.Text(need.label, size=17, weight=ft.FontWeight.W_600, expand=True), rating_chip(latest.rating)],
            vertical_alignment=ft.CrossAxisAlignment.START,
        ),
        ft.Text(_rating_line(latest, today), size=14),
    ]
    if latest.reason:
        lines.append(ft.Text(latest.reason, size=16))
    lines.append(ft.Text(movement_text(need, today), size=15, weight=ft.FontWeight.W_500))
    if len(need.ratings) > 1:
        lines.append(_rating_chart(need, today))
        earlier = [f"{RATINGS[r.rating.value]} {day_text(r.rated_on, today)}" for r in need.ratings[:-1]]
        lines.append(ft.Text(f"Before: {', '.join(reversed(earlier))}", size=13, color=ft.Colors.ON_SURFACE_VARIANT))
    if not read_only:

        def again(_: Any, area: str = need.need_area) -> None:
            state.plan.start_rating_need(area)

        lines.append(ft.Row([ft.TextButton(f"Rate {need.label.lower()} again", on_click=again, height=TOUCH_HEIGHT)]))
    return ft.Card(content=ft.Container(ft.Column(lines, spacing=6), padding=12))


def _needs_section(state: AppState, read_only: bool) -> list[ft.Control]:
    needs = state.plan.needs
    controls: list[ft.Control] = [section("Needs")]
    if not read_only:
        controls.append(
            ft.Row([secondary_button("Rate a need", lambda _: state.plan.start_rating_need(), icon=ft.Icons.TRAFFIC)])
        )
    if not needs:
        controls.append(ft.Text("No need rated yet. Rate each need red, amber or green as you learn it.", size=15))
    controls += [_need_card(state, need, read_only) for need in needs]
    if needs:
        rated = {need.need_area for need in needs}
        missing = [label for area, label in NEED_AREAS.items() if area not in rated]
        if missing:
            controls.append(
                ft.Text(f"Not rated yet: {', '.join(missing)}.", size=14, color=ft.Colors.ON_SURFACE_VARIANT)
            )
    return controls


def _due_text(action: PlanAction, today: dt.date) -> tuple[str, bool]:
    """When it is due, in plain words, and whether it is overdue."""
    if action.state is FollowUpState.DONE:
        return f"Done (was due {day_text(action.due_on, today)})", False
    if action.state is FollowUpState.OVERDUE:
        days = (today - action.due_on).days
        return f"Overdue: it was due {day_text(action.due_on, today)}, {days} day{'s' if days != 1 else ''} ago", True
    if action.state is FollowUpState.DUE_TODAY:
        return "Due today", False
    return f"Due {day_text(action.due_on, today)}", False


def _action_row(state: AppState, action: PlanAction, read_only: bool) -> ft.Control:
    today = state.plan.today()
    due, overdue = _due_text(action, today)

    async def toggled(event: Any, record_id: str = action.record_id) -> None:
        await state.plan.set_done(record_id, bool(event.control.value))

    box = ft.Checkbox(
        label=action.action,
        value=action.done,
        on_change=toggled,
        disabled=read_only,
        label_style=ft.TextStyle(size=16),
    )
    facts = ["Follow-up" if action.follow_up else "Action", action.owner]
    if action.need_area:
        facts.append(NEED_AREAS.get(action.need_area, action.need_area))
    lines: list[ft.Control] = [
        box,
        ft.Text(" · ".join(facts), size=14),
        ft.Row(
            [
                *([ft.Icon(ft.Icons.ALARM, color=ft.Colors.ERROR, size=18)] if overdue else []),
                ft.Text(
                    due,
                    size=15,
                    color=ft.Colors.ERROR if overdue else None,
                    weight=ft.FontWeight.BOLD if overdue else None,
                    expand=True,
                ),
            ],
            spacing=4,
        ),
    ]
    return ft.Container(
        ft.Column(lines, spacing=2),
        padding=ft.Padding.only(left=4, right=8, top=4, bottom=8),
        border=ft.Border.only(left=ft.BorderSide(4, ft.Colors.ERROR if overdue else ft.Colors.OUTLINE_VARIANT)),
    )


def _plan_section(state: AppState, read_only: bool) -> list[ft.Control]:
    plan = state.plan
    controls: list[ft.Control] = [section("Plan")]
    if not read_only:
        controls.append(
            ft.Row(
                [
                    secondary_button("Add to plan", lambda _: plan.start_adding_action(), icon=ft.Icons.ADD_TASK),
                    secondary_button(
                        "Add follow-up", lambda _: plan.start_adding_action(follow_up=True), icon=ft.Icons.EVENT
                    ),
                ],
                wrap=True,
            )
        )
    overdue = plan.overdue
    if overdue:
        controls.append(
            ft.Text(
                f"{len(overdue)} overdue: {'it' if len(overdue) == 1 else 'they'} should have been done already.",
                color=ft.Colors.ERROR,
                size=15,
                weight=ft.FontWeight.BOLD,
            )
        )
    open_actions = plan.open_actions
    if not plan.plan:
        controls.append(ft.Text("Nothing in the plan yet.", size=15))
    elif not open_actions:
        controls.append(ft.Text("Everything in the plan is done.", size=15))
    controls += [_action_row(state, action, read_only) for action in open_actions]
    done = plan.done_actions
    if done:
        controls.append(ft.Text("Done", size=15, weight=ft.FontWeight.W_600))
        controls += [_action_row(state, action, read_only) for action in done]
    return controls


def _referral_card(state: AppState, referral: Referral, read_only: bool) -> ft.Control:
    today = state.plan.today()
    sent = f"Sent {day_text(referral.sent_on, today)}"
    if referral.need_area:
        sent += f" · for {NEED_AREAS.get(referral.need_area, referral.need_area).lower()}"
    status = referral.status_label
    if referral.status_on is not None and referral.status != "sent":
        status += f" on {day_text(referral.status_on, today)}"
    lines: list[ft.Control] = [
        ft.Text(f"{referral.service_label}: {referral.to_whom}", size=17, weight=ft.FontWeight.W_600),
        ft.Text(sent, size=14),
        ft.Row(
            [ft.Icon(_STATUS_ICONS.get(referral.status, ft.Icons.INFO_OUTLINE), size=18), ft.Text(status, size=16)],
            spacing=6,
        ),
    ]
    if referral.declined_reason:
        lines.append(ft.Text(f"Why it was declined: {referral.declined_reason}", size=15))
    if not read_only and referral_next_statuses(referral):

        def move(_: Any, chosen: Referral = referral) -> None:
            state.plan.start_moving(chosen)

        lines.append(ft.Row([secondary_button(f"Update referral to {referral.to_whom}", move)], wrap=True))
    return ft.Card(content=ft.Container(ft.Column(lines, spacing=6), padding=12))


def _referrals_section(state: AppState, read_only: bool) -> list[ft.Control]:
    referrals = state.plan.referrals
    controls: list[ft.Control] = [section("Referrals")]
    if not read_only:
        controls.append(ft.Row([secondary_button("Refer", lambda _: state.plan.start_referring(), icon=ft.Icons.SEND)]))
    if not referrals:
        controls.append(ft.Text("No referral yet.", size=15))
    controls += [_referral_card(state, referral, read_only) for referral in referrals]
    return controls


# --- rate a need ----------------------------------------------------------------------------------


def _rating_choices(value: str | None) -> ft.RadioGroup:
    """Red, amber, green as large choices: each in its colour's frame, with its icon and its word."""
    options: list[ft.Control] = []
    for rating in Rating:
        colour, _on_colour, icon, meaning = _RATING_LOOK[rating]
        options.append(
            ft.Container(
                ft.Row(
                    [
                        ft.Radio(
                            value=rating.value,
                            label=RATINGS[rating.value],
                            label_style=ft.TextStyle(size=19, weight=ft.FontWeight.BOLD),
                        ),
                        ft.Icon(icon, color=colour, size=24),
                        ft.Text(meaning, size=15, expand=True),
                    ],
                    spacing=8,
                ),
                border=ft.Border.all(2, colour),
                border_radius=10,
                padding=ft.Padding.symmetric(horizontal=6, vertical=4),
                height=64,
            )
        )
    return ft.RadioGroup(value=value, content=ft.Column(options, spacing=10))


def rate_need_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    today = state.plan.today()
    need = choice("Need", NEED_AREAS, value=draft.get("need_area") or None, error=problems.get("need_area"))
    rating = _rating_choices(draft.get("rating") or None)
    rated_on = field(
        "Rated on", value=draft.get("rated_on") or today.isoformat(), hint="YYYY-MM-DD", error=problems.get("rated_on")
    )
    reason = field("Why, in a few words", value=draft.get("reason", ""), multiline=True, error=problems.get("reason"))
    handled = radio_choice(NEED_HANDLED, draft.get("handled", ""))
    for key, control in (
        ("need_area", need),
        ("rating", rating),
        ("rated_on", rated_on),
        ("reason", reason),
        ("handled", handled),
    ):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.plan.rate_need(
            need_area=str(need.value or ""),
            rating=str(rating.value or ""),
            rated_on=rated_on.value or "",
            reason=reason.value or "",
            handled=str(handled.value or ""),
        )

    before: list[ft.Control] = []
    history = next((item for item in state.plan.needs if item.need_area == draft.get("need_area")), None)
    if history is not None:
        latest = history.latest
        before = [
            ft.Row(
                [
                    ft.Text(f"Last rated {day_text(latest.rated_on, today)}:", size=15),
                    rating_chip(latest.rating),
                ],
                wrap=True,
            )
        ]
    return screen(
        _title(_back_to_person(state), f"Rate a need for {_name(state)}"),
        ft.Text("Rate how this need stands today. Rate it again whenever it changes.", size=15),
        labelled("Need", need),
        *before,
        section("How it stands"),
        rating,
        *_problems(state, "rating"),
        rated_on,
        reason,
        section("Met in house or referred on?"),
        handled,
        *_problems(state, "handled"),
        ft.Row([primary_button("Save rating", save)]),
        text_button("Back", _back_to_person(state)),
    )


# --- add to the plan ------------------------------------------------------------------------------


def add_action_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    week_on = state.plan.today() + dt.timedelta(days=7)
    what = field("What needs doing", value=draft.get("action", ""), error=problems.get("action"))
    owner = field("Who does it", value=draft.get("owner", ""), error=problems.get("owner"))
    due = field(
        "Due by", value=draft.get("due_on") or week_on.isoformat(), hint="YYYY-MM-DD", error=problems.get("due_on")
    )
    need = choice(
        f"Need {_OPTIONAL}", NEED_AREAS, value=draft.get("need_area") or None, error=problems.get("need_area")
    )
    follow_up = ft.Checkbox(label="This is a follow-up contact", value=draft.get("follow_up") == "yes")

    def follow_up_changed(_: Any) -> None:
        state.keep_draft("follow_up", "yes" if follow_up.value else "")

    follow_up.on_change = follow_up_changed
    for key, control in (("action", what), ("owner", owner), ("due_on", due), ("need_area", need)):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.plan.add_action(
            action=what.value or "",
            owner=owner.value or "",
            due_on=due.value or "",
            need_area=str(need.value or ""),
            follow_up=bool(follow_up.value),
        )

    return screen(
        _title(_back_to_person(state), f"Add to {_name(state)}'s plan"),
        ft.Text(
            "An action with who does it and by when. A follow-up is the next time someone contacts them: "
            "the first two weeks after release matter most, then weekly.",
            size=15,
        ),
        what,
        owner,
        due,
        labelled(f"Need {_OPTIONAL}", need),
        follow_up,
        ft.Row([primary_button("Add to plan", save)]),
        text_button("Back", _back_to_person(state)),
    )


# --- refer ----------------------------------------------------------------------------------------


def refer_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    service = choice(
        "Kind of service", REFERRAL_SERVICES, value=draft.get("service") or None, error=problems.get("service")
    )
    to_whom = field(
        "Referred to",
        value=draft.get("to_whom", ""),
        hint="The service and the person there",
        error=problems.get("to_whom"),
    )
    need = choice(
        f"Need {_OPTIONAL}", NEED_AREAS, value=draft.get("need_area") or None, error=problems.get("need_area")
    )
    sent_on = field(
        "Sent on",
        value=draft.get("sent_on") or state.plan.today().isoformat(),
        hint="YYYY-MM-DD",
        error=problems.get("sent_on"),
    )
    for key, control in (("service", service), ("to_whom", to_whom), ("need_area", need), ("sent_on", sent_on)):
        keep_typed(state, control, key)

    def review(_: Any) -> None:
        state.plan.review_referral(
            service=str(service.value or ""),
            to_whom=to_whom.value or "",
            need_area=str(need.value or ""),
            sent_on=sent_on.value or "",
        )

    async def from_directory(_: Any) -> None:
        await state.directory.choose_for_referral()

    return screen(
        _title(_back_to_person(state), f"Refer {_name(state)}"),
        ft.Row([secondary_button("Choose from the service directory", from_directory, icon=ft.Icons.STOREFRONT)]),
        labelled("Kind of service", service),
        to_whom,
        labelled(f"Need {_OPTIONAL}", need),
        sent_on,
        ft.Text(
            "Next you see a summary of all their needs, not only the one you refer for, to go with the referral.",
            size=15,
        ),
        ft.Row([primary_button("Review referral", review)]),
        text_button("Back", _back_to_person(state)),
    )


def referral_summary_screen(state: AppState, page: ft.Page) -> ft.Control:
    summary = state.plan.referral_summary()
    if summary is None:
        return screen(ft.Text("Nothing to summarise."), text_button("Back", _back_to_person(state)))
    today = state.plan.today()

    async def send(_: Any) -> None:
        await state.plan.send_referral()

    async def copy(_: Any) -> None:
        try:
            await ft.Clipboard().set(summary.as_text(today))
        except Exception:  # a browser that refuses the clipboard
            state.on_notice(Notice("This device did not let Gatepost copy. Read the summary out instead.", True))
            return
        state.on_notice(Notice("Summary copied. Paste it only where the person agreed it may go, then clear it."))

    referral_lines = [
        ft.Text(f"{summary.service_label}: {summary.to_whom}", size=17, weight=ft.FontWeight.W_600),
        ft.Text(f"Sent on {day_text(summary.sent_on, today)}", size=15),
    ]
    if summary.need_label:
        referral_lines.append(ft.Text(f"For: {summary.need_label}", size=15))
    needs: list[ft.Control] = []
    for need in summary.needs:
        latest = need.latest
        needs.append(
            ft.Container(
                ft.Column(
                    [
                        ft.Row(
                            [ft.Text(need.label, size=16, weight=ft.FontWeight.W_600, expand=True),
                             rating_chip(latest.rating)],
                            vertical_alignment=ft.CrossAxisAlignment.START,
                        ),
                        ft.Text(_rating_line(latest, today), size=14),
                        *([ft.Text(latest.reason, size=15)] if latest.reason else []),
                        ft.Text(movement_text(need, today), size=14, color=ft.Colors.ON_SURFACE_VARIANT),
                    ],
                    spacing=2,
                ),
                padding=ft.Padding.only(bottom=8),
            )
        )  # fmt: skip
    if not summary.needs:
        needs = [ft.Text("No need rated yet. Rate their needs first if you can.", size=15)]
    if summary.not_rated:
        needs.append(ft.Text(f"Not rated yet: {', '.join(summary.not_rated)}.", size=14))
    actions: list[ft.Control] = [
        ft.Text(f"{action.action} ({action.owner}, by {day_text(action.due_on, today)})", size=15)
        for action in summary.open_actions
    ] or [ft.Text("No open action.", size=15)]
    return screen(
        _title(lambda _: state.plan.change_referral(), "Referral summary"),
        ft.Container(
            ft.Text(
                f"Gatepost sends nothing anywhere. This is for you to read out or copy for {summary.to_whom}. "
                f"Share only what {summary.name} agreed to share.",
                size=15,
            ),
            bgcolor=ft.Colors.SECONDARY_CONTAINER,
            padding=12,
            border_radius=8,
        ),
        section(f"Referral of {summary.name}"),
        *referral_lines,
        section("Their own goals"),
        ft.Text(summary.goals or "Not written down yet.", size=16),
        section("All their needs"),
        *needs,
        section("Open actions of their plan"),
        *actions,
        ft.Row([primary_button("Save referral as sent", send)]),
        ft.Row(
            [
                secondary_button("Change referral", lambda _: state.plan.change_referral()),
                secondary_button("Copy summary", copy, icon=ft.Icons.COPY),
            ],
            wrap=True,
        ),
    )


# --- move a referral on ---------------------------------------------------------------------------


def move_referral_screen(state: AppState, page: ft.Page) -> ft.Control:
    referral = state.plan.moving
    if referral is None:
        return screen(ft.Text("No referral chosen."), text_button("Back", _back_to_person(state)))
    problems, draft = state.form_problems, state.draft
    today = state.plan.today()
    choices = {status: REFERRAL_STATUSES[status] for status in referral_next_statuses(referral)}
    status = radio_choice(choices, draft.get("status") or next(iter(choices), ""))
    on = field("On", value=draft.get("status_on") or today.isoformat(), hint="YYYY-MM-DD",
               error=problems.get("status_on"))  # fmt: skip
    reason = field(
        "Why it was declined",
        value=draft.get("declined_reason", ""),
        multiline=True,
        helper="Only when it was declined",
        error=problems.get("declined_reason"),
    )
    for key, control in (("status", status), ("status_on", on), ("declined_reason", reason)):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.plan.move_referral(
            status=str(status.value or ""), on=on.value or "", declined_reason=reason.value or ""
        )

    now = referral.status_label
    if referral.status_on is not None and referral.status != "sent":
        now += f" on {day_text(referral.status_on, today)}"
    return screen(
        _title(_back_to_person(state), f"Referral to {referral.to_whom}"),
        ft.Text(f"{referral.service_label}, sent {day_text(referral.sent_on, today)}. Now: {now}.", size=15),
        section("What happened?"),
        status,
        *_problems(state, "status"),
        on,
        reason,
        ft.Row([primary_button("Save status", save)]),
        text_button("Back", _back_to_person(state)),
    )


PLAN_SCREENS = {
    "rate_need": rate_need_screen,
    "add_action": add_action_screen,
    "refer": refer_screen,
    "referral_summary": referral_summary_screen,
    "move_referral": move_referral_screen,
}
