"""The service directory through the client services against the real server: two members add and
edit entries offline and see each other's after sync; a concurrent edit of the same field is a
conflict on both phones until settled; the server holds nothing readable; a peer mentor's phone
gets nothing; bad input is refused in plain words and nothing is written."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.services.directory import MENTOR_MESSAGE, NO_KEY_MESSAGE
from outreach_app.state import AppState, Notice, Screen
from shared.protocol import Role
from tests.client.conftest import SERVER_URL, InProcessServer, Phones, Team, TestDevice

HOUSING = {
    "name": "Bristol Housing Options",
    "service": "housing_options",
    "area": "Bristol",
    "address": "100 Temple Street",
    "phone": "0117 922 2000",
    "opening_hours": "Mon-Fri 9:00-17:00",
    "notes": "Go early: they see people leaving prison first on the day of release.",
}
HOSTEL = {"name": "St Mungo's Cheltenham Road", "service": "hostel", "area": "Bristol", "phone": "0117 944 0000"}


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def directory_rows(device: TestDevice) -> int:
    """Directory versions in the phone's database (what a copy of it would hold)."""
    with sqlite3.connect(device.path) as connection:
        query = "SELECT count(*) FROM local_version WHERE kind = 'directory_entry'"
        return int(connection.execute(query).fetchone()[0])


def listing(device: TestDevice) -> list[tuple[str, str, dict[str, str]]]:
    return [(entry.name, entry.service_label, dict(entry.values)) for entry in device.app.directory.entries()]


def test_two_members_add_and_edit_offline_and_see_each_others_entries_after_sync(
    team: Team, server: InProcessServer
) -> None:
    worker, coordinator = team.worker, team.coordinator
    person = worker.app.records.add_person({"name": "Dean Walsh"})
    sync(worker, coordinator)
    worker.network.down = coordinator.network.down = True

    housing = worker.app.directory.add_entry(HOUSING)
    hostel = coordinator.app.directory.add_entry(HOSTEL)
    assert [entry.name for entry in worker.app.directory.entries()] == ["Bristol Housing Options"]
    assert worker.app.directory.entry(housing).pending == len(HOUSING)
    # The worker keeps the directory current offline: the coordinator's hostel is not here yet.
    assert worker.app.directory.update_entry(housing, {"opening_hours": "Mon-Fri 9:00-16:00", "area": "Bristol"}) == 1
    assert worker.app.sync.sync_now().offline

    worker.network.down = coordinator.network.down = False
    sync(worker, coordinator, worker)
    assert listing(worker) == listing(coordinator)
    assert [name for name, _, _ in listing(worker)] == ["Bristol Housing Options", "St Mungo's Cheltenham Road"]
    seen = coordinator.app.directory.entry(housing)
    assert seen.value("opening_hours") == "Mon-Fri 9:00-16:00"
    assert (seen.service_label, seen.value("phone"), seen.conflicts, seen.pending) == (
        "Housing options",
        "0117 922 2000",
        (),
        0,
    )

    # The coordinator edits the worker's entry, the worker the coordinator's: both arrive.
    coordinator.app.directory.update_entry(housing, {"phone": "0117 922 2001", "address": ""})
    worker.app.directory.update_entry(hostel, {"opening_hours": "Open 24 hours"})
    sync(coordinator, worker, coordinator)
    for device in (worker, coordinator):
        assert device.app.directory.entry(housing).value("phone") == "0117 922 2001"
        assert device.app.directory.entry(housing).value("address") is None  # cleared
        assert device.app.directory.entry(hostel).value("opening_hours") == "Open 24 hours"

    # Search by any text, filter by the kind of service.
    directory = worker.app.directory
    assert [entry.name for entry in directory.entries("temple")] == []  # the address was cleared
    assert [entry.name for entry in directory.entries("24 HOURS")] == ["St Mungo's Cheltenham Road"]
    assert [entry.name for entry in directory.entries("housing")] == ["Bristol Housing Options"]  # its kind's name
    assert [entry.name for entry in directory.entries("bristol", "hostel")] == ["St Mungo's Cheltenham Road"]
    assert directory.entries(service="gp") == []

    # The server holds ciphertext of organisation-level records, under the organisation's key.
    with server.app.state.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT case_id, key_id, tier FROM version WHERE kind = 'directory_entry'")
        ).all()
    assert rows
    assert {(row.case_id, row.key_id.startswith("org:"), row.tier) for row in rows} == {(None, True, "full")}
    stored = server.rows_as_text()
    for secret in ("Bristol Housing Options", "St Mungo", "0117 922", "Open 24 hours"):
        assert secret not in stored

    # The person's record lists no directory entry among the records it does not know.
    for device in (worker, coordinator):
        assert device.app.records.person_record(person).unreadable == ()
        assert [p.name for p in device.app.records.list_people()] == ["Dean Walsh"]


