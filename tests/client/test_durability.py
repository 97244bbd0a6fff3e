"""What survives on the phone: a killed app, a pull cut or killed between pages, and a damaged or
missing database (rebuilt from the server, keeping the unsent work in the outbox journal)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from outreach_app.services import AccountStatus, store_rebuilt_message
from outreach_app.state import AppState, Screen
from outreach_app.storage import StateKey
from outreach_app.storage.journal import JournalEntry, OutboxJournal
from outreach_app.storage.store import journal_path
from shared.kinds import Tier
from shared.protocol import Role
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, InProcessServer, Phones, Team, TestDevice
from tests.client.test_sync import add_dean, device_state, log_note, shared_case

ROOT = Path(__file__).resolve().parents[2]
PULL = "/v1/sync/pull"


def run_app(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.client.crashing_app", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def local_change_ids(device: TestDevice) -> set[str]:
    with sqlite3.connect(device.path) as db:
        return {row[0] for row in db.execute("SELECT change_id FROM local_version")}


def server_change_ids(server: InProcessServer, up_to_seq: int | None = None) -> set[str]:
    query = "SELECT change_id FROM version" + ("" if up_to_seq is None else " WHERE seq <= :seq")
    with server.app.state.engine.connect() as connection:
        return {row[0] for row in connection.execute(text(query), {"seq": up_to_seq})}


def busy_caseload(team: Team, people: int = 4) -> list[str]:
    """People with several notes each, added by the coordinator and synced to the server."""
    coordinator = team.coordinator
    cases = [add_dean(coordinator) for _ in range(people)]
    for case_id in cases:
        for number in range(3):
            log_note(coordinator, case_id, f"Coordinator note {number}")
    assert coordinator.app.sync.sync_now().sent == people * 6
    return cases


# --- a killed app --------------------------------------------------------------------------------


def test_saves_survive_the_app_being_killed(team: Team, server: InProcessServer) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    cursor = device_state(worker, StateKey.PULL_CURSOR)
    worker.app.close()

    child = run_app("save", str(worker.path), case_id)
    assert child.stdout is not None
    saved: list[str] = []
    while len(saved) < 5:
        line = child.stdout.readline()
        assert line.startswith("saved "), (line, child.stderr.read() if child.stderr else "")
        saved.append(line.split()[1])
    child.send_signal(signal.SIGKILL)  # while it is saving the next one
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert integrity(worker.path) == "ok"
    # The journal holds at least what the database committed (it is written first).
    journal = OutboxJournal(journal_path(worker.path))
    with sqlite3.connect(worker.path) as db:
        pending = {row[0] for row in db.execute("SELECT change_id FROM local_version WHERE pending = 1")}
    assert pending <= set(journal.live)

    worker.reopen()
    assert worker.app.store_path == worker.path
    worker.app.account.unlock(PIN)
    assert worker.app.account.store_rebuilt() is None  # killed, not damaged: nothing to rebuild
    assert device_state(worker, StateKey.PULL_CURSOR) == cursor
    contacts = worker.app.records.person_record(case_id).contacts
    ids = {contact.record_id for contact in contacts}
    assert set(saved) <= ids  # every save that returned is there
    assert len(contacts) in (len(saved), len(saved) + 1)  # and at most the one being saved when killed
    assert all(contact.note.startswith("Kept note") for contact in contacts)
    assert worker.app.sync.status().pending == len(contacts)

    assert worker.app.sync.sync_now().sent == len(contacts)
    coordinator.app.sync.sync_now()
    assert {c.record_id for c in coordinator.app.records.person_record(case_id).contacts} == ids


def test_a_pull_killed_mid_page_is_rolled_back_and_the_next_sync_completes(team: Team, server: InProcessServer) -> None:
    worker, coordinator = team.worker, team.coordinator
    busy_caseload(team)
    before = local_change_ids(worker)
    cursor_before = int(device_state(worker, StateKey.PULL_CURSOR))
    worker.app.close()

    engine_url = server.app.state.engine.url.render_as_string(hide_password=False)
    child = run_app("apply", str(worker.path), str(server.data_dir), engine_url, "5")
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert "dying with" in out

    # The first page and its cursor were committed together; nothing of the second page is there.
    assert integrity(worker.path) == "ok"
    cursor = int(device_state(worker, StateKey.PULL_CURSOR))
    assert cursor > cursor_before
    assert local_change_ids(worker) - before == server_change_ids(server, cursor) - before
    assert local_change_ids(worker) < server_change_ids(server)

    worker.reopen()
    worker.app.account.unlock(PIN)
    report = worker.app.sync.sync_now()
    assert not report.offline
    assert local_change_ids(worker) == server_change_ids(server)
    assert worker.app.records.list_people() == coordinator.app.records.list_people()


# --- a pull cut between pages --------------------------------------------------------------------


def test_a_pull_cut_between_pages_keeps_whole_pages_and_the_next_sync_completes(
    team: Team, server: InProcessServer
) -> None:
    worker, coordinator = team.worker, team.coordinator
    busy_caseload(team)
    before = local_change_ids(worker)
    worker.network.pull_limit = 5
    worker.network.cut_after[PULL] = 2  # two pages arrive, then the signal goes

    report = worker.app.sync.sync_now()
    assert report.offline
    cursor = int(device_state(worker, StateKey.PULL_CURSOR))
    received = local_change_ids(worker) - before
    assert received  # whole pages were kept...
    assert received == server_change_ids(server, cursor) - before  # ...exactly up to the cursor
    assert local_change_ids(worker) < server_change_ids(server)

    worker.network.down = False
    assert not worker.app.sync.sync_now().offline
    assert local_change_ids(worker) == server_change_ids(server)
    assert worker.app.records.list_people() == coordinator.app.records.list_people()


# --- a damaged or missing database ---------------------------------------------------------------


def scribble_over_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    for offset in range(2 * 4096, len(data), 4096):
        data[offset : offset + 512] = os.urandom(512)
    path.write_bytes(bytes(data))


def damage(path: Path, how: str) -> None:
    if how == "header":
        with path.open("r+b") as file:
            file.write(b"this is not sqlite at all")
    elif how == "pages":
        scribble_over_pages(path)
    else:
        assert how == "missing"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["header", "pages", "missing"])
def test_a_damaged_or_missing_database_is_rebuilt_from_the_server_keeping_unsent_work(
    team: Team, server: InProcessServer, how: str
) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    worker.network.down = True
    note_id = log_note(worker, case_id, "Unsent: met him off the bus", tier=Tier.BASIC)
    new_case = worker.app.records.add_person({"name": "Ros Penhale", "establishment": "HMP Eastwood Park"})
    unsent = worker.app.sync.status().pending
    assert unsent == 3  # the note, and the new person's name and establishment
    device_id = worker.app.account.profile().device_id
    worker.app.close()

    damage(worker.path, how)
    worker.reopen()

    rebuilt = worker.app.account.store_rebuilt()
    assert rebuilt is not None
    assert (rebuilt.reason, rebuilt.kept) == ("missing" if how == "missing" else "damaged", unsent)
    if how != "missing":
        assert rebuilt.moved_to is not None
        assert (worker.path.parent / rebuilt.moved_to).exists()  # kept aside, not deleted
    assert store_rebuilt_message(rebuilt) == (
        f"This phone's data {'went missing' if how == 'missing' else 'was damaged'} and is being rebuilt "
        f"from the server: {unsent} unsent changes were kept and will be sent after you sign in."
    )
    assert integrity(worker.path) == "ok"
    # The keys were in the lost database: the password is needed, the PIN is not enough.
    assert worker.app.account.status() is AccountStatus.SIGNED_OUT
    assert worker.app.sync.status().pending == unsent

    # The app opens on the sign-in screen with the message; signing in clears it.
    worker.network.down = False
    state = AppState(worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")

    async def open_and_sign_in() -> tuple[Screen, str | None]:
        await state.start()
        shown = (state.screen, state.sign_in_message)
        await state.sign_in(SERVER_URL, worker.email, PASSWORD)
        return shown

    assert asyncio.run(open_and_sign_in()) == (Screen.SIGN_IN, store_rebuilt_message(rebuilt))
    assert (state.screen, state.sign_in_message) == (Screen.SET_PIN, None)
    assert worker.app.account.store_rebuilt() is None
    assert worker.app.account.profile().device_id == device_id  # the same device, so its stamps stand
    worker.app.account.set_pin(PIN)
    report = worker.app.sync.sync_now()
    assert (report.sent, report.not_accepted) == (unsent, ())
    assert worker.app.sync.status().pending == 0

    # Everything is back on the phone, and the colleague has the unsent work.
    coordinator.app.sync.sync_now()
    for device in (worker, coordinator):
        assert {p.name for p in device.app.records.list_people()} == {"Dean Walsh", "Ros Penhale"}
        assert [c.record_id for c in device.app.records.person_record(case_id).contacts] == [note_id]
        assert device.app.records.person_record(new_case).field("establishment").value == "HMP Eastwood Park"
    # A new save after the rebuild sorts after everything the device wrote before.
    log_note(worker, case_id, "After the rebuild")
    assert worker.app.sync.sync_now().sent == 1
    coordinator.app.sync.sync_now()
    notes = [c.note for c in coordinator.app.records.person_record(case_id).contacts]
    assert notes == ["After the rebuild", "Unsent: met him off the bus"]


def test_a_new_phone_is_not_mistaken_for_a_missing_database(tmp_path: Path) -> None:
    from outreach_app.services import Gatepost

    with Gatepost.open(tmp_path) as app:
        assert app.account.store_rebuilt() is None
    assert journal_path(tmp_path / "gatepost.sqlite").exists()
    with Gatepost.open(tmp_path) as app:  # and reopening a healthy one rebuilds nothing
        assert app.account.store_rebuilt() is None


def test_the_journal_is_emptied_once_the_server_has_everything(team: Team) -> None:
    worker = team.worker
    case_id = shared_case(team)
    worker.network.down = True
    log_note(worker, case_id, "One")
    log_note(worker, case_id, "Two")
    path = journal_path(worker.path)
    assert len(OutboxJournal(path).entries("version")) == 2
    worker.network.down = False
    worker.app.sync.sync_now()
    journal = OutboxJournal(path)
    assert journal.live == {}
    assert journal.identity[StateKey.EMAIL.value] == worker.email  # who the phone belongs to stays
    assert path.stat().st_size < 2_000


def test_a_torn_last_journal_line_is_ignored_and_never_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "gatepost.outbox"
    identity = {StateKey.EMAIL.value: "amira@example.org"}
    journal = OutboxJournal(path)
    journal.record([JournalEntry("version", "a", {"ciphertext": "AAAA"})], [], identity)
    journal.record([JournalEntry("version", "b", {"ciphertext": "BBBB"})], [], identity)
    whole = path.read_bytes()
    path.write_bytes(whole[:-20])  # the app was killed while appending "b"

    torn = OutboxJournal(path)
    assert (torn.damaged_lines, set(torn.live), torn.identity) == (1, {"a"}, identity)
    torn.record([JournalEntry("version", "c", {"ciphertext": "CCCC"})], ["a"], identity)
    again = OutboxJournal(path)
    assert (again.damaged_lines, set(again.live), again.identity) == (0, {"c"}, identity)
    again.record([], ["c"], identity)
    assert (set(OutboxJournal(path).live), OutboxJournal(path).identity) == (set(), identity)


def test_a_journal_that_never_empties_is_compacted_and_keeps_what_is_unsent(tmp_path: Path) -> None:
    path = tmp_path / "gatepost.outbox"
    identity = {StateKey.EMAIL.value: "amira@example.org"}
    journal = OutboxJournal(path, compact_min_bytes=20_000)
    journal.record([JournalEntry("version", "kept", {"ciphertext": "K" * 100})], [], identity)
    sizes = []
    for i in range(200):  # one version always waits, others come and go
        journal.record([JournalEntry("version", f"v{i}", {"ciphertext": "A" * 1_000})], [f"v{i - 1}"], identity)
        sizes.append(path.stat().st_size)
    rewrites = sum(1 for before, after in itertools.pairwise(sizes) if after < before)
    assert max(sizes) < 22_000  # rewritten each time it passed the floor, not grown to 200 kB
    assert rewrites >= 5
    reopened = OutboxJournal(path)
    assert (reopened.damaged_lines, set(reopened.live), reopened.identity) == (0, {"kept", "v199"}, identity)
    assert reopened.live["kept"].data == {"ciphertext": "K" * 100}


def test_a_coordinators_unsent_organisation_key_survives_a_lost_database(
    server: InProcessServer, phones: Phones
) -> None:
    # The first coordinator's phone makes the organisation key; here it cannot send it, works
    # offline (the new person's case keys are wrapped under that key), and then loses its database.
    coordinator = phones.new("coordinator", "coordinator@example.org", "Priya Coordinator")
    coordinator.network.cut_after["/v1/org/keys"] = 0
    coordinator.app.account.register(
        SERVER_URL, server.coordinator_invitation.code, coordinator.email, PASSWORD, "Priya Coordinator", "Phone"
    )
    coordinator.app.account.set_pin(PIN)
    case_id = add_dean(coordinator)
    log_note(coordinator, case_id, "Written before the key ever reached the server")
    coordinator.app.close()
    damage(coordinator.path, "header")

    coordinator.reopen()
    rebuilt = coordinator.app.account.store_rebuilt()
    assert rebuilt is not None
    assert rebuilt.kept == 4
    coordinator.network.down = False
    coordinator.app.account.sign_in(SERVER_URL, coordinator.email, PASSWORD, "Phone")  # sends the setup
    coordinator.app.account.set_pin(PIN)
    assert coordinator.app.sync.sync_now().sent == 4
    record = coordinator.app.records.person_record(case_id)
    assert (record.name, record.unreadable) == ("Dean Walsh", ())
    assert [c.note for c in record.contacts] == ["Written before the key ever reached the server"]

    worker = phones.register("worker", Role.LINK_WORKER, "amira@example.org", "Amira Link")
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    worker.app.sync.sync_now()
    assert worker.app.records.person_record(case_id).name == "Dean Walsh"
