"""W3: 50 devices syncing at once against one server process.

Each device is a real client (``Gatepost`` with its own durable SQLite database) signed in as the
link worker on a new phone. After a first sync each, all 50 threads start together (a barrier) and
each runs ``ROUNDS`` rounds of: log ``NOTES_PER_ROUND`` contacts locally (not timed), then
``sync_now``, which pushes them and pulls what the others pushed. Every push and pull request is
timed where the client makes it (``SyncApi.push``/``SyncApi.pull``, JSON encoding and parsing
included); p50 and p95 over all of them. Errors: a sync that raised, reported offline, or had a
change refused.

The server runs as one uvicorn worker process: it keeps no state in process, so several workers
would be possible, but every push takes the organisation's lock (one writer at a time on SQLite)
and the machine has two cores shared with the client threads, so more processes only contend.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from outreach_app.services import Gatepost
from tests.bench.w1 import _cpu_s, fresh_device, note_text, open_worker, timed_sync, write_notes
from tests.e2e.processes import ServerProcess, make_team

DEVICES = 50
ROUNDS = 4
NOTES_PER_ROUND = 5
PEOPLE = 50


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _timed(
    method: Callable[..., Any], into: list[float], causes: list[str], lock: threading.Lock
) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        except Exception as error:
            with lock:
                causes.append(
                    f"{method.__name__}: {type(error.__cause__ or error).__name__}: {error.__cause__ or error}"
                )
            raise
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                into.append(elapsed)

    return wrapper


def run(work: Path, *, devices: int = DEVICES, rounds: int = ROUNDS) -> dict[str, Any]:
    server = ServerProcess(work / "w3-server", work / "logs" / "w3-server.log").start()
    try:
        devices_dir = work / "w3-devices"
        make_team(server, "Bench W3", devices_dir)
        owner = open_worker(devices_dir)
        cases, _ = write_notes(owner, 0, PEOPLE, prefix="W3 person")
        timed_sync(owner)
        owner.close()
        phones: list[Gatepost] = []
        for index in range(devices):
            phone = fresh_device(server.url, devices_dir, f"w3-{index:02d}")
            timed_sync(phone)
            phones.append(phone)
        push_ms: list[float] = []
        pull_ms: list[float] = []
        lock = threading.Lock()
        causes: list[str] = []
        for phone in phones:
            api = phone._device.api()  # time each request where the client makes it
            api.push = _timed(api.push, push_ms, causes, lock)  # type: ignore[method-assign]
            api.pull = _timed(api.pull, pull_ms, causes, lock)  # type: ignore[method-assign]
        errors: list[str] = []
        barrier = threading.Barrier(devices)

        def device_day(index: int, phone: Gatepost) -> None:
            try:
                barrier.wait()
                for round_index in range(rounds):
                    for i in range(NOTES_PER_ROUND):
                        phone.records.log_contact(
                            cases[(index + i) % len(cases)],
                            occurred_at="2026-11-22T09:00",
                            setting="street",
                            contact_type="face_to_face",
                            note=note_text(index * 100 + round_index * 10 + i),
                            basis="fact",
                            tier="full",
                        )
                    report = phone.sync.sync_now()
                    if report.offline or report.not_accepted:
                        with lock:
                            errors.append(f"device {index}: {report.message}")
            except Exception as error:  # counted and reported: the point of W3
                with lock:
                    errors.append(f"device {index}: {type(error).__name__}: {error}")

        server_cpu, client_cpu = _cpu_s(server), time.process_time()
        started = time.perf_counter()
        threads = [threading.Thread(target=device_day, args=(i, phone)) for i, phone in enumerate(phones)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_s = time.perf_counter() - started
        server_cpu = (_cpu_s(server) - server_cpu) if server_cpu is not None else None
        client_cpu = time.process_time() - client_cpu
        for phone in phones:
            phone.close()
    finally:
        server.stop()
    return {
        "devices": devices,
        "rounds": rounds,
        "notes_per_round": NOTES_PER_ROUND,
        "server_workers": 1,
        "wall_s": wall_s,
        # Where the two cores went during the burst: the server process and the 50 client devices.
        "server_cpu_s": server_cpu,
        "clients_cpu_s": client_cpu,
        "pushes": len(push_ms),
        "pulls": len(pull_ms),
        "push_p50_ms": statistics.median(push_ms) if push_ms else None,
        "push_p95_ms": _percentile(push_ms, 0.95) if push_ms else None,
        "pull_p50_ms": statistics.median(pull_ms) if pull_ms else None,
        "pull_p95_ms": _percentile(pull_ms, 0.95) if pull_ms else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "request_failures": causes[:5],
    }
