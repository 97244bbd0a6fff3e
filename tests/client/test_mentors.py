"""Peer mentors end to end: a coordinator assigns and unassigns, the mentor's phone reads the basic
tier only, and an unassigned mentor's phone purges the person; the basic key rotates."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from outreach_app.errors import NotReady, OfflineError
from outreach_app.state import AppState, Notice, Screen
from outreach_app.storage.journal import OutboxJournal
from outreach_app.storage.store import journal_path
from shared.kinds import Tier
from shared.protocol import Role, parse_case_key_id
from tests.client.conftest import SERVER_URL, InProcessServer, Phones, Team, TestDevice
from tests.client.test_sync import log_note


def rows_of(device: TestDevice, case_id: str) -> dict[str, int]:
    with sqlite3.connect(device.path) as connection:
        return {
            "versions": connection.execute(
                "SELECT count(*) FROM local_version WHERE case_id = ?", (case_id,)
            ).fetchone()[0],
            "grants": connection.execute("SELECT count(*) FROM key_grant WHERE case_id = ?", (case_id,)).fetchone()[0],
            "keys": connection.execute(
                "SELECT count(*) FROM keyring WHERE key_id LIKE ?", (f"case:{case_id}:%",)
            ).fetchone()[0],
        }


def test_assign_read_basic_write_unassign_purge_rotate_and_reassign(team: Team, phones: Phones) -> None:
    coordinator, worker = team.coordinator, team.worker
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person(
        {"name": "Dean Walsh", "establishment": "HMP Bristol", "risk_summary": "Do not meet alone"}
    )
    log_note(worker, case_id, "Met at the gate, wants help with housing.", Tier.BASIC)
    log_note(worker, case_id, "Disclosed a health matter in confidence.", Tier.FULL)
    worker.app.sync.sync_now()
    mentor.app.sync.sync_now()
    assert mentor.app.records.list_people() == []

    listed = coordinator.app.mentors.mentors(case_id)
    assert [m.display_name for m in listed.available] == ["Mo Mentor"]
    mentor_id = listed.available[0].user_id
    assigned = coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    assert [m.display_name for m in assigned.assigned] == ["Mo Mentor"]
    assert assigned.available == ()

    mentor.app.sync.sync_now()
    people = mentor.app.records.list_people()
    assert [person.name for person in people] == ["Dean Walsh"]
    record = mentor.app.records.person_record(case_id)
    assert record.field("establishment").value == "HMP Bristol"
    assert record.field("risk_summary").value is None  # the full tier is never delivered
    assert [c.note for c in record.contacts] == ["Met at the gate, wants help with housing."]
    assert record.unreadable == ()
    assert "confidence" not in mentor.path.read_bytes().decode("latin-1")

    log_note(mentor, case_id, "Walked to the housing office together.", Tier.BASIC)
    report = mentor.app.sync.sync_now()
    assert report.not_accepted == ()
    worker.app.sync.sync_now()
    notes = [c.note for c in worker.app.records.person_record(case_id).contacts]
    assert "Walked to the housing office together." in notes

    # An unsent note on the mentor's phone when the unassignment lands is purged with the case.
    mentor.network.down = True
    log_note(mentor, case_id, "Written offline after the unassignment.", Tier.BASIC)
    coordinator.app.mentors.unassign_mentor(case_id, mentor_id)
    assert coordinator.app.mentors.mentors(case_id).assigned == ()
    mentor.network.down = False
    mentor.app.sync.sync_now()
    assert mentor.app.records.list_people() == []
    assert rows_of(mentor, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    journal = OutboxJournal(journal_path(mentor.path))
    assert all(entry.data.get("case_id") != case_id for entry in journal.live.values())

    # The worker's next basic note uses the rotated key; the mentor's phone cannot open it.
    worker.app.sync.sync_now()
    note_id = log_note(worker, case_id, "New address agreed with the council.", Tier.BASIC)
    with sqlite3.connect(worker.path) as connection:
        key_id, ciphertext_row = connection.execute(
            "SELECT key_id, change_id FROM local_version WHERE record_id = ?", (note_id,)
        ).fetchone()
    parsed = parse_case_key_id(key_id)
    assert parsed is not None
    assert parsed[1] is Tier.BASIC
    assert parsed[2] == 2
    assert ciphertext_row
    worker.app.sync.sync_now()
    mentor.app.sync.sync_now()
    assert rows_of(mentor, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    with sqlite3.connect(mentor.path) as connection:
        held = {row[0] for row in connection.execute("SELECT key_id FROM keyring")}
    assert key_id not in held

    # Re-assigning works: the mentor reads the old notes and the new one.
    coordinator.app.sync.sync_now()
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    mentor.app.sync.sync_now()
    notes = [c.note for c in mentor.app.records.person_record(case_id).contacts]
    assert "New address agreed with the council." in notes
    assert "Met at the gate, wants help with housing." in notes
    assert "Disclosed a health matter in confidence." not in notes


def _basic_key_of_new_note(device: TestDevice, case_id: str, note: str) -> int:
    note_id = log_note(device, case_id, note, Tier.BASIC)
    with sqlite3.connect(device.path) as connection:
        (key_id,) = connection.execute("SELECT key_id FROM local_version WHERE record_id = ?", (note_id,)).fetchone()
    parsed = parse_case_key_id(key_id)
    assert parsed is not None
    return parsed[2]


def test_an_unassignment_whose_answer_was_lost_still_rotates_the_key_at_the_next_sync(
    team: Team, phones: Phones
) -> None:
    coordinator, worker = team.coordinator, team.worker
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    # The server unassigns, but the answer never reaches the coordinator's phone.
    coordinator.network.lose_reply_to.append(f"/v1/cases/{case_id}/mentors/{mentor_id}")
    with pytest.raises(OfflineError):
        coordinator.app.mentors.unassign_mentor(case_id, mentor_id)
    assert _basic_key_of_new_note(coordinator, case_id, "Before the next sync.") == 1
    coordinator.app.sync.sync_now()  # finds the mentor unassigned and rotates
    assert _basic_key_of_new_note(coordinator, case_id, "After the sync.") == 2
    coordinator.app.sync.sync_now()
    assert _basic_key_of_new_note(coordinator, case_id, "Rotated once.") == 2
    worker.app.sync.sync_now()
    assert _basic_key_of_new_note(worker, case_id, "The worker's note.") == 2
    mentor.app.sync.sync_now()
    assert mentor.app.records.list_people() == []

    # An unassignment that never reached the server changes nothing at the next sync.
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    coordinator.network.down = True
    with pytest.raises(OfflineError):
        coordinator.app.mentors.unassign_mentor(case_id, mentor_id)
    coordinator.network.down = False
    coordinator.app.sync.sync_now()
    assert [m.user_id for m in coordinator.app.mentors.mentors(case_id).assigned] == [mentor_id]
    assert _basic_key_of_new_note(coordinator, case_id, "Still v2.") == 2


def test_an_unassignment_on_a_phone_without_the_keys_is_refused_before_the_server_changes(
    team: Team, phones: Phones
) -> None:
    worker = team.worker
    phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    mentor_id = team.coordinator.app.mentors.mentors(case_id).available[0].user_id
    team.coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    # A second coordinator's new phone that has not synced the person yet.
    second = phones.register("coordinator-2", Role.COORDINATOR, "chris@example.org", "Chris Coordinator")
    second.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()  # gives the new coordinator the organisation key
    with pytest.raises(NotReady, match="keys"):
        second.app.mentors.unassign_mentor(case_id, mentor_id)
    assert [m.user_id for m in team.coordinator.app.mentors.mentors(case_id).assigned] == [mentor_id]


def test_only_coordinators_assign(team: Team, phones: Phones) -> None:
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh"})
    team.worker.app.sync.sync_now()
    for device in (team.worker, mentor):
        with pytest.raises(NotReady, match="Only a coordinator"):
            device.app.mentors.mentors(case_id)


def test_screens_coordinator_assigns_and_unassigns_and_the_mentor_is_taken_off_the_record(
    team: Team, phones: Phones
) -> None:
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh", "risk_summary": "Do not meet alone"})
    team.worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    desk = AppState(team.coordinator.app, default_server_url=SERVER_URL, device_name="Priya's phone")
    pocket = AppState(mentor.app, default_server_url=SERVER_URL, device_name="Mo's phone")
    notices: list[Notice] = []
    pocket.on_notice = notices.append

    async def scenario() -> None:
        await desk.start()
        await desk.open_person(case_id)
        assert desk.mentors is not None
        assert desk.mentors.assigned == ()
        await desk.assign_mentor(None)
        assert desk.form_problems == {"mentor": "Choose a peer mentor to assign."}
        await desk.assign_mentor(desk.mentors.available[0].user_id)
        assert [m.display_name for m in desk.mentors.assigned] == ["Mo Mentor"]

        await pocket.start()
        await pocket.show_caseload()
        await pocket.sync_now()
        assert [person.name for person in pocket.people] == ["Dean Walsh"]
        await pocket.open_person(case_id)
        assert pocket.record is not None
        assert pocket.is_mentor

        await desk.unassign_mentor(desk.mentors.assigned[0].user_id, "Mo Mentor")
        assert desk.mentors.assigned == ()
        await pocket.sync_now()
        assert pocket.screen is Screen.CASELOAD
        assert pocket.people == []
        assert any("no longer on this phone" in notice.text for notice in notices)

    asyncio.run(scenario())


def test_two_phones_rotating_one_key_at_once_end_with_one_key_everyone_reads(
    team: Team, phones: Phones, server: InProcessServer
) -> None:
    from tests.client.test_sharing import PARTNER, consent
    from tests.support.server import bootstrap_organisation

    coordinator, worker = team.coordinator, team.worker
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    partner_org, invitation = bootstrap_organisation(server.app, PARTNER)
    phones.register("partner", Role.COORDINATOR, "lead@probation.example", "Pat", code=invitation.code)
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    share = consent(worker, case_id, partner_org, [Tier.BASIC]).active[0]
    coordinator.app.sync.sync_now()
    # The worker withdraws the consent (basic v2, made first); the coordinator, not synced since,
    # unassigns the mentor on its own phone at the same moment and makes its own v2: refused.
    worker.app.sharing.withdraw(case_id, share.share_id)
    requests = coordinator.network.requests
    requests.clear()
    coordinator.app.mentors.unassign_mentor(case_id, mentor_id)
    # Its own v2 was refused; the sync after it brought the worker's v2 and rotated again on it.
    assert requests.count("POST /v1/sync/push") >= 2
    assert _basic_key_of_new_note(coordinator, case_id, "The coordinator's note.") == 3
    worker.app.sync.sync_now()
    assert _basic_key_of_new_note(worker, case_id, "The worker's note.") == 3
    for device in (worker, coordinator, worker):
        device.app.sync.sync_now()
    for device in (coordinator, worker):
        record = device.app.records.person_record(case_id)
        assert record.unreadable == ()
        assert {"The coordinator's note.", "The worker's note."} <= {c.note for c in record.contacts}
    mentor.app.sync.sync_now()
    assert mentor.app.records.list_people() == []
