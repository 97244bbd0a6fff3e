"""A worker's day through the client services against the real server: Today, the release plan and
the gate, needs, plan actions and follow-ups, referrals, and what a peer mentor sees of them."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.services import FollowUp
from shared.kinds import Tier
from shared.protocol import Role
from shared.resettlement import FollowUpState, HandoverStep, Rating, ReleaseFlag
from tests.client.conftest import Phones, Team, TestDevice

FRIDAY = dt.date(2026, 12, 4)


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def test_the_gate_day_from_today_to_the_outcome(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    dean = worker.app.records.add_person(
        {"name": "Dean Walsh", "establishment": "HMP Bristol", "release_at": "2026-12-04T14:00"}
    )
    later = worker.app.records.add_person({"name": "Lee Cole", "release_at": "2026-12-10"})
    worker.app.records.add_person({"name": "Far Off", "release_at": "2027-02-01T09:00"})
    casework = worker.app.casework
    casework.save_release_plan(dean, {"accommodation": "applied", "gp": True, "benefits": True})

    today = casework.today(on=dt.date(2026, 12, 1))
    assert [item.name for item in today.releases] == ["Dean Walsh", "Lee Cole"]
    dean_item = today.releases[0]
    assert dean_item.flags == (ReleaseFlag.FRIDAY_AFTERNOON, ReleaseFlag.NO_ACCOMMODATION)
    assert today.releases[1].flags == (ReleaseFlag.NO_ACCOMMODATION, ReleaseFlag.TIME_NOT_CONFIRMED)
    assert (dean_item.readiness.done, dean_item.readiness.total) == (2, 9)
    assert today.gate_meetings == ()

    # The coordinator's phone shows the same day once both have synced.
    sync(worker, coordinator)
    seen = coordinator.app.casework.today(on=dt.date(2026, 12, 1))
    assert [(item.name, item.flags) for item in seen.releases] == [(item.name, item.flags) for item in today.releases]

    # The coordinator confirms the bedspace and arranges the meeting; the worker sees it after sync.
    coordinator.app.casework.save_release_plan(
        dean,
        {
            "accommodation": "bedspace_held",
            "accommodation_address": "St Mungo's, Cheltenham Road",
            "meeting_at": "2026-12-04T13:30",
            "meeting_place": "Visitor centre car park",
            "met_by": "Amira",
        },
    )
    sync(coordinator, worker)
    on_the_day = casework.today(on=FRIDAY)
    assert [item.name for item in on_the_day.gate_meetings] == ["Dean Walsh"]
    meeting = on_the_day.gate_meetings[0]
    assert meeting.flags == (ReleaseFlag.FRIDAY_AFTERNOON,)
    assert (meeting.meeting_place, meeting.met_by) == ("Visitor centre car park", "Amira")
    plan = casework.release_plan(dean)
    assert plan.accommodation is not None
    assert plan.accommodation.ready
    assert plan.conflicts == ()

    casework.record_gate_outcome(
        dean, met=True, accompanied_to="Housing options", housed_on_release_day=True, reached_planned_address=True
    )
    with pytest.raises(ValidationFailed, match="Say why"):
        casework.record_gate_outcome(later, met=False)
    casework.record_gate_outcome(later, met=False, not_met_reason="transferred")
    sync(worker, coordinator)
    outcome = coordinator.app.casework.gate_outcomes(dean)[0]
    assert (outcome.met, outcome.accompanied_to, outcome.housed_on_release_day) == (True, "Housing options", True)
    assert coordinator.app.casework.gate_outcomes(later)[0].not_met_reason == "Transferred to another prison"
    # The record shows nothing of this as unreadable.
    assert coordinator.app.records.person_record(dean).unreadable == ()


def test_two_workers_filling_the_checklist_offline_edit_one_plan_and_see_the_disagreement(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh", "release_at": "2026-12-04"})
    sync(worker, coordinator)
    worker.app.casework.save_release_plan(case_id, {"meeting_place": "Main gate", "phone": True})
    coordinator.app.casework.save_release_plan(case_id, {"meeting_place": "Visitor centre", "gp": True})
    sync(worker, coordinator, worker)
    plans = [device.app.casework.release_plan(case_id) for device in (worker, coordinator)]
    assert plans[0].values == plans[1].values
    assert plans[0].values["phone"] is True
    assert plans[0].values["gp"] is True
    assert plans[0].conflicts == plans[1].conflicts == ("meeting_place",)


def test_a_need_rated_twice_shows_its_history_and_distance_travelled(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    casework = worker.app.casework
    casework.rate_need(case_id, "accommodation", "red", rated_on=dt.date(2026, 11, 2), reason="No fixed abode")
    casework.rate_need(case_id, "drugs", "amber", rated_on=dt.date(2026, 11, 2), handled="referred_on")
    casework.rate_need(case_id, "accommodation", "green", rated_on=dt.date(2026, 12, 1), handled="met_in_house")
    with pytest.raises(ValidationFailed):
        casework.rate_need(case_id, "accommodation", "purple")
    with pytest.raises(ValidationFailed):
        casework.rate_need(case_id, "shoe_size", "red")
    sync(worker, coordinator)
    needs = coordinator.app.casework.needs(case_id)
    assert [need.need_area for need in needs] == ["accommodation", "drugs"]
    housing = needs[0]
    assert [rating.rating for rating in housing.ratings] == [Rating.RED, Rating.GREEN]
    assert housing.distance == 2
    assert housing.latest.handled == "Met in house"
    assert needs[1].distance == 0
    assert needs[1].latest.handled == "Referred on"


def test_a_referral_through_its_statuses(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    casework = worker.app.casework
    referral = casework.refer(
        case_id, service="dip", to_whom="Bristol DIP", sent_on=dt.date(2026, 11, 20), need_area="drugs"
    )
    with pytest.raises(ValidationFailed, match="why it was declined"):
        casework.update_referral(case_id, referral, "declined")
    with pytest.raises(ValidationFailed):
        casework.refer(case_id, service="spaceship", to_whom="Mars")
    casework.update_referral(case_id, referral, "accepted", on=dt.date(2026, 11, 24))
    sync(worker, coordinator)
    coordinator.app.casework.update_referral(case_id, referral, "started", on=dt.date(2026, 11, 28))
    sync(coordinator, worker)
    [seen] = casework.referrals(case_id)
    assert (seen.service_label, seen.to_whom, seen.status_label, seen.status_on) == (
        "Drug Intervention Programme (DIP)",
        "Bristol DIP",
        "Started",
        dt.date(2026, 11, 28),
    )
    housing = casework.refer(case_id, service="hostel", to_whom="Salvation Army hostel", sent_on=dt.date(2026, 12, 1))
    casework.update_referral(case_id, housing, "declined", declined_reason="No beds for six weeks")
    newest = casework.referrals(case_id)[0]
    assert (newest.status, newest.declined_reason) == ("declined", "No beds for six weeks")
    with pytest.raises(NotReady):
        casework.update_referral(case_id, "0190a0a0-0000-7000-8000-000000000001", "accepted")


def test_follow_ups_due_and_overdue_and_people_not_seen(team: Team) -> None:
    worker = team.worker
    casework = worker.app.casework
    on = dt.date(2026, 12, 10)
    dean = worker.app.records.add_person({"name": "Dean Walsh", "release_at": "2026-12-01"})
    worker.app.records.log_contact(
        dean,
        occurred_at="2026-12-02T10:00",
        setting="home_or_hostel",
        contact_type="face_to_face",
        note="Settling in",
        basis="fact",
        tier=Tier.FULL,
    )
    worker.app.records.log_contact(
        dean,
        occurred_at="2026-12-08T10:00",
        setting="home_or_hostel",
        contact_type="attempted",
        note="No answer at the door",
        basis="fact",
        tier=Tier.FULL,
    )
    seen = worker.app.records.add_person({"name": "Sam Okafor", "release_at": "2026-10-01"})
    worker.app.records.log_contact(
        seen,
        occurred_at="2026-12-08T15:00",
        setting="office",
        contact_type="face_to_face",
        note="Weekly check-in",
        basis="fact",
        tier=Tier.BASIC,
    )
    overdue = casework.add_plan_action(dean, action="Call about his benefits claim", owner="Amira", due_on="2026-12-08")
    casework.add_plan_action(dean, action="Visit", owner="Amira", due_on=on, follow_up=True)
    casework.add_plan_action(seen, action="Book GP", owner="Sam", due_on="2026-12-20")
    with pytest.raises(ValidationFailed):
        casework.add_plan_action(dean, action="", owner="Amira", due_on="someday")

    today = casework.today(on=on)
    assert [(item.name, item.action.action, item.action.state) for item in today.follow_ups] == [
        ("Dean Walsh", "Call about his benefits claim", FollowUpState.OVERDUE),
        ("Dean Walsh", "Visit", FollowUpState.DUE_TODAY),
    ]
    # Seen on day 1 after release, due two days later; the attempted visit on day 7 does not count.
    [missing] = today.not_seen
    assert (missing.name, missing.last_contact_on, missing.due.due_on, missing.due.overdue_days) == (
        "Dean Walsh",
        dt.date(2026, 12, 2),
        dt.date(2026, 12, 4),
        6,
    )
    casework.set_action_done(dean, overdue)
    assert [item.action.action for item in casework.today(on=on).follow_ups] == ["Visit"]
    assert [action.action for action in casework.plan(dean, today=on)] == ["Visit", "Call about his benefits claim"]


def test_a_mentor_sees_the_gate_arrangements_logs_the_gate_and_nothing_of_the_full_tier(
    team: Team, phones: Phones
) -> None:
    worker, coordinator = team.worker, team.coordinator
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh", "release_at": "2026-12-04T09:00"})
    worker.app.casework.save_release_plan(
        case_id, {"meeting_place": "Main gate", "meeting_at": "2026-12-04T08:45", "met_by": "Mo", "medication": True}
    )
    worker.app.casework.rate_need(case_id, "mental_health", "red")
    worker.app.casework.add_plan_action(case_id, action="Methadone script", owner="Amira", due_on="2026-12-04")
    sync(worker, mentor, coordinator)
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    sync(coordinator, mentor)

    casework = mentor.app.casework
    plan = casework.release_plan(case_id)
    assert plan.values["meeting_place"] == "Main gate"
    assert "medication" not in plan.values
    # Medication (done on the worker's phone) is neither done nor missing on the mentor's.
    assert (plan.readiness.done, plan.readiness.total) == (1, 8)  # the meeting is arranged
    assert "Script or medication continued" not in plan.readiness.missing
    assert worker.app.casework.release_plan(case_id).readiness.done == 2
    [meeting] = casework.today(on=dt.date(2026, 12, 4)).gate_meetings
    assert (meeting.name, meeting.meeting_at, meeting.met_by) == ("Dean Walsh", "2026-12-04T08:45", "Mo")
    assert casework.needs(case_id) == []
    assert casework.plan(case_id) == []
    assert mentor.app.records.person_record(case_id).unreadable == ()
    casework.record_gate_outcome(case_id, met=True, help_given="Bus fare and a coffee")
    with pytest.raises(NotReady, match="Peer mentors"):
        casework.rate_need(case_id, "accommodation", "amber")
    sync(mentor, worker)
    assert worker.app.casework.gate_outcomes(case_id)[0].help_given == "Bus fare and a coffee"


def test_a_contact_with_its_duration_needs_and_follow_up_is_saved_in_one_step(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Rae Holt", "release_at": "2026-11-30T09:00"})
    records = worker.app.records
    with pytest.raises(ValidationFailed) as refused:
        records.log_contact(
            case_id,
            occurred_at="2026-12-01T10:00",
            setting="street",
            contact_type="face_to_face",
            note="Found her by the station.",
            basis="fact",
            tier="full",
            need_areas=["accommodation", "not_a_need"],
            follow_up=FollowUp(due_on="tomorrow"),
        )
    assert set(refused.value.problems) == {"need_areas", "follow_up_on"}
    assert records.person_record(case_id).contacts == ()  # nothing of a refused step is saved
    assert worker.app.casework.plan(case_id) == []

    records.log_contact(
        case_id,
        occurred_at="2026-12-01T10:00",
        setting="street",
        contact_type="face_to_face",
        note="Found her by the station; she slept out last night.",
        basis="fact",
        tier="full",
        duration="30",
        need_areas=["accommodation", "mental_health"],
        follow_up=FollowUp(due_on="2026-12-03", action="Go with her to housing options"),
    )
    sync(worker, coordinator)
    contact = coordinator.app.records.person_record(case_id).contacts[0]
    assert contact.duration_label == "About half an hour"
    assert contact.need_area_labels == ("Accommodation", "Mental health")
    [follow_up] = coordinator.app.casework.plan(case_id, today=dt.date(2026, 12, 3))
    assert (follow_up.action, follow_up.owner, follow_up.due_on) == (
        "Go with her to housing options",
        worker.display_name,
        dt.date(2026, 12, 3),
    )
    assert follow_up.follow_up
    assert follow_up.state is FollowUpState.DUE_TODAY


def test_a_lead_professional_handover_is_proposed_accepted_and_completed_on_two_phones(
    team: Team, phones: Phones
) -> None:
    worker, coordinator = team.worker, team.coordinator
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh", "lead_professional": "Amira, Gatepost Outreach"})
    casework = worker.app.casework
    with pytest.raises(ValidationFailed) as missing:
        casework.propose_handover(case_id, lead_name=" ", lead_organisation="")
    assert set(missing.value.problems) == {"lead_name", "lead_organisation"}
    handover_id = casework.propose_handover(
        case_id, lead_name="Jo Price", lead_organisation="Bristol Probation", note="Community order starts Monday"
    )
    with pytest.raises(ValidationFailed, match="already under way"):
        casework.propose_handover(case_id, lead_name="Someone Else", lead_organisation="Elsewhere")
    with pytest.raises(ValidationFailed, match="Someone else accepts"):
        casework.answer_handover(case_id, handover_id, accept=True)
    with pytest.raises(ValidationFailed, match="Only an accepted handover"):
        casework.complete_handover(case_id, handover_id)

    sync(worker, coordinator)
    [seen] = coordinator.app.casework.handovers(case_id)
    assert (seen.state, seen.lead_name, seen.proposed_by) == (HandoverStep.PROPOSED, "Jo Price", worker.display_name)
    coordinator.app.casework.answer_handover(case_id, handover_id, accept=True, note="Jo confirmed by phone")
    sync(coordinator, worker)
    assert casework.handovers(case_id)[0].state is HandoverStep.ACCEPTED
    # Until it is recorded complete, the interim lead stays the lead professional.
    assert worker.app.records.person_record(case_id).field("lead_professional").value == "Amira, Gatepost Outreach"

    casework.complete_handover(case_id, handover_id)
    sync(worker, coordinator)
    done = coordinator.app.casework.handovers(case_id)[0]
    assert done.state is HandoverStep.COMPLETED
    assert [event.step for event in done.events] == [
        HandoverStep.PROPOSED,
        HandoverStep.ACCEPTED,
        HandoverStep.COMPLETED,
    ]
    record = coordinator.app.records.person_record(case_id)
    assert record.field("lead_professional").value == "Jo Price, Bristol Probation"
    assert record.unreadable == ()

    # A peer mentor sees who leads, but does not hand over.
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    sync(coordinator, mentor)
    assert mentor.app.casework.handovers(case_id)[0].state is HandoverStep.COMPLETED
    with pytest.raises(NotReady, match="Link workers and coordinators"):
        mentor.app.casework.propose_handover(case_id, lead_name="A", lead_organisation="B")
