"""The coordinator's review list of open conflicts, through the real server: two link workers on two
phones change the same fields offline, the coordinator's phone lists every disagreement
(safety-critical first, then oldest first) with both values and who wrote them, settles them, and
all three phones agree after a sync."""

from __future__ import annotations

import asyncio

import pytest

from outreach_app.errors import ValidationFailed
from outreach_app.services import OpenConflict
from outreach_app.state import AppState, Notice, Screen
from shared.kinds import PLAN_ACTION
from shared.protocol import Role
from tests.client.conftest import SERVER_URL, Phones, Team, TestDevice


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def second_worker(team: Team, phones: Phones) -> TestDevice:
    other = phones.register("worker-2", Role.LINK_WORKER, "ben@example.org", "Ben Link")
    sync(other, team.coordinator, other)
    assert other.app.account.profile().has_organisation_key
    return other


def by_field(items: list[OpenConflict]) -> dict[str, OpenConflict]:
    return {item.field: item for item in items}


def test_two_workers_disagree_offline_and_the_coordinator_settles_it_on_every_phone(team: Team, phones: Phones) -> None:
    amira, coordinator = team.worker, team.coordinator
    ben = second_worker(team, phones)
    jade = amira.app.records.add_person({"name": "Jade Porter", "release_at": "2026-12-04T11:30"})
    amira.app.records.log_contact(
        jade,
        occurred_at="2026-12-01T10:00",
        setting="prison_visit",
        contact_type="face_to_face",
        note="Planned the release day.",
        basis="fact",
        tier="full",
    )
    amira.app.casework.save_release_plan(jade, {"meeting_place": "Visitor centre car park"})
    action = amira.app.casework.add_plan_action(
        jade, action="Book a GP appointment", owner="Amira", due_on="2026-12-07"
    )
    hostel = amira.app.directory.add_entry({"name": "St Mungo's hostel", "service": "hostel", "phone": "0117 111"})
    sync(amira, ben, coordinator)
    assert coordinator.app.conflicts.open_conflicts() == []
    ben.app.records.note_case_viewed(jade)  # the coordinator's phone learns Ben's name from it

    # Offline on both phones: each changes the same things from the same starting point.
    amira.app.records.update_person(jade, "release_at", "2026-12-04T09:00")
    amira.app.casework.save_release_plan(jade, {"meeting_place": "Main gate"})
    amira.app.casework.set_action_done(jade, action, True)
    amira.app.directory.update_entry(hostel, {"phone": "0117 222"})
    ben.app.records.update_person(jade, "release_at", "2026-12-05")
    ben.app.casework.save_release_plan(jade, {"meeting_place": "Bus stop outside"})
    ben.app.casework.set_action_done(jade, action, False)  # unchanged: no new version, no conflict
    ben.app.directory.update_entry(hostel, {"phone": "0117 333"})
    sync(amira, ben, coordinator, amira)

    listed = coordinator.app.conflicts.open_conflicts()
    assert listed[0].field == "release_at"  # safety-critical first
    assert [item.safety_critical for item in listed] == [True, False, False]
    assert sorted(item.field for item in listed[1:]) == ["meeting_place", "phone"]
    assert listed[1].since_ms <= listed[2].since_ms  # then oldest first
    release = listed[0]
    assert (release.person, release.what, release.label, release.title) == (
        "Jade Porter",
        "Their details",
        "Release date and time",
        "Jade Porter · Release date and time",
    )
    assert {(value.author.name, value.text) for value in release.values} == {
        ("Amira Link", "Fri 04 Dec 2026, 09:00"),
        ("Ben Link", "Sat 05 Dec 2026, time not confirmed"),
    }
    assert {value.value for value in release.values} == {"2026-12-04T09:00", "2026-12-05"}
    assert all(value.sync_state == "synced" and value.written_at_ms > 0 for value in release.values)
    assert [value.standing for value in release.values] == [False, True]  # the later value stands meanwhile
    fields = by_field(listed)
    assert (fields["meeting_place"].person, fields["meeting_place"].what) == ("Jade Porter", "Release plan")
    assert (fields["phone"].person, fields["phone"].what) == (None, "Service directory · St Mungo's hostel")
    assert fields["phone"].case_id is None
    assert {value.text for value in fields["phone"].values} == {"0117 222", "0117 333"}

    # Every phone holding the same versions lists the same disagreements; on a worker's phone their
    # own value is "You".
    for device in (amira, ben):
        seen = device.app.conflicts.open_conflicts()
        assert [(item.key, item.conflict_ids) for item in seen] == [(item.key, item.conflict_ids) for item in listed]
        assert "You" in {value.author.name for value in seen[0].values}

    # The coordinator keeps Ben's date, types a new meeting place, keeps Amira's phone number.
    bens = next(value for value in release.values if value.author.name == "Ben Link")
    with pytest.raises(ValidationFailed, match="must be a date"):
        coordinator.app.conflicts.settle_with(release.key, "tomorrow")
    coordinator.app.conflicts.keep(release.key, bens.change_id)
    with pytest.raises(ValidationFailed, match="Type the new value"):
        coordinator.app.conflicts.settle_with(fields["meeting_place"].key, "   ")
    coordinator.app.conflicts.settle_with(fields["meeting_place"].key, "Visitor centre, by the gate")
    amiras_phone = next(value for value in fields["phone"].values if value.text == "0117 222")
    coordinator.app.conflicts.keep(fields["phone"].key, amiras_phone.change_id)
    assert coordinator.app.conflicts.open_conflicts() == []  # settled on this phone at once, offline
    sync(coordinator, amira, ben)

    for device in (coordinator, amira, ben):
        assert device.app.conflicts.open_conflicts() == [], device.display_name
        record = device.app.records.person_record(jade)
        assert (record.field("release_at").value, record.open_conflicts) == ("2026-12-05", ())
        plan = device.app.casework.release_plan(jade)
        assert (plan.values["meeting_place"], plan.conflicts) == ("Visitor centre, by the gate", ())
        entry = device.app.directory.entry(hostel)
        assert (entry.value("phone"), entry.conflicts) == ("0117 222", ())

    # Settled on another phone meanwhile: the list says so rather than writing again.
    with pytest.raises(ValidationFailed, match="already settled"):
        amira.app.conflicts.keep(release.key, bens.change_id)