def test_a_concurrent_edit_of_the_same_field_is_a_conflict_on_both_phones_until_settled(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    housing = worker.app.directory.add_entry(HOUSING)
    sync(worker, coordinator)
    worker.network.down = coordinator.network.down = True
    worker.app.directory.update_entry(housing, {"opening_hours": "Mon-Thu 9:00-17:00"})
    coordinator.app.directory.update_entry(housing, {"opening_hours": "Mon-Fri 10:00-16:00", "phone": "0117 000 0000"})
    worker.network.down = coordinator.network.down = False
    sync(worker, coordinator, worker)

    seen = [device.app.directory.entry(housing) for device in (worker, coordinator)]
    assert seen[0].values == seen[1].values
    assert seen[0].value("phone") == "0117 000 0000"  # a different field: no conflict
    [conflict] = seen[0].conflicts
    assert [c.conflict_id for c in seen[1].conflicts] == [conflict.conflict_id]
    assert (conflict.field, conflict.label) == ("opening_hours", "Opening hours")
    assert {conflict.earlier.value, conflict.later.value} == {"Mon-Thu 9:00-17:00", "Mon-Fri 10:00-16:00"}
    assert seen[0].value("opening_hours") == conflict.later.value  # the later value stands meanwhile
    by_worker = next(v for v in (conflict.earlier, conflict.later) if v.value == "Mon-Thu 9:00-17:00")
    assert by_worker.author.is_me
    on_coordinator = seen[1].conflicts[0]
    from_worker = next(v for v in (on_coordinator.earlier, on_coordinator.later) if v.value == "Mon-Thu 9:00-17:00")
    assert not from_worker.author.is_me

    # An ordinary later edit does not close it; settling does, everywhere.
    coordinator.app.directory.update_entry(housing, {"notes": "Ask for the duty officer."})
    sync(coordinator, worker)
    assert len(worker.app.directory.entry(housing).conflicts) == 1
    worker.app.directory.settle_conflict(housing, "opening_hours", conflict.conflict_id, "Mon-Fri 9:00-17:00")
    sync(worker, coordinator)
    for device in (worker, coordinator):
        entry = device.app.directory.entry(housing)
        assert (entry.conflicts, entry.value("opening_hours")) == ((), "Mon-Fri 9:00-17:00")
    with pytest.raises(ValidationFailed, match="already settled"):
        coordinator.app.directory.settle_conflict(housing, "opening_hours", conflict.conflict_id, "Never")


def test_a_peer_mentors_phone_gets_no_directory_and_a_new_member_waits_for_the_key(team: Team, phones: Phones) -> None:
    worker, coordinator = team.worker, team.coordinator
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.directory.add_entry(HOUSING)
    sync(worker, coordinator, mentor)
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    sync(coordinator, mentor)

    # The server sends a mentor none of it, and the phone says plainly why there is no directory.
    assert mentor.app.records.person_record(case_id).name == "Dean Walsh"
    assert directory_rows(mentor) == 0
    assert mentor.app.directory.unavailable_reason() == MENTOR_MESSAGE
    with pytest.raises(NotReady, match="Peer mentors"):
        mentor.app.directory.entries()
    with pytest.raises(NotReady, match="Peer mentors"):
        mentor.app.directory.add_entry(HOSTEL)
    assert mentor.app.sync.status().pending == 0

    # A new link worker receives the entries at once but reads them once a coordinator gave access.
    newcomer = phones.register("newcomer", Role.LINK_WORKER, "sam@example.org", "Sam New")
    sync(newcomer)
    assert directory_rows(newcomer) == directory_rows(worker) > 0
    assert newcomer.app.directory.unavailable_reason() == NO_KEY_MESSAGE
    with pytest.raises(NotReady, match="given this account access"):
        newcomer.app.directory.add_entry(HOSTEL)
    sync(coordinator, newcomer)
    assert newcomer.app.directory.unavailable_reason() is None
    assert listing(newcomer) == listing(worker)


def test_bad_input_is_refused_in_plain_words_and_nothing_is_written(team: Team) -> None:
    directory = team.worker.app.directory
    before = team.worker.app.sync.status().pending
    cases = [
        ({**HOUSING, "name": "  "}, {"name": "Give the name of the service."}),
        ({"name": "Nowhere Services"}, {"service": "Choose the kind of service."}),
        ({**HOUSING, "service": "bakery"}, {"service": "Choose the kind of service from the list."}),
        ({**HOUSING, "phone": "0" * 41}, {"phone": "Phone is too long (at most 40 characters)."}),
        ({**HOUSING, "shoe_size": "9"}, {"shoe_size": "This cannot be recorded in the service directory."}),
    ]
    for values, problems in cases:
        with pytest.raises(ValidationFailed) as refused:
            directory.add_entry(values)
        assert refused.value.problems == problems
    assert directory_rows(team.worker) == 0

    housing = directory.add_entry(HOUSING)
    written = directory_rows(team.worker)
    for values, problems in [
        ({"name": ""}, {"name": "Give the name of the service."}),
        ({"service": "bakery", "area": "Bath"}, {"service": "Choose the kind of service from the list."}),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            directory.update_entry(housing, values)
        assert refused.value.problems == problems
    with pytest.raises(NotReady, match="not in the directory"):
        directory.update_entry("0190a0a0-0000-7000-8000-000000000001", {"area": "Bath"})
    assert directory.update_entry(housing, {"area": "Bristol"}) == 0  # unchanged: nothing new
    assert directory_rows(team.worker) == written
    assert team.worker.app.sync.status().pending == before + written
    assert directory.entry(housing).value("area") == "Bristol"


def test_the_services_screens_state_adds_edits_and_fills_a_referral(team: Team, phones: Phones) -> None:
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh"})
    state = AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    notices: list[Notice] = []
    state.on_notice = notices.append
    directory = state.directory

    async def scenario() -> None:
        await state.start()
        await directory.show_services()
        assert (state.screen, state.home, directory.entries, directory.unavailable) == (
            Screen.SERVICES,
            Screen.SERVICES,
            [],
            None,
        )
        directory.start_adding()
        await directory.save({"name": "", "service": "", "opening_hours": "Mon-Fri"})
        assert state.screen is Screen.EDIT_SERVICE
        assert state.form_problems == {
            "name": "Give the name of the service.",
            "service": "Choose the kind of service.",
        }
        assert state.draft["opening_hours"] == "Mon-Fri"  # what was typed stays
        await directory.save({**HOUSING})
        assert state.screen is Screen.SERVICES
        [entry] = directory.entries
        await directory.start_editing(entry.record_id)
        assert state.screen is Screen.EDIT_SERVICE
        assert state.draft["phone"] == HOUSING["phone"]
        await directory.save({**HOUSING, "opening_hours": "Mon-Fri 9:00-16:00"})
        assert directory.entries[0].value("opening_hours") == "Mon-Fri 9:00-16:00"
        await directory.search("nothing like it")
        assert directory.entries == []
        await directory.search("")
        await directory.filter_by("hostel")
        assert directory.entries == []
        await directory.filter_by("all")
        assert len(directory.entries) == 1

        # From the referral form: choose from the directory; the form keeps the need typed.
        await state.open_person(case_id)
        state.plan.start_referring("accommodation")
        await directory.choose_for_referral()
        assert state.screen is Screen.CHOOSE_SERVICE
        directory.use_for_referral(directory.entries[0])
        assert state.screen is Screen.REFER
        assert state.draft == {
            "need_area": "accommodation",
            "service": "housing_options",
            "to_whom": "Bristol Housing Options",
        }

        await state.lock()
        assert directory.entries == []  # a lock forgets what was read

    asyncio.run(scenario())
    assert "Bristol Housing Options added to the services on this phone." in [n.text for n in notices]

    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    mentor_state = AppState(mentor.app, default_server_url=SERVER_URL, device_name="Mo's phone")
    asyncio.run(mentor_state.start())
    asyncio.run(mentor_state.directory.show_services())
    assert mentor_state.directory.unavailable == MENTOR_MESSAGE


def test_a_disagreement_is_settled_on_the_edit_screen(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    housing = worker.app.directory.add_entry(HOUSING)
    sync(worker, coordinator)
    worker.app.directory.update_entry(housing, {"phone": "0117 111 1111"})
    coordinator.app.directory.update_entry(housing, {"phone": "0117 222 2222"})
    sync(worker, coordinator, worker)
    state = AppState(worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")

    async def scenario() -> None:
        await state.start()
        await state.directory.show_services()
        [entry] = state.directory.entries
        assert [conflict.label for conflict in entry.conflicts] == ["Phone"]
        await state.directory.start_editing(housing)
        editing = state.directory.editing
        assert editing is not None
        [conflict] = editing.conflicts
        await state.directory.settle("phone", conflict.conflict_id, "0117 111 1111")
        assert state.screen is Screen.EDIT_SERVICE  # the form stays open, with the value kept
        assert state.draft["phone"] == "0117 111 1111"
        assert state.directory.editing is not None
        assert state.directory.editing.conflicts == ()

    asyncio.run(scenario())
    sync(worker, coordinator)
    assert coordinator.app.directory.entry(housing).conflicts == ()
    assert coordinator.app.directory.entry(housing).value("phone") == "0117 111 1111"


def test_a_service_that_closes_is_kept_but_no_longer_offered(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    housing = worker.app.directory.add_entry(HOUSING)
    worker.app.directory.add_entry(HOSTEL)
    worker.app.directory.update_entry(housing, {"status": "closed"})
    with pytest.raises(ValidationFailed, match="choose one of the options"):
        worker.app.directory.update_entry(housing, {"status": "sort of"})
    sync(worker, coordinator)
    directory = coordinator.app.directory
    assert [entry.name for entry in directory.entries()] == [HOSTEL["name"]]
    every = directory.entries(include_closed=True)
    assert [(entry.name, entry.closed) for entry in every] == [(HOUSING["name"], True), (HOSTEL["name"], False)]
    directory.update_entry(housing, {"status": "running"})  # it opened again
    assert [entry.name for entry in directory.entries()] == [HOUSING["name"], HOSTEL["name"]]
