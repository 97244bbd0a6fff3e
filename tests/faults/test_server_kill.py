"""The second layer of the fault campaign: the real server (uvicorn, ``outreach-server serve``) is
killed with SIGKILL while a large batch push is in flight, restarted on the same data, and every
phone syncs over real HTTP. Nothing a worker saved may be lost or duplicated, and every replica
must end identical. Runs on SQLite and on PostgreSQL; the kill delays come from a printed seed.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from outreach_app.services import Gatepost, SyncReport
from shared.crypto import FAST_TEST_SCRYPT
from shared.kinds import Tier
from shared.protocol import Role
from tests.e2e.processes import ServerProcess
from tests.support.server import postgres_database_url

PASSWORD = "kill-test-password"
PIN = "1357"
NOTES = 1500  # three batches of 500 at most: a kill lands inside one or between them
NOTE = "Went through the housing form line by line with him. " * 30  # about 1,600 characters
KILLS = 6


class PostgresServerProcess(ServerProcess):
    """``ServerProcess`` on a PostgreSQL database instead of SQLite in its data directory."""

    def __init__(self, data_dir: Path, log_path: Path, database_url: str) -> None:
        super().__init__(data_dir, log_path)
        self.database_url = database_url

    def env(self) -> dict[str, str]:
        env = super().env()
        env["OUTREACH_DATABASE_URL"] = self.database_url
        return env


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    log = tmp_path / "server.log"
    if request.param == "sqlite":
        process = ServerProcess(tmp_path / "server", log)
        yield process.start()
        process.stop()
        return
    with postgres_database_url("gatepost_kill") as url:
        process = PostgresServerProcess(tmp_path / "server", log, url)
        yield process.start()
        process.stop()


def database_url(server: ServerProcess) -> str:
    return getattr(server, "database_url", f"sqlite:///{server.data_dir / 'server.db'}")


def server_versions(server: ServerProcess) -> tuple[int, int]:
    """(versions, distinct change ids) as the server's database holds them."""
    engine = create_engine(database_url(server))
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT count(*), count(DISTINCT change_id) FROM version")).one()
            return int(row[0]), int(row[1])
    finally:
        engine.dispose()


def open_phone(root: Path, slot: str) -> Gatepost:
    return Gatepost.open(root / slot / "gatepost.sqlite", scrypt_params=FAST_TEST_SCRYPT)


def test_killing_the_server_mid_batch_loses_and_duplicates_nothing(server: ServerProcess, tmp_path: Path) -> None:
    seed = int(os.environ.get("GATEPOST_FAULT_SEED", random.SystemRandom().randrange(2**32)))
    print(f"server kill seed {seed} (re-run with GATEPOST_FAULT_SEED={seed})")
    chance = random.Random(seed)
    phones_dir = tmp_path / "phones"

    code = server.init_org("Kill Street Outreach", "lead@kill.test")
    coordinator = open_phone(phones_dir, "coordinator")
    workers = [open_phone(phones_dir, f"worker{n}") for n in (1, 2)]
    phones = [coordinator, *workers]
    try:
        coordinator.account.register(server.url, code, "lead@kill.test", PASSWORD, "Lead", "Lead's phone")
        coordinator.account.set_pin(PIN)
        assert not coordinator.sync.sync_now().offline
        for number, worker in enumerate(workers, start=1):
            email = f"worker{number}@kill.test"
            invitation = coordinator.account.create_invitation(Role.LINK_WORKER, email)
            worker.account.register(server.url, invitation.code, email, PASSWORD, f"Worker {number}", "Phone")
            worker.account.set_pin(PIN)
            assert not worker.sync.sync_now().offline
        assert not coordinator.sync.sync_now().offline  # seals the organisation key to both workers
        case_id = coordinator.records.add_person({"name": "Dean Walsh", "release_at": "2026-12-04"})
        for phone in (coordinator, *workers):
            assert not phone.sync.sync_now().offline

        # A day of work with no signal: a large outbox on the first worker, a little on the other.
        pusher, other = workers
        saved: dict[str, str] = {}
        for number in range(NOTES):
            note = f"{number}: {NOTE}"
            saved[
                pusher.records.log_contact(
                    case_id,
                    occurred_at="2026-11-25T10:30",
                    setting="prison_gate",
                    contact_type="face_to_face",
                    note=note,
                    basis="fact",
                    tier=Tier.FULL,
                )
            ] = note.strip()
        other.records.update_person(case_id, "release_at", "2026-12-05")

        interrupted = 0
        for kill in range(KILLS):
            reports: list[SyncReport | BaseException] = []

            def push_outbox(reports: list[SyncReport | BaseException] = reports) -> None:
                try:
                    reports.append(pusher.sync.sync_now())
                except BaseException as error:  # reported below
                    reports.append(error)

            pushing = threading.Thread(target=push_outbox)
            pending_before = pusher.sync.status().pending
            pushing.start()
            # The power goes somewhere in the batches (a push of 500 takes a tenth of a second or so).
            time.sleep(chance.uniform(0.01, 0.15) * (kill + 1))
            assert server.process is not None
            server.process.kill()  # SIGKILL: no shutdown, no flush beyond what was committed
            server.process.wait(timeout=30)
            pushing.join(timeout=120)
            assert not pushing.is_alive()
            outcome = reports[0]
            assert not isinstance(outcome, BaseException), outcome
            on_server = server_versions(server)
            print(
                f"kill {kill + 1}: pending {pending_before} -> {pusher.sync.status().pending}, "
                f"server holds {on_server[0]} versions, phone saw offline={outcome.offline}"
            )
            assert on_server[0] == on_server[1]
            interrupted += pusher.sync.status().pending > 0
            server.stop()
            server.start()  # the same port and data
            if pusher.sync.status().pending == 0:
                break

        assert interrupted, "no kill landed before the outbox was through; the test proved nothing"
        for _ in range(2):
            for phone in phones:
                report = phone.sync.sync_now()
                assert not report.offline, report.message
                assert report.not_accepted == ()

        versions, distinct = server_versions(server)
        assert versions == distinct
        views = []
        for phone in phones:
            assert phone.sync.status().pending == 0
            record = phone.records.person_record(case_id)
            notes = {c.record_id: c.note for c in record.contacts}
            assert len(record.contacts) == len(notes) == NOTES  # every note, once
            assert notes == saved
            assert record.unreadable == ()
            views.append(
                (
                    [(f.name, f.value, f.current.change_id if f.current else None) for f in record.fields],
                    sorted((c.change_id, c.author.user_id, c.sync_state) for c in record.contacts),
                    [(c.conflict_id, c.earlier.change_id, c.later.change_id) for c in record.open_conflicts],
                )
            )
        assert views[0] == views[1] == views[2]
        assert versions >= NOTES + 1
    finally:
        for phone in phones:
            phone.close()