def test_plan_actions_and_referrals_settle_from_the_list_and_typed_values_are_checked(
    team: Team, phones: Phones
) -> None:
    amira, coordinator = team.worker, team.coordinator
    ben = second_worker(team, phones)
    dean = amira.app.records.add_person({"name": "Dean Walsh", "mappa": "level_1"})
    action = amira.app.casework.add_plan_action(dean, action="Open a bank account", owner="Amira", due_on="2026-12-07")
    referral = amira.app.casework.refer(dean, service="hostel", to_whom="Shelter", sent_on="2026-12-01")
    sync(amira, ben, coordinator)
    amira.app.casework.set_action_done(dean, action, True)
    # The plan screen changes only "done" today; the service's own update path changes the rest.
    ben.app.casework._update_record(dean, PLAN_ACTION, action, {"owner": "Ben"})  # a different field
    ben.app.casework._update_record(dean, PLAN_ACTION, action, {"due_on": "2026-12-09"})
    amira.app.casework._update_record(dean, PLAN_ACTION, action, {"due_on": "2026-12-08"})
    amira.app.casework.update_referral(dean, referral, "accepted")
    ben.app.casework.update_referral(dean, referral, "declined", declined_reason="No beds")
    amira.app.records.update_person(dean, "mappa", "level_2")
    ben.app.records.update_person(dean, "mappa", "none")
    sync(amira, ben, coordinator, amira)

    listed = coordinator.app.conflicts.open_conflicts()
    fields = by_field(listed)
    assert listed[0].field == "mappa"
    assert {value.text for value in fields["mappa"].values} == {"Level 2", "Not MAPPA"}
    assert fields["due_on"].what == "Plan action “Open a bank account”"
    assert fields["status"].what == "Referral to Shelter (Hostel)"
    assert {value.text for value in fields["status"].values} == {"Accepted", "Declined"}
    assert sorted(fields) == ["due_on", "mappa", "status"]  # "owner" and "done": changed by one person only

    conflicts = coordinator.app.conflicts
    with pytest.raises(ValidationFailed, match="MAPPA: type one of"):
        conflicts.settle_with(fields["mappa"].key, "Level 9")
    conflicts.settle_with(fields["mappa"].key, "level 3")  # a choice by its label, any case
    conflicts.settle_with(fields["due_on"].key, "2026-12-10")
    accepted = next(value for value in fields["status"].values if value.text == "Accepted")
    conflicts.keep(fields["status"].key, accepted.change_id)
    sync(coordinator, amira, ben)
    for device in (coordinator, amira, ben):
        assert device.app.conflicts.open_conflicts() == []
        assert device.app.records.person_record(dean).field("mappa").value == "level_3"
        [seen_action] = device.app.casework.plan(dean)
        assert (str(seen_action.due_on), seen_action.owner, seen_action.done) == ("2026-12-10", "Ben", True)
        [seen_referral] = device.app.casework.referrals(dean)
        assert seen_referral.status == "accepted"


