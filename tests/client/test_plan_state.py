"""The needs, plan and referrals screens' state against the real server: rating a need again and
again shows distance travelled, a follow-up is marked done, a referral is summarised with all the
person's needs before it is saved and then moved on; problems show next to their fields; a
colleague's rating arrives with a sync; a peer mentor's phone shows none of it; a lock forgets it."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, cast

import flet as ft

from outreach_app.state import AppState, Notice, Screen
from outreach_app.state.plan import day_text, movement_text
from outreach_app.views.plan import plan_sections
from shared.protocol import Role
from shared.resettlement import NEED_AREAS, FollowUpState, Rating
from tests.client.conftest import SERVER_URL, Phones, Team


def _controls(controls: Sequence[ft.Control]) -> list[ft.Control]:
    """Every control in the trees, depth first."""

    def walk(control: object) -> Iterator[ft.Control]:
        if isinstance(control, ft.Control):
            yield control
            for name in ("content", "controls"):
                child = getattr(control, name, None)
                for item in child if isinstance(child, list) else [child]:
                    yield from walk(item)

    return [found for control in controls for found in walk(control)]


def _button_names(controls: Sequence[ft.Control]) -> set[str]:
    buttons = (ft.FilledButton, ft.OutlinedButton, ft.TextButton)
    return {str(control.content) for control in controls if isinstance(control, buttons)}


def test_needs_plan_and_referrals_through_the_screens_state(team: Team) -> None:
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh", "goals": "My own flat, and to see my kids"})
    team.worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    state = AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    notices: list[Notice] = []
    state.on_notice = notices.append
    plan = state.plan

    async def scenario() -> None:
        await state.start()
        await state.open_person(case_id)
        assert (plan.needs, plan.plan, plan.referrals) == ([], [], [])
        today = plan.today()
        first_day = today - dt.timedelta(days=28)

        # Rate a need: the form says what is missing next to the field.
        plan.start_rating_need()
        assert state.screen is Screen.RATE_NEED
        await plan.rate_need(need_area="accommodation", rating="", rated_on="3rd of Nov", reason="", handled="")
        assert state.form_problems == {
            "rated_on": "Rated on must be a date like 2026-11-25.",
            "rating": "Choose red, amber or green.",
        }
        assert state.draft["need_area"] == "accommodation"  # what was typed stays
        await plan.rate_need(
            need_area="accommodation",
            rating="red",
            rated_on=first_day.isoformat(),
            reason="Sofa surfing at his sister's",
            handled="referred_on",
        )
        assert state.screen is Screen.PERSON
        [housing] = plan.needs
        assert movement_text(housing, today) == f"First rated on {day_text(first_day, today)}"

        plan.start_rating_need("accommodation")
        assert state.draft == {"need_area": "accommodation"}
        await plan.rate_need(
            need_area="accommodation",
            rating="amber",
            rated_on=(first_day + dt.timedelta(days=14)).isoformat(),
            reason="Hostel place",
            handled="",
        )
        await plan.rate_need(
            need_area="accommodation", rating="green", rated_on=today.isoformat(), reason="Own tenancy", handled=""
        )
        [housing] = plan.needs
        assert [rating.rating for rating in housing.ratings] == [Rating.RED, Rating.AMBER, Rating.GREEN]
        assert movement_text(housing, today) == f"Moved 2 steps towards green since {day_text(first_day, today)}"

        # A follow-up, overdue, then done (and open again).
        plan.start_adding_action(follow_up=True)
        assert state.screen is Screen.ADD_ACTION
        assert state.draft == {"owner": "Amira Link", "follow_up": "yes"}
        await plan.add_action(action="", owner="Amira Link", due_on="next week", need_area="", follow_up=True)
        assert set(state.form_problems) == {"action", "due_on"}
        yesterday = today - dt.timedelta(days=1)
        await plan.add_action(
            action="Visit at the hostel", owner="Amira Link", due_on=yesterday.isoformat(), need_area="", follow_up=True
        )
        [visit] = plan.plan
        assert (visit.follow_up, visit.state) == (True, FollowUpState.OVERDUE)
        assert plan.overdue == [visit]
        await plan.set_done(visit.record_id, True)
        assert [(action.done, action.state) for action in plan.plan] == [(True, FollowUpState.DONE)]
        assert plan.open_actions == []
        await plan.set_done(visit.record_id, False)
        assert plan.open_actions[0].action == "Visit at the hostel"
        await plan.add_action(
            action="Apply for a birth certificate",
            owner="Dean",
            due_on=(today + dt.timedelta(days=10)).isoformat(),
            need_area="identity",
            follow_up=False,
        )

        # Refer: the summary covers every need, the open actions and the person's goals, first.
        plan.start_referring()
        assert state.screen is Screen.REFER
        plan.review_referral(service="", to_whom=" ", need_area="", sent_on=today.isoformat())
        assert set(state.form_problems) == {"service", "to_whom"}
        assert state.screen is Screen.REFER
        plan.review_referral(
            service="housing_options", to_whom="Bristol Housing Options, Jo", need_area="accommodation",
            sent_on=today.isoformat(),
        )  # fmt: skip
        assert state.screen is Screen.REFERRAL_SUMMARY
        summary = plan.referral_summary()
        assert summary is not None
        assert (summary.name, summary.service_label, summary.goals) == (
            "Dean Walsh",
            "Housing options",
            "My own flat, and to see my kids",
        )
        assert [need.label for need in summary.needs] == ["Accommodation"]
        assert len(summary.not_rated) == len(NEED_AREAS) - 1
        assert [action.action for action in summary.open_actions] == [
            "Visit at the hostel",
            "Apply for a birth certificate",
        ]
        text = summary.as_text(today)
        for words in ("My own flat", "Accommodation: Green", "Own tenancy", "Apply for a birth certificate", "Trauma"):
            assert words in text
        plan.change_referral()  # back to the form as it was filled in
        assert state.screen is Screen.REFER
        assert state.draft["to_whom"] == "Bristol Housing Options, Jo"
        plan.review_referral(**{key: state.draft[key] for key in ("service", "to_whom", "need_area", "sent_on")})
        assert plan.referrals == []  # nothing is saved before the worker confirms
        await plan.send_referral()
        assert state.screen is Screen.PERSON
        [referral] = plan.referrals
        assert (referral.to_whom, referral.status) == ("Bristol Housing Options, Jo", "sent")

        # Move it on: declined needs its reason; accepted, then started.
        plan.start_moving(referral)
        assert state.screen is Screen.MOVE_REFERRAL
        assert state.draft == {"status": "accepted"}
        await plan.move_referral(status="declined", on=today.isoformat(), declined_reason="")
        assert state.form_problems == {"declined_reason": "Say why it was declined."}
        await plan.move_referral(status="accepted", on=today.isoformat(), declined_reason="")
        [referral] = plan.referrals
        assert (referral.status, referral.status_on) == ("accepted", today)
        plan.start_moving(referral)
        await plan.move_referral(status="started", on=today.isoformat(), declined_reason="")
        assert plan.referrals[0].status == "started"
        plan.start_moving(plan.referrals[0])
        await plan.move_referral(status="accepted", on=today.isoformat(), declined_reason="")
        assert state.form_problems == {"status": "Choose what happened to the referral."}

        # The record's sections: every add button for the worker; none on a record another
        # organisation shares with us, whose plan cannot be ticked off here either.
        assert state.record is not None
        mine = _controls(plan_sections(state, cast(Any, None)))
        assert {"Rate a need", "Add to plan", "Add follow-up", "Refer"} <= _button_names(mine)
        state.record = dataclasses.replace(state.record, shared_by="Second Chance Housing")
        shared = _controls(plan_sections(state, cast(Any, None)))
        assert _button_names(shared) == set()
        boxes = [control for control in shared if isinstance(control, ft.Checkbox)]
        assert [box.label for box in boxes] == ["Visit at the hostel", "Apply for a birth certificate"]
        assert all(box.disabled for box in boxes)

        # A colleague's rating arrives with a sync and shows on the open record.
        await state.open_person(case_id)
        await state.sync_now()
        coordinator = team.coordinator.app
        coordinator.sync.sync_now()
        coordinator.casework.rate_need(case_id, "drugs", "amber", reason="Using again at weekends")
        coordinator.sync.sync_now()
        await state.sync_now()
        assert [need.need_area for need in plan.needs] == ["accommodation", "drugs"]

        # Locking forgets all of it.
        await state.lock()
        assert (plan.needs, plan.plan, plan.referrals, plan.case_id) == ([], [], [], None)

    asyncio.run(scenario())
    assert any("rated red" in notice.text for notice in notices)


def test_a_peer_mentors_phone_shows_no_needs_plan_or_referrals(team: Team, phones: Phones) -> None:
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    worker = team.worker.app
    case_id = worker.records.add_person({"name": "Dean Walsh"})
    worker.casework.rate_need(case_id, "mental_health", "red", reason="Low since release")
    worker.casework.add_plan_action(case_id, action="GP appointment", owner="Amira", due_on=dt.date.today())
    worker.sync.sync_now()
    coordinator = team.coordinator.app
    coordinator.sync.sync_now()
    coordinator.mentors.assign_mentor(case_id, coordinator.mentors.mentors(case_id).available[0].user_id)
    mentor.app.sync.sync_now()
    pocket = AppState(mentor.app, default_server_url=SERVER_URL, device_name="Mo's phone")

    async def scenario() -> None:
        await pocket.start()
        await pocket.open_person(case_id)
        assert pocket.record is not None
        assert pocket.is_mentor
        assert (pocket.plan.needs, pocket.plan.plan, pocket.plan.referrals) == ([], [], [])
        assert plan_sections(pocket, cast(Any, None)) == []

    asyncio.run(scenario())
