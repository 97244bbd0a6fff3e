"""The coordinator's caseload dashboard, at the top of the Desk: filters, a card per worker (their
people one tap away, each opening the record) and three charts, each with a caption in plain words
and a text alternative for screen readers. On a phone everything is one column; in a wide browser
the cards and the charts sit side by side.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flet as ft
import flet_charts as fch

from outreach_app.services import Dashboard, DashboardFilters, WorkerCaseload
from outreach_app.services.dashboard import ENGAGEMENT_FILTERS, RELEASE_WINDOWS, CaseloadPerson, QuarterOutcomes
from outreach_app.state import AppState
from outreach_app.views.widgets import back_button, choice, labelled, screen, secondary_button, section, text_button
from shared.kinds import CONTACT_SETTINGS
from shared.resettlement import NEED_AREAS, Engagement

__all__ = ["DASHBOARD_SCREENS", "dashboard_controls"]

# Two columns from a tablet up, three on a laptop; one on a phone.
_CARD_COLUMNS = {"xs": 12, "md": 6, "xl": 4}
_CHART_COLUMNS = {"xs": 12, "lg": 6, "xl": 4}
_SETTING_COLOURS = (
    ft.Colors.TEAL_700,
    ft.Colors.INDIGO_400,
    ft.Colors.ORANGE_700,
    ft.Colors.PURPLE_400,
    ft.Colors.BROWN_400,
    ft.Colors.CYAN_700,
    ft.Colors.PINK_400,
    ft.Colors.LIME_800,
    ft.Colors.BLUE_GREY_500,
    ft.Colors.DEEP_ORANGE_300,
    ft.Colors.GREEN_900,
)
_SHORT_NEEDS = {
    "accommodation": "Housing",
    "ete": "ETE",
    "drugs": "Drugs",
    "alcohol": "Alcohol",
    "mental_health": "Mental",
    "physical_health": "Physical",
    "finance": "Money",
    "family": "Family",
    "identity": "ID",
    "learning": "Learning",
    "trauma": "Trauma",
    "thinking": "Thinking",
    "daily_life": "Daily life",
}
_UP, _STAYED, _DOWN = ft.Colors.GREEN_700, ft.Colors.BLUE_GREY_300, ft.Colors.RED_700


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def _ago(day: dt.date | None, today: dt.date) -> str:
    if day is None:
        return "no contact recorded"
    days = (today - day).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{_day(day)} ({days} days ago)"


def _muted(text: str) -> ft.Control:
    return ft.Text(text, size=14, color=ft.Colors.ON_SURFACE_VARIANT)


def _box(*controls: ft.Control, col: Any = 12) -> ft.Container:
    # A plain box with a button in it, not a tappable Card: Flutter reads a tappable box's texts as
    # one button's name, which hides the button inside it from screen readers.
    return ft.Container(
        ft.Column(list(controls), spacing=6, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
        padding=14,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=12,
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        col=col,
    )


# --- filters ------------------------------------------------------------------------------------


def _filters(state: AppState, board: Dashboard) -> ft.Control:
    dashboard = state.desk.dashboard
    filters = board.filters
    everyone = {"": "Everyone"}
    worker = choice("Worker", {**{"": "The whole team"}, **dict(board.team)}, value=filters.worker or "")
    engagement = choice("Working with us?", {**everyone, **ENGAGEMENT_FILTERS}, value=filters.engagement or "")
    release = choice(
        "Release",
        {"": "Any time, or not known", **{str(days): f"In the next {days} days" for days in RELEASE_WINDOWS}},
        value=str(filters.release_days or ""),
    )

    async def chose_worker(_: Any) -> None:
        await dashboard.choose(worker=str(worker.value or ""))

    async def chose_engagement(_: Any) -> None:
        await dashboard.choose(engagement=str(engagement.value or ""))

    async def chose_release(_: Any) -> None:
        await dashboard.choose(release=str(release.value or ""))

    worker.on_select, engagement.on_select, release.on_select = chose_worker, chose_engagement, chose_release
    return ft.ResponsiveRow(
        [
            ft.Container(labelled("Worker", worker), col={"xs": 12, "md": 4}),
            ft.Container(labelled("Working with us?", engagement), col={"xs": 12, "md": 4}),
            ft.Container(labelled("Release", release), col={"xs": 12, "md": 4}),
        ],
        spacing=10,
        run_spacing=10,
    )


# --- a card per worker ----------------------------------------------------------------------------


def _worker_lines(worker: WorkerCaseload, board: Dashboard) -> list[ft.Control]:
    people = len(worker.people)
    overdue = worker.overdue_follow_ups
    lines: list[ft.Control] = [
        ft.Text(
            f"{worker.name}{' (you)' if worker.is_you else ''}",
            size=18,
            weight=ft.FontWeight.BOLD,
        ),
        ft.Text(f"{people} {'person' if people == 1 else 'people'}", size=16, weight=ft.FontWeight.W_600),
        ft.Text(f"Last contact: {_ago(worker.last_contact_on, board.on)}", size=15),
        ft.Row(
            [
                ft.Icon(
                    ft.Icons.WARNING_AMBER_ROUNDED if overdue else ft.Icons.CHECK_CIRCLE_OUTLINE,
                    color=ft.Colors.ERROR if overdue else ft.Colors.PRIMARY,
                    size=18,
                ),
                ft.Text(
                    f"{overdue} follow-up{'' if overdue == 1 else 's'} overdue" if overdue else "No follow-ups overdue",
                    size=15,
                    weight=ft.FontWeight.W_600 if overdue else None,
                ),
            ],
            spacing=6,
        ),
        ft.Text(f"Releases in the next {board.window_days} days: {worker.releases}", size=15),
        ft.Text(f"Stopped engaging: {worker.stopped_engaging} · Not taken on: {worker.not_taken_on}", size=15),
    ]
    return lines


def _worker_card(state: AppState, worker: WorkerCaseload, board: Dashboard) -> ft.Control:
    async def open_worker(_: Any, key: str = worker.key) -> None:
        await state.desk.dashboard.open_worker(key)

    return _box(
        *_worker_lines(worker, board),
        ft.TextButton(f"See {worker.name}'s people", icon=ft.Icons.PEOPLE_OUTLINE, on_click=open_worker, height=48),
        col=_CARD_COLUMNS,
    )


# --- the charts -----------------------------------------------------------------------------------


def _chart_box(title: str, caption: str, alternative: str, chart: ft.Control, legend: list[ft.Control]) -> ft.Control:
    return _box(
        ft.Text(title, size=17, weight=ft.FontWeight.W_600),
        _muted(caption),
        ft.Semantics(label=f"{title}. {alternative}", content=chart),
        ft.Row(legend, wrap=True, spacing=12, run_spacing=4),
        col=_CHART_COLUMNS,
    )


def _key(colour: str, text: str) -> ft.Control:
    return ft.Row(
        [ft.Container(width=14, height=14, bgcolor=colour, border_radius=3), ft.Text(text, size=13)],
        spacing=4,
        tight=True,
    )


def _count_axis(top: int) -> tuple[int, fch.ChartAxis, fch.ChartGridLines]:
    """A left axis of whole numbers (people and contacts come whole) up to at least ``top``."""
    step = max(1, -(-top // 4))
    highest = step * max(1, -(-top // step))
    axis = fch.ChartAxis(
        labels=[
            fch.ChartAxisLabel(value=value, label=ft.Text(str(value), size=10)) for value in range(0, highest + 1, step)
        ],
        label_size=32,
    )
    return highest, axis, fch.ChartGridLines(interval=step, color=ft.Colors.OUTLINE_VARIANT, width=1)


def _contacts_chart(board: Dashboard) -> ft.Control:
    weeks = board.contacts
    colours = {key: _SETTING_COLOURS[index % len(_SETTING_COLOURS)] for index, key in enumerate(weeks.counts)}
    top = max((weeks.total(index) for index in range(len(weeks.weeks))), default=0)
    groups = []
    for index, monday in enumerate(weeks.weeks):
        stack, base = [], 0
        for setting, series in weeks.counts.items():
            if series[index]:
                stack.append(fch.BarChartRodStackItem(from_y=base, to_y=base + series[index], color=colours[setting]))
                base += series[index]
        groups.append(
            fch.BarChartGroup(
                x=index,
                rods=[
                    fch.BarChartRod(
                        from_y=0,
                        to_y=base,
                        width=14,
                        stack_items=stack,
                        color=ft.Colors.TEAL_700,
                        border_radius=2,
                        tooltip=f"Week of {_day(monday)}: {base}",
                    )
                ],
            )
        )
    highest, left_axis, grid = _count_axis(top)
    chart = fch.BarChart(
        groups=groups,
        min_y=0,
        max_y=highest,
        interactive=False,
        left_axis=left_axis,
        bottom_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=index, label=ft.Text(_day(monday), size=10))
                for index, monday in enumerate(weeks.weeks)
                if (len(weeks.weeks) - 1 - index) % 3 == 0  # every third week, this one last
            ],
            label_size=22,
        ),
        horizontal_grid_lines=grid,
        height=190,
        expand=True,
    )
    total = sum(weeks.total(index) for index in range(len(weeks.weeks)))
    by_setting = sorted(((sum(series), key) for key, series in weeks.counts.items()), reverse=True)
    caption = (
        f"{total} contacts in the last {len(weeks.weeks)} weeks, this week on the right, attempts included."
        if total
        else "No contacts in the last 12 weeks."
    )
    if by_setting:
        caption += f" Most were {CONTACT_SETTINGS[by_setting[0][1]].lower()}."
    alternative = "; ".join(
        f"week of {_day(monday)}: {weeks.total(index)}"
        + (
            " ("
            + ", ".join(
                f"{CONTACT_SETTINGS[key]} {series[index]}" for key, series in weeks.counts.items() if series[index]
            )
            + ")"
            if weeks.total(index)
            else ""
        )
        for index, monday in enumerate(weeks.weeks)
    )
    legend = [_key(colours[key], f"{CONTACT_SETTINGS[key]} ({count})") for count, key in by_setting]
    return _chart_box("Contacts per week, by where", caption, alternative, chart, legend)


def _needs_chart(board: Dashboard) -> ft.Control:
    needs = board.needs
    top = max((need.moved_up + need.stayed + need.moved_down for need in needs), default=0)
    groups = []
    for index, need in enumerate(needs):
        stack, base = [], 0
        for count, colour in ((need.moved_down, _DOWN), (need.stayed, _STAYED), (need.moved_up, _UP)):
            if count:
                stack.append(fch.BarChartRodStackItem(from_y=base, to_y=base + count, color=colour))
                base += count
        groups.append(
            fch.BarChartGroup(
                x=index,
                rods=[
                    fch.BarChartRod(from_y=0, to_y=base, width=16, stack_items=stack, color=_STAYED, border_radius=2)
                ],
            )
        )
    highest, left_axis, grid = _count_axis(top)
    chart = fch.BarChart(
        groups=groups,
        min_y=0,
        max_y=highest,
        interactive=False,
        left_axis=left_axis,
        bottom_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=index, label=ft.Text(_SHORT_NEEDS.get(need.need_area, need.label), size=10))
                for index, need in enumerate(needs)
            ],
            label_size=22,
        ),
        horizontal_grid_lines=grid,
        height=190,
        expand=True,
    )
    up = sum(need.moved_up for need in needs)
    down = sum(need.moved_down for need in needs)
    caption = (
        f"From each person's first rating to their latest: {up} moved towards green, {down} moved towards red."
        if needs
        else "Nobody's needs are rated yet."
    )
    alternative = "; ".join(
        f"{NEED_AREAS[need.need_area]}: {need.moved_up} moved up, {need.stayed} stayed, {need.moved_down} moved down"
        for need in needs
    )
    legend = [_key(_UP, "Moved towards green"), _key(_STAYED, "No change"), _key(_DOWN, "Moved towards red")]
    return _chart_box("Needs moving from red to green", caption, alternative or caption, chart, legend)


def _quarter(quarter: QuarterOutcomes) -> str:
    start = quarter.period.start
    return f"{start:%b} to {quarter.period.end:%b} {start:%y}"


_MEASURES = (
    ("NI 143 as defined", "ni143", ft.Colors.TEAL_700),
    ("NI 143 strict", "ni143_strict", ft.Colors.TEAL_300),
    ("NI 144 in work", "ni144", ft.Colors.INDIGO_400),
)


def _outcomes_chart(board: Dashboard) -> ft.Control:
    quarters = board.outcomes
    groups = []
    for index, quarter in enumerate(quarters):
        rods = []
        for label, attribute, colour in _MEASURES:
            share = QuarterOutcomes.share(getattr(quarter, attribute), quarter.ended)
            rods.append(
                fch.BarChartRod(
                    from_y=0,
                    to_y=share or 0,
                    width=10,
                    color=colour,
                    border_radius=2,
                    tooltip=f"{label}: {share}%" if share is not None else f"{label}: none ended",
                )
            )
        groups.append(fch.BarChartGroup(x=index, rods=rods, spacing=2))
    chart = fch.BarChart(
        groups=groups,
        min_y=0,
        max_y=100,
        interactive=False,
        left_axis=fch.ChartAxis(
            labels=[fch.ChartAxisLabel(value=value, label=ft.Text(f"{value}%", size=10)) for value in (0, 50, 100)],
            label_size=36,
        ),
        bottom_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=index, label=ft.Text(_quarter(quarter), size=10))
                for index, quarter in enumerate(quarters)
            ],
            label_size=22,
        ),
        horizontal_grid_lines=fch.ChartGridLines(interval=25, color=ft.Colors.OUTLINE_VARIANT, width=1),
        height=190,
        expand=True,
    )

    def words(quarter: QuarterOutcomes) -> str:
        if not quarter.ended:
            return f"{_quarter(quarter)}: no order or licence ended"
        counts = [(label, getattr(quarter, attribute)) for label, attribute, _ in _MEASURES]
        return f"{_quarter(quarter)}: of {quarter.ended} whose order or licence ended, " + ", ".join(
            f"{label} {count} ({QuarterOutcomes.share(count, quarter.ended)}%)" for label, count in counts
        )

    latest = quarters[-1] if quarters else None
    caption = (
        "Of the people whose order or licence ended in each quarter: settled and suitable accommodation (NI 143, "
        "as defined and not counting hostels) and in work (NI 144). "
    )
    caption += words(latest) + "." if latest is not None else ""
    legend = [_key(colour, label) for label, _, colour in _MEASURES]
    return _chart_box("Outcomes over time", caption, "; ".join(words(q) for q in quarters), chart, legend)


# --- the Desk's dashboard, and one worker's people ----------------------------------------------


def dashboard_controls(state: AppState) -> list[ft.Control]:
    """The top of the Desk: the outcomes report, the filters, a card per worker and the charts."""
    board = state.desk.dashboard.board

    async def open_report(_: Any) -> None:
        await state.outcomes.show_report()

    controls: list[ft.Control] = [
        ft.Row([secondary_button("Outcomes report", open_report, icon=ft.Icons.INSIGHTS)], wrap=True),
        section("Team caseloads"),
    ]
    if board is None:
        controls.append(ft.Text("The caseloads cannot be counted on this phone just now.", size=16))
        return controls
    controls.append(_filters(state, board))
    shown = "Everyone on this phone" if board.filters == DashboardFilters() else "The people chosen"
    counted = f"{board.people} {'person' if board.people == 1 else 'people'}"
    controls.append(_muted(f"{shown}: {counted}. The cards and the charts count them."))
    if board.workers:
        controls.append(
            ft.ResponsiveRow(
                [_worker_card(state, worker, board) for worker in board.workers], spacing=10, run_spacing=10
            )
        )
    else:
        controls.append(ft.Text("Nobody matches these filters.", size=16))
    controls += [
        section("Charts"),
        ft.ResponsiveRow(
            [_contacts_chart(board), _needs_chart(board), _outcomes_chart(board)], spacing=10, run_spacing=10
        ),
    ]
    return controls


def _engagement_words(person: CaseloadPerson) -> str | None:
    if person.engagement in (Engagement.STOPPED_ENGAGING, Engagement.NOT_ACCEPTED):
        return person.engagement.label
    return None


def _person_box(state: AppState, person: CaseloadPerson, worker: WorkerCaseload, board: Dashboard) -> ft.Control:
    whose = (
        f"{worker.name} is the lead professional"
        if person.by_lead_professional
        else f"Added by {worker.name} (no lead professional on the team named)"
    )

    async def open_person(_: Any, case_id: str = person.case_id) -> None:
        await state.open_person(case_id)

    lines: list[ft.Control] = [ft.Text(person.name, size=17, weight=ft.FontWeight.W_600)]
    if person.release_in_window and person.release is not None:
        at = f", {person.release.at:%H:%M}" if person.release.at else ", time not confirmed"
        lines.append(ft.Text(f"Release {person.release.on:%a} {_day(person.release.on)}{at}", size=15))
    lines.append(ft.Text(f"Last contact: {_ago(person.last_contact_on, board.on)}", size=15))
    if person.overdue_follow_ups:
        count = person.overdue_follow_ups
        lines.append(
            ft.Text(
                f"{count} follow-up{'' if count == 1 else 's'} overdue",
                size=15,
                color=ft.Colors.ERROR,
                weight=ft.FontWeight.W_600,
            )
        )
    if (words := _engagement_words(person)) is not None:
        lines.append(ft.Text(words, size=15, weight=ft.FontWeight.W_600))
    lines.append(_muted(whose))
    return _box(
        *lines,
        ft.TextButton(f"Open {person.name}'s record", icon=ft.Icons.OPEN_IN_NEW, on_click=open_person, height=48),
        col=_CARD_COLUMNS,
    )


def worker_caseload_screen(state: AppState, page: ft.Page) -> ft.Control:
    dashboard = state.desk.dashboard
    board, worker = dashboard.board, dashboard.worker

    async def back(_: Any) -> None:
        await dashboard.back_to_desk()

    if board is None or worker is None:
        return screen(ft.Row([back_button(back), ft.Text("Caseload", size=24, weight=ft.FontWeight.BOLD)]))
    return screen(
        ft.Row(
            [
                back_button(back),
                ft.Text(f"{worker.name}'s caseload", size=22, weight=ft.FontWeight.BOLD, expand=True),
            ]
        ),
        *_worker_lines(worker, board)[1:],
        *([] if board.filters == DashboardFilters() else [_muted("Only the people the filters on the Desk chose.")]),
        ft.ResponsiveRow(
            [_person_box(state, person, worker, board) for person in worker.people], spacing=10, run_spacing=10
        ),
        text_button("Back to the Desk", back),
    )


DASHBOARD_SCREENS = {"worker_caseload": worker_caseload_screen}
