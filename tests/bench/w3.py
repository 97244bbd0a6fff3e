"""W3: 50 devices syncing at once against one server process.

Each device is a real client (``Gatepost`` with its own durable SQLite database) signed in as the
link worker on a new phone. After a first sync each, the 50 run ``ROUNDS`` rounds together: every
device logs ``NOTES_PER_ROUND`` contacts locally (not timed), and when all have, all 50 call
``sync_now`` at once, which pushes theirs and pulls what the others pushed; the next round starts
when every sync has ended. Every push and pull request is timed where the client makes it
(``SyncApi.push_encoded``/``SyncApi.pull``: the request, the server and parsing the answer; a
sync encodes each push before, while the one before is on its way); p50 and p95 over all of them.
Errors: a sync that raised, reported offline, or had a change refused.

The rounds are fenced so that what is timed is 50 devices syncing at once: on real phones logging
a contact (encryption and a durable local commit, about 9 ms of a phone's CPU) happens on the
phone, but here the 50 phones share the server's two cores, and letting one phone's local writes
run beside another's sync measured the bench machine's contention, not the sync.

The devices run in ``WORKERS`` worker processes (each device a thread of one of them, still a
real client with its own database and connection). Real phones are separate machines; 50
devices as threads of one Python process share one interpreter lock, and they used three to
four times the server's CPU, so a request waited more for its own client than for the server.
The worker processes still share the machine's cores with the server.

The server runs as one uvicorn worker process: it keeps no state in process, so several workers
would be possible, but every push takes the organisation's lock (one writer at a time on SQLite)
and the machine has two cores shared with the clients, so more processes only contend.
"""

from __future__ import annotations

import gc
import multiprocessing
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
WORKERS = 5
ROUNDS = 4
NOTES_PER_ROUND = 5
PEOPLE = 50
_FENCE_TIMEOUT_S = 300


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


def _device_day(
    index: int,
    phone: Gatepost,
    cases: list[str],
    rounds: int,
    go: Any,
    fence: Any,
    errors: list[str],
    lock: threading.Lock,
) -> None:
    try:
        go.wait()
        for round_index in range(rounds):
            fence.wait(timeout=_FENCE_TIMEOUT_S)  # every phone starts its writes after the last syncs
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
            fence.wait(timeout=_FENCE_TIMEOUT_S)  # and all 50 sync at once
            report = phone.sync.sync_now()
            if report.offline or report.not_accepted:
                with lock:
                    errors.append(f"device {index}: {report.message}")
        fence.wait(timeout=_FENCE_TIMEOUT_S)
    except threading.BrokenBarrierError:
        with lock:
            errors.append(f"device {index}: the others did not reach the start of a round in time")
    except Exception as error:  # counted and reported: the point of W3
        with lock:
            errors.append(f"device {index}: {type(error).__name__}: {error}")
        fence.abort()  # the others must not wait for this phone


def _worker(
    devices_dir: str,
    slots: list[tuple[int, str]],
    cases: list[str],
    rounds: int,
    ready: Any,
    go: Any,
    fence: Any,
    results: Any,
) -> None:
    """One worker process: its share of the phones, each on its own thread, started by ``go``."""
    gc.collect()  # started the way the app starts (outreach_app.main.run)
    gc.freeze()
    push_ms: list[float] = []
    pull_ms: list[float] = []
    causes: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    phones = []
    try:
        for index, slot in slots:
            phone = open_worker(Path(devices_dir), slot)
            api = phone._device.api()  # time each request where the client makes it
            api.push_encoded = _timed(api.push_encoded, push_ms, causes, lock)  # type: ignore[method-assign]
            api.pull = _timed(api.pull, pull_ms, causes, lock)  # type: ignore[method-assign]
            phones.append((index, phone))
    except Exception as error:
        errors.append(f"worker could not open its phones: {type(error).__name__}: {error}")
    if len(phones) < len(slots):
        fence.abort()  # the rounds cannot fill up: every phone's wait ends at once, as an error
    ready.put(len(phones))
    cpu = time.process_time()
    threads = [
        threading.Thread(target=_device_day, args=(index, phone, cases, rounds, go, fence, errors, lock))
        for index, phone in phones
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu
    for _, phone in phones:
        phone.close()
    results.put({"push_ms": push_ms, "pull_ms": pull_ms, "causes": causes, "errors": errors, "cpu_s": cpu})


def run(work: Path, *, devices: int = DEVICES, rounds: int = ROUNDS, workers: int = WORKERS) -> dict[str, Any]:
    server = ServerProcess(work / "w3-server", work / "logs" / "w3-server.log").start()
    try:
        devices_dir = work / "w3-devices"
        make_team(server, "Bench W3", devices_dir)
        owner = open_worker(devices_dir)
        cases, _ = write_notes(owner, 0, PEOPLE, prefix="W3 person")
        timed_sync(owner)
        owner.close()
        slots = [(index, f"w3-{index:02d}") for index in range(devices)]
        for _, slot in slots:
            phone = fresh_device(server.url, devices_dir, slot)
            timed_sync(phone)
            phone.close()  # reopened (unlocked with the PIN) by its worker process
        workers = max(1, min(workers, devices))
        context = multiprocessing.get_context("spawn")
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        fence = context.Barrier(devices)  # every phone of every worker process, at each round's fences
        processes = [
            context.Process(
                target=_worker, args=(str(devices_dir), slots[i::workers], cases, rounds, ready, go, fence, results)
            )
            for i in range(workers)
        ]
        for process in processes:
            process.start()
        opened = sum(ready.get(timeout=300) for _ in processes)
        server_cpu = _cpu_s(server)
        started = time.perf_counter()
        go.set()
        gathered = [results.get(timeout=600) for _ in processes]
        wall_s = time.perf_counter() - started
        server_cpu = (_cpu_s(server) - server_cpu) if server_cpu is not None else None
        for process in processes:
            process.join(timeout=60)
    finally:
        server.stop()
    push_ms = [ms for part in gathered for ms in part["push_ms"]]
    pull_ms = [ms for part in gathered for ms in part["pull_ms"]]
    if not push_ms or not pull_ms:  # every round pushes and pulls: nothing timed means the hook missed
        raise RuntimeError(f"W3 timed {len(push_ms)} pushes and {len(pull_ms)} pulls: the timing hook missed them")
    errors = [error for part in gathered for error in part["errors"]]
    if opened < devices:
        errors.append(f"only {opened} of {devices} phones opened")
    return {
        "devices": devices,
        "rounds": rounds,
        "notes_per_round": NOTES_PER_ROUND,
        "server_workers": 1,
        "client_processes": workers,
        "wall_s": wall_s,
        # Where the cores went during the burst: the server process and the client worker processes.
        "server_cpu_s": server_cpu,
        "clients_cpu_s": sum(part["cpu_s"] for part in gathered),
        "pushes": len(push_ms),
        "pulls": len(pull_ms),
        "push_p50_ms": statistics.median(push_ms) if push_ms else None,
        "push_p95_ms": _percentile(push_ms, 0.95) if push_ms else None,
        "pull_p50_ms": statistics.median(pull_ms) if pull_ms else None,
        "pull_p95_ms": _percentile(pull_ms, 0.95) if pull_ms else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "request_failures": [cause for part in gathered for cause in part["causes"]][:5],
    }
