"""Two devices and the real server: offline work, conflicts, replays, expired sessions, crashes."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from outreach_app.errors import SessionExpired
from outreach_app.services import AccountStatus
from outreach_app.storage import StateKey, outbox
from shared.kinds import Tier
from shared.protocol import Role
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, InProcessServer, Phones, Team, TestDevice, system_ms


def add_dean(device: TestDevice) -> str:
    return device.app.records.add_person(
        {"name": "Dean Walsh", "establishment": "HMP Bristol", "release_at": "2026-12-04"}
    )


def log_note(device: TestDevice, case_id: str, note: str, tier: Tier = Tier.FULL) -> str:
    return device.app.records.log_contact(
        case_id,
        occurred_at="2026-11-25T10:30",
        setting="prison_gate",
        contact_type="face_to_face",
        note=note,
        basis="fact",
        tier=tier,
    )


def device_state(device: TestDevice, key: StateKey) -> str:
    with sqlite3.connect(device.path) as db:
        row = db.execute("SELECT value FROM device_state WHERE key = ?", (key.value,)).fetchone()
    assert row is not None
    return str(row[0])


def shared_case(team: Team) -> str:
    """A person added on the worker's phone and synced to the coordinator's."""
    case_id = add_dean(team.worker)
    team.worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    return case_id


def test_contact_logged_offline_reaches_a_colleague_with_the_authors_name(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)

    worker.network.down = True
    record_id = log_note(worker, case_id, "Met at the gate; going to housing options together.")
    assert worker.app.sync.status().pending == 1

    report = worker.app.sync.sync_now()
    assert report.offline
    status = worker.app.sync.status()
    assert status.offline
    assert status.pending == 1
    assert status.last_error
    timeline = worker.app.records.person_record(case_id).contacts
    assert [(c.record_id, c.sync_state, c.author.name) for c in timeline] == [(record_id, "pending", "You")]

    worker.network.down = False
    report = worker.app.sync.sync_now()
    assert (report.offline, report.sent) == (False, 1)
    status = worker.app.sync.status()
    assert (status.offline, status.pending, status.last_error) == (False, 0, None)
    assert status.last_synced_at_ms is not None

    coordinator.app.sync.sync_now()
    contacts = coordinator.app.records.person_record(case_id).contacts
    assert len(contacts) == 1
    note = contacts[0]
    assert note.note == "Met at the gate; going to housing options together."
    assert note.author.name == "Amira Link"
    assert not note.author.is_me
    assert (note.setting_label, note.basis_label, note.tier, note.sync_state) == (
        "Prison gate",
        "Fact",
        Tier.FULL,
        "synced",
    )
    assert coordinator.app.records.list_people()[0].last_contact_at == "2026-11-25T10:30"


def test_concurrent_edits_show_the_same_conflict_everywhere_until_settled(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)

    # Both change the release date from the same starting point, each offline from the other.
    worker.app.records.update_person(case_id, "release_at", "2026-12-04T09:00")
    coordinator.app.records.update_person(case_id, "release_at", "2026-12-05")
    for device in (worker, coordinator, worker):
        device.app.sync.sync_now()

    views = [device.app.records.person_record(case_id) for device in (worker, coordinator)]
    for view in views:
        assert len(view.open_conflicts) == 1
        conflict = view.open_conflicts[0]
        assert conflict.field == "release_at"
        assert conflict.safety_critical
        assert {conflict.earlier.value, conflict.later.value} == {"2026-12-04T09:00", "2026-12-05"}
        assert conflict.later.value == view.field("release_at").value  # the later value stands
        authors = {conflict.earlier.author.user_id, conflict.later.author.user_id}
        assert authors == {worker.app.account.profile().user_id, coordinator.app.account.profile().user_id}
        assert conflict.earlier.written_at_ms > 0
        assert conflict.later.written_at_ms > 0
    assert views[0].open_conflicts[0].conflict_id == views[1].open_conflicts[0].conflict_id
    assert views[0].field("release_at").value == views[1].field("release_at").value
    summaries = [device.app.records.list_people()[0].open_conflicts for device in (worker, coordinator)]
    assert summaries == [1, 1]

    # An ordinary later edit does not close it.
    worker.app.records.update_person(case_id, "release_at", "2026-12-06")
    worker.app.sync.sync_now()
    assert len(worker.app.records.person_record(case_id).open_conflicts) == 1

    coordinator.app.sync.sync_now()
    conflict_id = coordinator.app.records.person_record(case_id).open_conflicts[0].conflict_id
    coordinator.app.records.settle_conflict(case_id, "release_at", conflict_id, "2026-12-05T14:00")
    coordinator.app.sync.sync_now()
    worker.app.sync.sync_now()
    for device in (worker, coordinator):
        record = device.app.records.person_record(case_id)
        assert record.open_conflicts == ()
        assert record.field("release_at").value == "2026-12-05T14:00"


def test_replayed_pushes_change_nothing_and_duplicate_nothing(team: Team, server: InProcessServer) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    log_note(worker, case_id, "First note")
    log_note(worker, case_id, "Second note")

    # The server commits the push but the reply is lost on the way back.
    worker.network.lose_reply_to.append("/v1/sync/push")
    assert worker.app.sync.sync_now().offline
    assert worker.app.sync.status().pending == 2
    versions = server.count("version")

    report = worker.app.sync.sync_now()
    assert (report.sent, report.already_on_server) == (0, 2)
    assert worker.app.sync.status().pending == 0
    assert server.count("version") == versions

    # The same batch once more (as after a crash before the acknowledgement was saved).
    with sqlite3.connect(worker.path) as db:
        db.execute("UPDATE local_version SET pending = 1, acknowledged = 0 WHERE kind = 'contact'")
    report = worker.app.sync.sync_now()
    assert (report.sent, report.already_on_server) == (0, 2)
    assert server.count("version") == versions

    coordinator.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    for device in (worker, coordinator):
        notes = [c.note for c in device.app.records.person_record(case_id).contacts]
        assert sorted(notes) == ["First note", "Second note"]


def test_expired_session_keeps_the_outbox_and_delivers_after_sign_in(team: Team, server: InProcessServer) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    log_note(worker, case_id, "Phoned about the hostel bed")

    server.clock_offset_ms = 40 * 24 * 3600 * 1000  # past the refresh token's lifetime
    with pytest.raises(SessionExpired):
        worker.app.sync.sync_now()
    status = worker.app.sync.status()
    assert status.pending == 1
    assert status.last_error

    # Still expired after restarting the app; the outbox is intact.
    worker.reopen()
    worker.app.account.unlock(PIN)
    with pytest.raises(SessionExpired):
        worker.app.sync.sync_now()
    assert worker.app.sync.status().pending == 1

    worker.app.account.sign_in(SERVER_URL, worker.email, PASSWORD, "Amira's phone")
    assert worker.app.account.status() is AccountStatus.UNLOCKED  # the PIN still stands
    report = worker.app.sync.sync_now()
    assert report.sent == 1
    # The coordinator's session has run out too.
    coordinator.app.account.sign_in(SERVER_URL, coordinator.email, PASSWORD, "Priya's phone")
    coordinator.app.sync.sync_now()
    assert [c.note for c in coordinator.app.records.person_record(case_id).contacts] == ["Phoned about the hostel bed"]


def test_outbox_cursor_and_clock_survive_closing_the_app(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    cursor = device_state(worker, StateKey.PULL_CURSOR)
    assert int(cursor) > 0
    worker.network.down = True
    log_note(worker, case_id, "Not released today: transferred")
    hlc_before = device_state(worker, StateKey.HLC_WALL)

    worker.reopen()
    assert worker.app.account.status() is AccountStatus.LOCKED
    worker.app.account.unlock(PIN)
    assert device_state(worker, StateKey.PULL_CURSOR) == cursor
    assert device_state(worker, StateKey.HLC_WALL) == hlc_before
    assert worker.app.sync.status().pending == 1

    worker.network.down = False
    # A lost pull reply leaves the cursor where it was; the next pull still gets everything.
    coordinator.app.records.update_person(case_id, "phone", "07700 900123")
    coordinator.app.sync.sync_now()
    worker.network.lose_reply_to.append("/v1/sync/pull")
    assert worker.app.sync.sync_now().offline
    assert worker.app.sync.status().pending == 0  # the push before the pull went through
    report = worker.app.sync.sync_now()
    assert report.received == 1
    assert worker.app.records.person_record(case_id).field("phone").value == "07700 900123"


def test_a_phone_clock_far_ahead_is_restamped_from_the_server_time(team: Team, phones: Phones) -> None:
    coordinator = team.coordinator
    phone_clock = {"ahead_ms": 0}
    fast = phones.register(
        "fast",
        Role.LINK_WORKER,
        "sam@example.org",
        "Sam Fast",
        now_ms=lambda: system_ms() + phone_clock["ahead_ms"],
    )
    fast.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    fast.app.sync.sync_now()

    phone_clock["ahead_ms"] = 3_600_000  # someone set the phone's clock an hour ahead
    case_id = add_dean(fast)
    report = fast.app.sync.sync_now()
    assert (report.restamped, report.sent, report.not_accepted) == (3, 3, ()), report
    assert fast.app.sync.status().pending == 0
    coordinator.app.sync.sync_now()
    record = coordinator.app.records.person_record(case_id)
    assert record.name == "Dean Walsh"
    assert record.unreadable == ()
    # Later edits follow the server's time and go straight through.
    fast.app.records.update_person(case_id, "phone", "07700 900456")
    assert fast.app.sync.sync_now().restamped == 0


def test_a_large_outbox_goes_in_batches_the_server_accepts(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    worker.network.down = True
    long_note = "Went through the housing form line by line with him. " * 140  # about 7,600 characters
    for number in range(520):
        log_note(worker, case_id, f"{number}: {long_note}")  # about 6 MB of ciphertext in all
    worker.network.down = False
    worker.network.requests.clear()
    worker.network.request_bytes.clear()
    report = worker.app.sync.sync_now()
    assert (report.sent, report.not_accepted) == (520, ())
    network = worker.network
    sizes = zip(network.requests, network.request_bytes, strict=True)
    pushes = [size for request, size in sizes if request.endswith("/push")]
    assert len(pushes) >= 2
    assert max(pushes) < 4_500_000  # inside the server's 8 MiB request limit
    coordinator.app.sync.sync_now()
    assert len(coordinator.app.records.person_record(case_id).contacts) == 520


def test_a_connection_lost_between_batches_and_between_pages_loses_nothing(team: Team, server: InProcessServer) -> None:
    # The phone reads and applies one batch or page while the server works on the next: a lost
    # connection in the middle keeps everything acknowledged so far and everything not yet sent.
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    versions_before = server.count("version")
    worker.network.down = True
    notes = 1_050  # three pushes of at most 500
    for number in range(notes):
        log_note(worker, case_id, f"Gate visit {number}: housing, benefits, probation.")
    worker.network.down = False
    worker.network.cut_after["/v1/sync/push"] = 1  # the second push never arrives
    cut = worker.app.sync.sync_now()
    assert cut.offline
    sent_first = server.count("version") - versions_before
    assert 0 < sent_first < notes
    assert (cut.sent, worker.app.sync.status().pending) == (sent_first, notes - sent_first)

    worker.network.down = False
    healed = worker.app.sync.sync_now()
    assert (healed.offline, healed.sent, healed.not_accepted) == (False, notes - sent_first, ())
    assert worker.app.sync.status().pending == 0
    assert server.count("version") - versions_before == notes  # each note stored once
    assert worker.network.most_at_once == 1

    coordinator.network.pull_limit = 200
    coordinator.network.cut_after["/v1/sync/pull"] = 2  # the third page never arrives
    assert coordinator.app.sync.sync_now().offline
    assert int(device_state(coordinator, StateKey.PULL_CURSOR)) > 0
    partly = len(coordinator.app.records.person_record(case_id).contacts)
    assert 0 < partly < notes  # the pages that arrived are applied, with the cursor after them
    coordinator.network.down = False
    assert coordinator.app.sync.sync_now().received == notes - partly
    contacts = coordinator.app.records.person_record(case_id).contacts
    assert len(contacts) == len({contact.record_id for contact in contacts}) == notes
    assert coordinator.network.most_at_once == 1


def test_saving_while_a_sync_runs_in_another_thread(team: Team) -> None:
    # The state layer calls services through asyncio.to_thread, so a sync and a save can overlap.
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    errors: list[BaseException] = []

    def keep_syncing() -> None:
        try:
            for _ in range(5):
                worker.app.sync.sync_now()
        except BaseException as error:  # reported below
            errors.append(error)

    syncing = threading.Thread(target=keep_syncing)
    syncing.start()
    for number in range(25):
        log_note(worker, case_id, f"Note {number}")
        worker.app.records.list_people()
    syncing.join()
    assert errors == []
    worker.app.sync.sync_now()
    assert worker.app.sync.status().pending == 0
    coordinator.app.sync.sync_now()
    assert len(coordinator.app.records.person_record(case_id).contacts) == 25


def test_a_sync_with_nothing_new_writes_nothing_on_the_phone(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = team.worker
    shared_case(team)
    worker.app.sync.sync_now()
    stored = int(device_state(worker, StateKey.LAST_SYNCED_AT_MS))
    observer = sqlite3.connect(worker.path)
    try:
        before = observer.execute("PRAGMA data_version").fetchone()[0]
        report = worker.app.sync.sync_now()
        assert not report.offline
        assert report.received == 0
        # data_version moves when another connection commits: the no-change sync committed nothing.
        assert observer.execute("PRAGMA data_version").fetchone()[0] == before
    finally:
        observer.close()
    assert worker.app.sync.status().last_synced_at_ms is not None
    assert worker.app.sync.status().last_synced_at_ms >= stored
    # Once the granularity has passed, the time is written durably again.
    monkeypatch.setattr("outreach_app.services.sync._LAST_SYNCED_GRANULARITY_MS", 0)
    worker.app.sync.sync_now()
    assert int(device_state(worker, StateKey.LAST_SYNCED_AT_MS)) == worker.app.sync.status().last_synced_at_ms


def test_a_phone_loads_only_its_versions_not_yet_settled_when_they_come_back_in_a_pull(team: Team) -> None:
    """What a phone pushed comes back in its next pull. Settled versions (acknowledged, with a seq,
    not pending) need nothing done and are not loaded; the others are, to be acknowledged."""
    worker = team.worker
    case_id = shared_case(team)
    worker.network.down = True
    log_note(worker, case_id, "Written with no signal at the gate.")
    with sqlite3.connect(worker.path) as db:
        rows = db.execute("SELECT change_id, pending, acknowledged, seq FROM local_version").fetchall()
    waiting = {change_id for change_id, pending, _, _ in rows if pending}
    settled = {change_id for change_id, pending, acknowledged, seq in rows if not pending and acknowledged and seq}
    assert waiting
    assert settled
    assert waiting | settled == {row[0] for row in rows}
    elsewhere = "00000000-0000-4000-8000-000000000000"

    engine = create_engine(f"sqlite:///{worker.path}")
    try:
        with Session(engine) as session:
            assert outbox.held_unsettled(session, [*settled, *waiting, elsewhere]) == (settled | waiting, waiting)
        worker.network.down = False
        report = worker.app.sync.sync_now()
        assert (report.sent, report.received) == (len(waiting), 0)  # its own note came back: nothing new
        with Session(engine) as session:
            assert outbox.held_unsettled(session, [*settled, *waiting]) == (settled | waiting, set())
    finally:
        engine.dispose()