def test_the_desk_lists_conflicts_for_coordinators_and_settles_them(team: Team, phones: Phones) -> None:
    amira, coordinator = team.worker, team.coordinator
    ben = second_worker(team, phones)
    jade = amira.app.records.add_person({"name": "Jade Porter", "release_at": "2026-12-04T11:30"})
    sync(amira, ben)
    amira.app.records.update_person(jade, "release_at", "2026-12-04T09:00")
    ben.app.records.update_person(jade, "release_at", "2026-12-05")
    amira.app.records.update_person(jade, "phone", "07700 900111")
    ben.app.records.update_person(jade, "phone", "07700 900222")
    sync(amira, ben, amira, coordinator)
    notices: list[Notice] = []
    state = AppState(coordinator.app, default_server_url=SERVER_URL, device_name="Priya's laptop")
    state.on_notice = notices.append

    async def scenario() -> None:
        await state.start()
        assert state.screen is Screen.TODAY
        assert state.desk.conflict_count == 2  # Today's "2 conflicts to settle"
        await state.desk.show_desk()
        assert (state.screen, state.home) == (Screen.DESK, Screen.DESK)
        release, phone = state.desk.conflicts
        assert (release.field, release.safety_critical, phone.field) == ("release_at", True, "phone")

        await state.desk.save_new_value(phone.key, "")  # nothing typed: said next to it, nothing written
        assert "Type the new value" in state.form_problems[phone.key]
        await state.desk.save_new_value(phone.key, "07700 900333")
        assert phone.key not in state.form_problems
        assert [item.field for item in state.desk.conflicts] == ["release_at"]
        bens = next(value for value in release.values if value.text == "Sat 05 Dec 2026, time not confirmed")
        await state.desk.keep(release.key, bens.change_id)
        assert (state.desk.conflicts, state.desk.conflict_count, state.screen) == ([], 0, Screen.DESK)

        await state.desk.open_record(release.key)  # gone from the list: nothing to open
        assert state.screen is Screen.DESK
        await state.lock()
        assert (state.desk.conflicts, state.desk.conflict_count) == ([], None)  # a lock forgets what was read

    asyncio.run(scenario())
    assert "Settled: Jade Porter · Release date and time. Other phones get it at their next sync." in [
        notice.text for notice in notices
    ]
    sync(amira, ben)
    for device in (amira, ben):
        record = device.app.records.person_record(jade)
        assert (record.field("release_at").value, record.field("phone").value) == ("2026-12-05", "07700 900333")
        assert record.open_conflicts == ()

    # A link worker's app has no Desk: the list is the coordinator's.
    worker_state = AppState(amira.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    asyncio.run(worker_state.start())
    assert worker_state.desk.conflict_count is None


def test_opening_the_record_from_the_desk_is_one_tap(team: Team, phones: Phones) -> None:
    amira, coordinator = team.worker, team.coordinator
    ben = second_worker(team, phones)
    jade = amira.app.records.add_person({"name": "Jade Porter", "lead_professional": "Amira Link"})
    sync(amira, ben)
    amira.app.records.update_person(jade, "lead_professional", "Sam Probation")
    ben.app.records.update_person(jade, "lead_professional", "Ben Link")
    sync(amira, ben, coordinator)
    state = AppState(coordinator.app, default_server_url=SERVER_URL, device_name="Priya's laptop")

    async def scenario() -> None:
        await state.start()
        await state.desk.show_desk()
        [item] = state.desk.conflicts
        await state.desk.open_record(item.key)
        assert (state.screen, state.case_id) == (Screen.PERSON, jade)
        assert state.record is not None
        assert [conflict.field for conflict in state.record.open_conflicts] == ["lead_professional"]
        await state.go_home()  # Back from the record returns to the Desk
        assert state.screen is Screen.DESK

    asyncio.run(scenario())
