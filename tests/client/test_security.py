"""What a lost phone or a copied database gives away, the PIN, and who may use a device."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path

import pytest

from outreach_app.errors import DeviceInUse, DeviceKeyDestroyed, Locked, WrongPin
from outreach_app.services import AccountStatus
from outreach_app.storage.store import journal_path
from shared.kinds import Tier
from shared.protocol import Role
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, InProcessServer, Phones, Team
from tests.client.test_sync import add_dean, log_note, shared_case


def files_under(*roots: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for root in roots for path in root.rglob("*") if path.is_file()}


def test_canary_never_reaches_a_disk_in_plaintext(
    team: Team, server: InProcessServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every log record of both sides (server, client, httpx, SQL statements with their
    # parameters) is kept, to be scanned with the files.
    caplog.set_level(logging.DEBUG)
    worker, coordinator = team.worker, team.coordinator
    name_canary = f"Quinlan Zebedee-{uuid.uuid4().hex[:10]}"
    note_canary = f"canary-note-{uuid.uuid4().hex}"
    case_id = worker.app.records.add_person({"name": name_canary, "establishment": "HMP Bristol"})
    log_note(worker, case_id, f"Said {note_canary} at the gate")
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    # Both devices can read it (so the plaintext really existed in memory on each)...
    for device in (worker, coordinator):
        record = device.app.records.person_record(case_id)
        assert record.name == name_canary
        assert note_canary in record.contacts[0].note

    # One more, unsent, so the outbox journal beside the worker's database holds it too.
    worker.network.down = True
    log_note(worker, case_id, f"Unsent: {note_canary} again")
    assert journal_path(worker.path).stat().st_size > 1_000

    # ...and no file of the server or either device holds it: databases, WAL and SHM files and
    # the outbox journal included (read while the apps are open, before any checkpoint on close).
    # On PostgreSQL the server's rows are read through SQL (its files belong to another user).
    files = files_under(server.data_dir, tmp_path / "devices")
    assert journal_path(worker.path) in files
    files[Path("server rows")] = server.rows_as_text().encode()
    files[Path("log records")] = "\n".join(
        f"{record.name} {record.getMessage()} {record.args!r}" for record in caplog.records
    ).encode()
    assert any(path.name.endswith("-wal") for path in files)
    databases = 3 if server.backend == "sqlite" else 2
    assert sum(path.suffix in (".sqlite", ".db") for path in files) >= databases
    assert b"Test Outreach" in files[Path("server rows")]  # the dump really holds the rows
    assert b"pushed" in files[Path("server rows")]  # the audit log's entries among them
    assert b"/v1/sync/push" in files[Path("log records")]  # and the logs really were captured
    for canary in (name_canary, note_canary, "Quinlan"):
        for encoded in (canary.encode("utf-8"), canary.encode("utf-16-le")):
            leaks = [path for path, data in files.items() if encoded in data]
            assert leaks == [], f"{canary!r} found in {leaks}"


def test_wrong_pins_count_down_then_destroy_the_key_and_unsent_work_survives(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    worker.network.down = True
    log_note(worker, case_id, "Saw him at the hostel; needs ID for the bank", tier=Tier.BASIC)
    worker.app.account.lock()
    assert worker.app.account.status() is AccountStatus.LOCKED
    with pytest.raises(Locked):
        worker.app.records.list_people()

    # A wrong PIN counts down; the right one resets the count.
    with pytest.raises(WrongPin) as wrong:
        worker.app.account.unlock("1111")
    assert wrong.value.attempts_left == 4
    worker.app.account.unlock(PIN)
    assert worker.app.account.pin_attempts_left() == 5
    worker.app.account.lock()

    worker.reopen()  # the count survives restarting the app
    left = []
    for _ in range(4):
        with pytest.raises(WrongPin) as wrong:
            worker.app.account.unlock("0000")
        left.append(wrong.value.attempts_left)
        worker.reopen()
    assert left == [4, 3, 2, 1]
    with pytest.raises(DeviceKeyDestroyed):
        worker.app.account.unlock("0000")
    assert worker.app.account.status() is AccountStatus.SIGNED_OUT
    with pytest.raises(DeviceKeyDestroyed):
        worker.app.account.unlock(PIN)  # even the right PIN cannot help now
    with sqlite3.connect(worker.path) as db:
        assert db.execute("SELECT count(*) FROM keyring").fetchone() == (0,)
        assert db.execute("SELECT value FROM device_state WHERE key = 'wrapped_device_key'").fetchall() == []
    assert worker.app.sync.status().pending == 1

    worker.network.down = False
    worker.app.account.sign_in(SERVER_URL, worker.email, PASSWORD, "Amira's phone")
    assert worker.app.account.status() is AccountStatus.NEEDS_PIN
    worker.app.account.set_pin("97531")
    assert worker.app.account.status() is AccountStatus.UNLOCKED
    assert worker.app.records.person_record(case_id).contacts[0].sync_state == "pending"
    assert worker.app.sync.sync_now().sent == 1
    coordinator.app.sync.sync_now()
    assert coordinator.app.records.person_record(case_id).contacts[0].note.startswith("Saw him at the hostel")


def test_another_person_cannot_take_over_a_phone_with_unsent_work(
    team: Team, server: InProcessServer, phones: Phones
) -> None:
    worker = team.worker
    other = phones.register("other", Role.LINK_WORKER, "jo@example.org", "Jo Other")
    other.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    case_id = shared_case(team)
    worker.network.down = True
    log_note(worker, case_id, "Unsent")
    worker.network.down = False
    with pytest.raises(DeviceInUse):
        worker.app.account.sign_in(SERVER_URL, "jo@example.org", PASSWORD, "Shared phone")
    assert worker.app.account.profile().email == worker.email
    assert worker.app.sync.status().pending == 1

    worker.app.sync.sync_now()
    worker.app.account.sign_in(SERVER_URL, "jo@example.org", PASSWORD, "Shared phone")
    assert worker.app.account.profile().display_name == "Jo Other"
    assert worker.app.account.status() is AccountStatus.NEEDS_PIN
    worker.app.account.set_pin("1357")
    worker.app.sync.sync_now()
    # Jo's view comes from the server alone: nothing of Amira's session is left behind.
    assert [p.name for p in worker.app.records.list_people()] == ["Dean Walsh"]
    with sqlite3.connect(worker.path) as db:
        emails = db.execute("SELECT value FROM device_state WHERE key = 'email'").fetchall()
    assert emails == [("jo@example.org",)]


def test_unreadable_and_refused_versions_show_without_breaking_the_record(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    log_note(worker, case_id, "Readable note")
    log_note(worker, case_id, "This one will be damaged")
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()

    # Damage one stored ciphertext on the coordinator's phone.
    with sqlite3.connect(coordinator.path) as db:
        change_id, ciphertext = db.execute(
            "SELECT change_id, ciphertext FROM local_version WHERE kind = 'contact' ORDER BY hlc DESC LIMIT 1"
        ).fetchone()
        damaged = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
        db.execute("UPDATE local_version SET ciphertext = ? WHERE change_id = ?", (damaged, change_id))
    coordinator.reopen()
    coordinator.app.account.unlock(PIN)
    record = coordinator.app.records.person_record(case_id)
    assert [c.note for c in record.contacts] == ["Readable note"]
    assert len(record.unreadable) == 1
    assert record.unreadable[0].change_id == change_id
    assert record.unreadable[0].author.name != ""
    assert record.name == "Dean Walsh"

    # A version the server refuses stays on the phone with the reason, never silently dropped.
    record_id = log_note(worker, case_id, "The server will refuse this")
    with sqlite3.connect(worker.path) as db:
        db.execute(
            "UPDATE local_version SET author_device_id = ? WHERE record_id = ?",
            ("00000000-0000-7000-8000-000000000000", record_id),
        )
    report = worker.app.sync.sync_now()
    assert [(item.item, item.reason) for item in report.not_accepted] == [("version", "forged_author")]
    status = worker.app.sync.status()
    assert (status.pending, status.not_accepted) == (0, 1)
    refused = [c for c in worker.app.records.person_record(case_id).contacts if c.record_id == record_id]
    assert refused[0].sync_state == "not_accepted"
    assert refused[0].not_accepted_reason
    assert refused[0].note == "The server will refuse this"


def test_add_person_works_fully_offline_once_keys_are_held(team: Team) -> None:
    worker = team.worker
    worker.network.down = True
    case_id = add_dean(worker)
    people = worker.app.records.list_people()
    assert [(p.case_id, p.name, p.pending) for p in people] == [(case_id, "Dean Walsh", 3)]
    assert worker.app.sync.sync_now().offline
