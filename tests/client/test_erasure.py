"""Closing a case and erasing a record end to end: a coordinator closes, reopens and erases; every
phone of the organisation (a link worker's, a mentor's, one offline with unsent work) deletes the
person with their keys at its next sync, and says what unsent work it dropped."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text

from outreach_app.errors import NotAllowed
from outreach_app.state import AppState, Notice, Screen
from outreach_app.storage.journal import OutboxJournal
from outreach_app.storage.store import journal_path
from shared.kinds import Tier
from shared.protocol import Role
from tests.client.conftest import SERVER_URL, InProcessServer, Phones, Team, TestDevice
from tests.client.test_mentors import rows_of
from tests.client.test_sync import log_note


def server_rows_of(server: InProcessServer, case_id: str) -> int:
    """Rows of the case left on the server (versions, records, grants, assignments)."""
    queries = (
        "SELECT count(*) FROM version WHERE case_id = :case",
        "SELECT count(*) FROM record WHERE case_id = :case OR record_id = :case",
        "SELECT count(*) FROM key_grant WHERE case_id = :case",
        "SELECT count(*) FROM assignment WHERE case_id = :case",
    )
    with server.app.state.engine.connect() as connection:
        return sum(int(connection.execute(text(query), {"case": case_id}).scalar_one()) for query in queries)


def test_close_reopen_and_erase_reach_every_phone(server: InProcessServer, team: Team, phones: Phones) -> None:
    coordinator, worker = team.coordinator, team.worker
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    case_id = worker.app.records.add_person({"name": "Dean Walsh", "establishment": "HMP Bristol"})
    kept_id = worker.app.records.add_person({"name": "Lee Morgan"})
    log_note(worker, case_id, "Met at the gate, wants help with housing.", Tier.BASIC)
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    mentor.app.sync.sync_now()
    assert [person.name for person in mentor.app.records.list_people()] == ["Dean Walsh"]

    state = coordinator.app.cases.status(case_id)
    assert not state.closed
    closed = coordinator.app.cases.close_case(case_id)
    assert closed.closed
    assert closed.erase_after_ms == closed.closed_at_ms + closed.retention_days * 86_400_000  # type: ignore[operator]
    assert not coordinator.app.cases.reopen_case(case_id).closed
    assert coordinator.app.cases.set_retention_days(3650) == 3650
    assert coordinator.app.cases.status(case_id).retention_days == 3650

    # The worker's phone is offline with a note not sent yet when the record is erased.
    worker.network.down = True
    log_note(worker, case_id, "Written offline before the erasure.", Tier.FULL)
    erased = coordinator.app.cases.erase_case(case_id)
    assert erased.versions >= 3
    assert server_rows_of(server, case_id) == 0
    assert [person.name for person in coordinator.app.records.list_people()] == ["Lee Morgan"]
    assert rows_of(coordinator, case_id) == {"versions": 0, "grants": 0, "keys": 0}

    mentor_report = mentor.app.sync.sync_now()
    assert mentor_report.erased == 1
    assert mentor.app.records.list_people() == []
    assert rows_of(mentor, case_id) == {"versions": 0, "grants": 0, "keys": 0}

    worker.network.down = False
    report = worker.app.sync.sync_now()
    assert report.erased == 1
    assert report.dropped == 1  # the unsent note, refused by the server and deleted with the person
    assert report.not_accepted == ()
    assert "1 unsent change(s)" in report.message
    assert [person.name for person in worker.app.records.list_people()] == ["Lee Morgan"]
    assert rows_of(worker, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    assert worker.app.sync.status().pending == 0
    journal = OutboxJournal(journal_path(worker.path))
    assert all(entry.data.get("case_id") != case_id for entry in journal.live.values())
    raw = worker.path.read_bytes().decode("latin-1")
    assert "Written offline before the erasure." not in raw
    assert server_rows_of(server, case_id) == 0  # the refused note never reached the server

    # A phone signing in afresh finds nothing of the person, and no key that could open a stray copy.
    fresh = phones.new("worker-new", worker.email, worker.display_name)
    fresh.app.account.sign_in(SERVER_URL, worker.email, "correct horse battery", "New phone")
    fresh.app.account.set_pin("2468")
    fresh.app.sync.sync_now()
    assert [person.name for person in fresh.app.records.list_people()] == ["Lee Morgan"]
    assert rows_of(fresh, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    assert kept_id in {person.case_id for person in fresh.app.records.list_people()}


def case_view_records_on_server(server: InProcessServer) -> int:
    with server.app.state.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM record WHERE kind = 'case_view'")).scalar_one())


def test_an_erasure_deletes_the_records_of_who_opened_the_person_everywhere(
    server: InProcessServer, team: Team, phones: Phones
) -> None:
    coordinator, worker = team.coordinator, team.worker
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    kept_id = worker.app.records.add_person({"name": "Lee Morgan"})
    # The worker opens both records; the view of Dean is still unsent on a second coordinator's
    # phone when the erasure comes (it opened Dean's record offline).
    assert worker.app.records.note_case_viewed(case_id)
    assert worker.app.records.note_case_viewed(kept_id)
    worker.app.sync.sync_now()
    second = phones.register("coordinator-2", Role.COORDINATOR, "chris@example.org", "Chris Coordinator")
    second.app.sync.sync_now()
    coordinator.app.sync.sync_now()  # gives the new coordinator the organisation key
    second.app.sync.sync_now()
    assert {view.person for view in second.app.records.case_views()} == {"Dean Walsh", "Lee Morgan"}
    second.network.down = True
    assert second.app.records.note_case_viewed(case_id)
    coordinator.app.sync.sync_now()
    assert case_view_records_on_server(server) == 2

    erased = coordinator.app.cases.erase_case(case_id)
    assert erased.case_views == 1  # the worker's view of Dean; the second coordinator's never arrived
    assert case_view_records_on_server(server) == 1
    assert [view.person for view in coordinator.app.records.case_views()] == ["Lee Morgan"]

    second.network.down = False
    second.app.sync.sync_now()
    # Its own unsent view of Dean and the one it had received are gone with him.
    assert [view.person for view in second.app.records.case_views()] == ["Lee Morgan"]
    assert second.app.sync.status().pending == 0
    assert case_view_records_on_server(server) == 1
    with sqlite3.connect(second.path) as connection:
        (left,) = connection.execute("SELECT count(*) FROM local_version WHERE kind = 'case_view'").fetchone()
    assert left == 1


def test_only_coordinators_close_or_erase(team: Team) -> None:
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh"})
    team.worker.app.sync.sync_now()
    for action in (team.worker.app.cases.close_case, team.worker.app.cases.erase_case):
        with pytest.raises(NotAllowed, match="Only a coordinator"):
            action(case_id)
    assert not team.worker.app.cases.status(case_id).closed  # but a link worker is told whether it is
    assert [person.name for person in team.worker.app.records.list_people()] == ["Dean Walsh"]


def _keys_of(device: TestDevice) -> set[str]:
    with sqlite3.connect(device.path) as connection:
        return {row[0] for row in connection.execute("SELECT key_id FROM keyring")}


def test_screens_coordinator_closes_and_erases_and_the_worker_loses_the_record(team: Team) -> None:
    case_id = team.worker.app.records.add_person({"name": "Dean Walsh"})
    team.worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    desk = AppState(team.coordinator.app, default_server_url=SERVER_URL, device_name="Priya's phone")
    pocket = AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    desk_notices: list[Notice] = []
    pocket_notices: list[Notice] = []
    desk.on_notice = desk_notices.append
    pocket.on_notice = pocket_notices.append

    async def scenario() -> None:
        await desk.start()
        await desk.show_caseload()
        await desk.open_person(case_id)
        assert desk.case_state is not None
        assert not desk.case_state.closed
        await desk.close_case()
        assert desk.case_state is not None
        assert desk.case_state.closed
        await desk.reopen_case()
        assert desk.case_state is not None
        assert not desk.case_state.closed
        await desk.set_retention_days("six years")
        assert "retention_days" in desk.form_problems

        await desk.close_case()
        await pocket.start()
        await pocket.show_caseload()
        await pocket.open_person(case_id)
        # A link worker is told the case is closed (a coordinator reopens it), with no controls.
        assert pocket.case_state is not None
        assert pocket.case_state.closed
        assert any(key.startswith(f"case:{case_id}:") for key in _keys_of(team.worker))

        await desk.erase_record()
        assert desk.screen is Screen.CASELOAD
        assert desk.people == []
        assert any("was erased" in notice.text for notice in desk_notices)

        await pocket.sync_now()
        assert pocket.screen is Screen.CASELOAD
        assert pocket.people == []
        assert any("erased 1 person's record" in notice.text for notice in pocket_notices)
        assert pocket_notices[-1].text == "A coordinator erased this person's record: it is no longer on this phone."
        assert not any(key.startswith(f"case:{case_id}:") for key in _keys_of(team.worker))

    asyncio.run(scenario())


def test_records_of_who_opened_a_record_are_deleted_after_the_retention_period(
    server: InProcessServer, team: Team
) -> None:
    from sqlmodel import Session

    from sync_server.services.cases import age_out_case_views

    case_id = team.worker.app.records.add_person({"name": "Dean Walsh"})
    assert team.worker.app.records.note_case_viewed(case_id)
    team.worker.app.sync.sync_now()
    assert team.coordinator.app.cases.set_retention_days(30) == 30
    context = server.app.state.context
    with Session(server.app.state.engine) as session:
        assert age_out_case_views(context, session) == 0  # a day old: kept
    assert case_view_records_on_server(server) == 1
    server.clock_offset_ms = 31 * 86_400_000
    with Session(server.app.state.engine) as session:
        assert age_out_case_views(context, session) == 1
    assert case_view_records_on_server(server) == 0
    assert server_rows_of(server, case_id) > 0  # the person's record itself is kept (the case is open)
