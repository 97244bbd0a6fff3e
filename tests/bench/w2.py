"""W2: an incremental pull of 100 new changes from a server holding 10,000 versus 1,000,000 versions.

Seeding a million versions through the API would take far too long, so the server's own SQLite
database is filled directly with one bulk SQL insert while the server process is stopped
(``seed_versions``): person-field versions of 1,000 seeded people in the bench organisation, with
ciphertexts of realistic length, sequence numbers continuing the organisation's and its
``last_seq`` moved past them, as if its members had written them. Both devices (the
coordinator's, which reads, and the link worker's, which writes) are then placed after them (their
pull cursor set to ``last_seq``), as devices that have already received them. Each measured run:
the link worker's device logs 100 contacts and pushes them through the real client; the
coordinator's device then syncs, and its ``sync_now`` is timed (the 100 versions arrive in one
page). Median of ``RUNS`` runs for each size, the same devices, server restarted after seeding.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from outreach_app.services import Gatepost
from outreach_app.storage import LocalStore, StateKey
from tests.bench.w1 import open_worker, timed_sync, write_notes
from tests.e2e.processes import ServerProcess, make_team

SIZES = (10_000, 1_000_000)
NEW_CHANGES = 100
RUNS = 7
SEED_PEOPLE = 1_000
SEED_CIPHERTEXT_CHARS = 600  # a 400-character note with its metadata, sealed and in base64


def seed_versions(database: Path, until_total: int) -> int:
    """Add versions to the bench organisation until the server holds ``until_total``; returns how many."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db, db:
        # A bulk load with the server stopped: no WAL if it can be turned off (it would hold a
        # second copy until a checkpoint), no fsync, a large page cache. The server turns WAL on
        # again when it starts.
        with contextlib.suppress(sqlite3.OperationalError):
            db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-500000")
        (existing,) = db.execute("SELECT count(*) FROM version").fetchone()
        missing = until_total - existing
        if missing <= 0:
            return 0
        org_id, last_seq = db.execute("SELECT id, last_seq FROM organisation").fetchone()
        user_id, device_id = db.execute(
            "SELECT user.id, device.id FROM user JOIN device ON device.user_id = user.id "
            "WHERE user.org_id = ? AND user.role = 'link_worker' LIMIT 1",
            (org_id,),
        ).fetchone()
        (seeded_before,) = db.execute(
            "SELECT count(*) FROM record WHERE kind = 'person' AND record_id LIKE 'bbbbbbbb-%'"
        ).fetchone()
        people = [f"bbbbbbbb-0000-7000-8000-{i:012x}" for i in range(SEED_PEOPLE)]
        if not seeded_before:
            db.executemany(
                "INSERT INTO record (record_id, org_id, case_id, kind, created_by_user_id) "
                "VALUES (?, ?, ?, 'person', ?)",
                [(person, org_id, person, user_id) for person in people],
            )
        ciphertext = base64.urlsafe_b64encode(os.urandom(SEED_CIPHERTEXT_CHARS * 3 // 4)).decode().rstrip("=")
        nonce = base64.urlsafe_b64encode(os.urandom(12)).decode()
        now_ms = int(time.time() * 1000)
        wall = now_ms - 10**9

        def rows(start: int, count: int) -> Any:
            for i in range(start, start + count):
                person = people[i % SEED_PEOPLE]
                yield (
                    f"cccccccc-{i >> 48 & 0xFFFF:04x}-7000-8000-{i & 0xFFFFFFFFFFFF:012x}",
                    last_seq + 1 + i - start,
                    org_id,
                    person,
                    person,
                    "risk_summary",
                    f"case:{person}:full:v1",
                    f"{wall + i:015d}.000000.{device_id}",
                    user_id,
                    device_id,
                    nonce,
                    ciphertext,
                    hashlib.md5(str(i).encode()).hexdigest(),  # an opaque tag, not security
                    hashlib.sha256(str(i).encode()).hexdigest(),
                    now_ms,
                )

        (offset,) = db.execute("SELECT count(*) FROM version WHERE change_id LIKE 'cccccccc-%'").fetchone()
        db.executemany(
            "INSERT INTO version (change_id, seq, org_id, record_id, case_id, kind, field, tier, key_id, hlc, "
            "base_hlc, author_user_id, author_device_id, nonce, ciphertext, tag, amends, settles, content_hash, "
            "received_at_ms) VALUES (?, ?, ?, ?, ?, 'person', ?, 'full', ?, ?, NULL, ?, ?, ?, ?, ?, NULL, '[]', ?, ?)",
            rows(offset, missing),
        )
        db.execute("UPDATE organisation SET last_seq = ? WHERE id = ?", (last_seq + missing, org_id))
    return missing


def _last_seq(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as db:
        (last_seq,) = db.execute("SELECT last_seq FROM organisation").fetchone()
        return int(last_seq)


def _place_after(device: Gatepost, seq: int) -> None:
    """A device as one that has already received everything up to ``seq``."""
    with device._device.store.write() as session:  # a benchmark's setup, documented above
        LocalStore.put(session, {StateKey.PULL_CURSOR: seq})


def run(work: Path, *, sizes: tuple[int, ...] = SIZES, runs: int = RUNS) -> dict[str, Any]:
    server = ServerProcess(work / "w2-server", work / "logs" / "w2-server.log").start()
    database = server.data_dir / "server.db"
    devices = work / "w2-devices"
    team = make_team(server, "Bench W2", devices)
    results: dict[str, Any] = {"new_changes": NEW_CHANGES, "runs": runs, "seed_s": {}}
    try:
        writer = open_worker(devices)
        cases, _ = write_notes(writer, 0, 1, prefix="W2 person")
        case_id = cases[0]
        timed_sync(writer)
        writer.close()
        for size in sizes:
            server.stop()
            started = time.perf_counter()
            seed_versions(database, size)
            results["seed_s"][str(size)] = time.perf_counter() - started
            server.start()
            reader = team.coordinator_device()
            writer = open_worker(devices)
            try:
                # Both devices as ones that have already received the seeded versions; then a first
                # sync each after the restart (session refresh), not measured.
                last_seq = _last_seq(database)
                _place_after(reader, last_seq)
                _place_after(writer, last_seq)
                timed_sync(reader)
                timed_sync(writer)
                timings = []
                for run_index in range(runs):
                    for i in range(NEW_CHANGES):
                        writer.records.log_contact(
                            case_id,
                            occurred_at="2026-11-22T08:00",
                            setting="street",
                            contact_type="face_to_face",
                            note=f"W2 run {run_index} note {i}",
                            basis="fact",
                            tier="full",
                        )
                    _, _, sent = timed_sync(writer)
                    assert sent.sent == NEW_CHANGES, sent
                    _, seconds, report = timed_sync(reader)
                    assert report.received == NEW_CHANGES, report
                    timings.append(seconds * 1000)
            finally:
                reader.close()
                writer.close()
            with contextlib.closing(sqlite3.connect(database)) as db:
                (held,) = db.execute("SELECT count(*) FROM version").fetchone()
            results[str(size)] = {"versions_held": held, "pull_ms": statistics.median(timings), "pull_ms_runs": timings}
    finally:
        server.stop()
    small, large = (results[str(size)]["pull_ms"] for size in (sizes[0], sizes[-1]))
    results["ratio"] = large / small
    return results
