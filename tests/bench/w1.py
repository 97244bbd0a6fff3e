"""W1: one device pushes 10,000 contact notes (400 characters) across 500 people; a fresh device
pulls them all; then incremental pulls with nothing new. Real server process (uvicorn, SQLite in
WAL with ``synchronous=FULL``), durable SQLite devices, encryption and auth on.

Timed: the push phase of the writer's ``sync_now`` (from its start to the moment it begins to pull),
the fresh device's first ``sync_now`` (almost all of it is the pull), and later ``sync_now`` calls with
nothing new (median). The local writes are timed separately.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from pathlib import Path
from typing import Any

from outreach_app.services import Gatepost, device_store_path
from shared.crypto import FAST_TEST_SCRYPT
from tests.e2e.processes import PASSWORD, PIN, WORKER, ServerProcess, make_team

NOTES = 10_000
PEOPLE = 500
NOTE_CHARS = 400
NOOP_RUNS = 9


def note_text(i: int) -> str:
    base = f"Met at the gate at 07:{i % 60:02d}; talked through housing, benefits and the probation appointment. "
    return (base * (NOTE_CHARS // len(base) + 1))[:NOTE_CHARS]


def open_worker(devices_dir: Path, slot: str = "worker") -> Gatepost:
    device = Gatepost.open(device_store_path(devices_dir, slot), scrypt_params=FAST_TEST_SCRYPT)
    device.account.unlock(PIN)
    return device


def fresh_device(server_url: str, devices_dir: Path, slot: str) -> Gatepost:
    """A new phone for the link worker, signed in with the password."""
    device = Gatepost.open(device_store_path(devices_dir, slot), scrypt_params=FAST_TEST_SCRYPT)
    device.account.sign_in(server_url, WORKER.email, PASSWORD, f"Bench {slot}")
    device.account.set_pin(PIN)
    return device


def write_notes(device: Gatepost, notes: int, people: int, *, prefix: str = "Person") -> tuple[list[str], float]:
    """``people`` people and ``notes`` contacts spread evenly over them; returns (case ids, seconds)."""
    started = time.perf_counter()
    cases = [device.records.add_person({"name": f"{prefix} {i:04d}"}) for i in range(people)]
    when = dt.datetime(2026, 11, 22, 7, 30)
    for i in range(notes):
        device.records.log_contact(
            cases[i % people],
            occurred_at=when,
            setting="prison_gate",
            contact_type="face_to_face",
            note=note_text(i),
            basis="fact",
            tier="full",
        )
    return cases, time.perf_counter() - started


def timed_sync(device: Gatepost) -> tuple[float, float, Any]:
    """``sync_now`` with the moment it starts pulling noted: (push seconds, total seconds, report)."""
    marks: dict[str, float] = {}

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("Fetching changes") and "pull" not in marks:
            marks["pull"] = time.perf_counter()

    started = time.perf_counter()
    report = device.sync.sync_now(progress)
    ended = time.perf_counter()
    assert not report.offline, report.message
    assert not report.not_accepted, report.not_accepted[:3]
    return marks.get("pull", ended) - started, ended - started, report


def _cpu_s(server: ServerProcess) -> float | None:
    """CPU seconds (user + system) the server process has used so far (Linux), else None."""
    try:
        assert server.process is not None
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AssertionError):
        return None


def run(work: Path, *, notes: int = NOTES, people: int = PEOPLE) -> dict[str, Any]:
    server = ServerProcess(work / "w1-server", work / "logs" / "w1-server.log").start()
    try:
        devices = work / "w1-devices"
        make_team(server, "Bench W1", devices)
        writer = open_worker(devices)
        try:
            _, write_s = write_notes(writer, notes, people)
            push_s, writer_sync_s, report = timed_sync(writer)
            assert report.sent >= notes, f"only {report.sent} versions accepted"
        finally:
            writer.close()
        reader = fresh_device(server.url, devices, "fresh")
        try:
            _, pull_s, report = timed_sync(reader)
            assert report.received >= notes, f"the fresh device received {report.received}"
            contacts = sum(len(reader.records.person_record(p.case_id).contacts) for p in reader.records.list_people())
            assert contacts == notes, f"the fresh device shows {contacts} contacts"
            server_cpu, client_cpu = _cpu_s(server), time.process_time()
            noops = [timed_sync(reader)[1] * 1000 for _ in range(NOOP_RUNS)]
            server_cpu = (_cpu_s(server) - server_cpu) if server_cpu is not None else None
            client_cpu = time.process_time() - client_cpu
        finally:
            reader.close()
    finally:
        server.stop()
    return {
        "notes": notes,
        "people": people,
        "local_write_notes_per_s": notes / write_s,
        "push_s": push_s,
        "push_notes_per_s": notes / push_s,
        "writer_sync_s": writer_sync_s,
        "pull_s": pull_s,
        "pull_notes_per_s": notes / pull_s,
        "noop_pull_ms": statistics.median(noops),
        "noop_pull_ms_runs": noops,
        # CPU time per no-change sync: wall time on a loaded machine overstates what the code costs.
        "noop_pull_client_cpu_ms": client_cpu / NOOP_RUNS * 1000,
        "noop_pull_server_cpu_ms": server_cpu / NOOP_RUNS * 1000 if server_cpu is not None else None,
    }
