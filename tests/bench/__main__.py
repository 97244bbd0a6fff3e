"""``make bench`` (``python -m tests.bench``): W1 against PouchDB, W2 and W3 of issue 3.

Prints a table and writes ``bench-results.json`` at the repository root. Everything runs in
temporary folders: real server processes (``tests.e2e.processes.ServerProcess``, SQLite), real
client devices with durable SQLite databases, encryption and auth on. See ``w1``, ``w2``, ``w3``
and ``pouchdb`` for what each workload does. ``--quick`` runs small sizes (a smoke test of the
harness, not figures to quote); ``--only w1,w3`` runs some of the workloads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import pouchdb, w1, w2, w3

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results.json"

TARGETS = {
    "push": 3.0,  # W1 push and pull at least 3x PouchDB's rate in the same run
    "pull": 3.0,
    "noop_pull_ms": 10.0,
    "w2_ratio": 1.3,
    "w3_p95_ms": 250.0,
}


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []
    first = results.get("w1")
    if first:
        pouch_push, pouch_pull = first.get("pouchdb_push_notes_per_s"), first.get("pouchdb_pull_notes_per_s")
        push_ratio = first["push_notes_per_s"] / pouch_push if pouch_push else None
        pull_ratio = first["pull_notes_per_s"] / pouch_pull if pouch_pull else None
        rows += [
            (
                "W1 push, notes/s",
                _num(first["push_notes_per_s"]),
                _num(pouch_push),
                f"{_num(push_ratio, 2)}x (>= 3x)",
                _met(None if push_ratio is None else push_ratio >= TARGETS["push"]),
            ),
            (
                "W1 pull (fresh device), notes/s",
                _num(first["pull_notes_per_s"]),
                _num(pouch_pull),
                f"{_num(pull_ratio, 2)}x (>= 3x)",
                _met(None if pull_ratio is None else pull_ratio >= TARGETS["pull"]),
            ),
            (
                "W1 no-change pull, ms",
                _num(first["noop_pull_ms"], 1),
                _num(first.get("pouchdb_noop_pull_ms"), 1),
                "< 10 ms",
                _met(first["noop_pull_ms"] < TARGETS["noop_pull_ms"]),
            ),
            (
                "W1 no-change pull, CPU ms (client + server)",
                f"{_num(first.get('noop_pull_client_cpu_ms'), 1)} + {_num(first.get('noop_pull_server_cpu_ms'), 1)}",
                "",
                "what it costs without the load",
                "",
            ),
            ("W1 whole sync of the writer, s", _num(first["writer_sync_s"], 2), "", "push + pull of its own echo", ""),
            ("W1 local writes, notes/s", _num(first["local_write_notes_per_s"]), "", "not a target", ""),
        ]
        if first.get("pouchdb_skipped"):
            rows.append(("PouchDB", "", f"not run: {first['pouchdb_skipped']}", "", ""))
    second = results.get("w2")
    if second:
        sizes = [key for key in second if key.isdigit()]
        for size in sizes:
            rows.append(
                (
                    f"W2 pull of 100 new, server holding {int(size):,}, ms",
                    _num(second[size]["pull_ms"], 1),
                    "",
                    f"median of {second['runs']}",
                    "",
                )
            )
        rows.append(
            ("W2 large / small", f"{second['ratio']:.2f}x", "", "<= 1.3x", _met(second["ratio"] <= TARGETS["w2_ratio"]))
        )
    third = results.get("w3")
    if third:
        for kind in ("push", "pull"):
            p95 = third[f"{kind}_p95_ms"]
            rows.append(
                (
                    f"W3 {third['devices']} devices: {kind} p50 / p95, ms",
                    f"{_num(third[f'{kind}_p50_ms'])} / {_num(p95)}",
                    "",
                    "p95 < 250 ms",
                    _met(p95 is not None and p95 < TARGETS["w3_p95_ms"]),
                )
            )
        rows.append(("W3 errors", str(third["errors"]), "", "0", _met(third["errors"] == 0)))
        if third.get("server_cpu_s") is not None:
            rows.append(
                (
                    "W3 CPU s: server + clients (wall)",
                    f"{third['server_cpu_s']:.1f} + {third['clients_cpu_s']:.1f} ({third['wall_s']:.1f})",
                    "",
                    "two cores shared",
                    "",
                )
            )
    header = ("workload", "Gatepost", "PouchDB", "target", "met")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header))]
    lines.append("-|-".join("-" * width for width in widths))
    lines += [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness, not the figures")
    parser.add_argument("--only", default="w1,w2,w3", help="comma-separated workloads (w1, w2, w3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    options = parser.parse_args(argv)
    # The phones here are this process: started the way the app starts (outreach_app.main.run).
    gc.collect()
    gc.freeze()
    chosen = {name.strip() for name in options.only.split(",") if name.strip()}
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "quick": options.quick,
    }
    try:
        if "w1" in chosen:
            notes, people = (1_000, 50) if options.quick else (w1.NOTES, w1.PEOPLE)
            print(f"W1: Gatepost, {notes:,} notes across {people} people...", flush=True)
            first = w1.run(work, notes=notes, people=people)
            print("W1: the same with PouchDB...", flush=True)
            pouch = pouchdb.run(notes, people)
            if "skipped" in pouch:
                first.update(
                    pouchdb_push_notes_per_s=None,
                    pouchdb_pull_notes_per_s=None,
                    pouchdb_noop_pull_ms=None,
                    pouchdb_skipped=pouch["skipped"],
                )
            else:
                first.update(
                    pouchdb_push_notes_per_s=pouch["push_notes_per_s"],
                    pouchdb_pull_notes_per_s=pouch["pull_notes_per_s"],
                    pouchdb_noop_pull_ms=pouch["noop_pull_ms"],
                    pouchdb=pouch,
                )
            results["w1"] = first
            print(table({"w1": first}), flush=True)
        if "w2" in chosen:
            sizes = (1_000, 20_000) if options.quick else w2.SIZES
            print(f"W2: incremental pull of 100 from servers holding {' and '.join(f'{s:,}' for s in sizes)}...")
            results["w2"] = w2.run(work, sizes=sizes, runs=3 if options.quick else w2.RUNS)
            print(table({"w2": results["w2"]}), flush=True)
        if "w3" in chosen:
            devices = 10 if options.quick else w3.DEVICES
            print(f"W3: {devices} devices syncing at once...", flush=True)
            results["w3"] = w3.run(work, devices=devices)
    finally:
        if options.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["duration_s"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(f"Gatepost sync benchmarks, {results['started_at']} ({results['duration_s']:.0f} s)")
    print(results["machine"])
    print()
    print(table(results))
    print()
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
