"""The W1 workload replicated with PouchDB (``pouchdb_w1.js``), for the side-by-side ratio.

When Node and npm are present, the packages are installed into a temporary folder (never into the
repository) and the script runs twice: with PouchDB's default replication batch size (100) and
with 500 (the size of a Gatepost push and pull page); the faster of the two counts for each
direction, so PouchDB is compared at its best. The server is express-pouchdb with the memory
adapter, as the issue asks: it never writes to disk, while the Gatepost server and devices write
durable SQLite (``synchronous=FULL``), so the comparison favours PouchDB.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("pouchdb_w1.js")
PACKAGES = (
    "pouchdb-core",
    "pouchdb-adapter-memory",
    "pouchdb-adapter-http",
    "pouchdb-replication",
    "express-pouchdb",
    "express@4",
)
BATCH_SIZES = (100, 500)


def run(notes: int, people: int) -> dict[str, Any]:
    """The PouchDB figures, or ``{"skipped": why}`` when Node or the packages are not available."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return {"skipped": "Node.js and npm are not installed"}
    with tempfile.TemporaryDirectory(prefix="gatepost-pouchdb-") as folder:
        install = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", folder, *PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if install.returncode != 0:
            return {"skipped": f"npm install failed: {install.stderr.strip()[-300:]}"}
        runs = []
        for batch_size in BATCH_SIZES:
            result = subprocess.run(
                [node, str(SCRIPT), str(Path(folder) / "node_modules"), str(notes), str(people), str(batch_size)],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                return {"skipped": f"the PouchDB script failed: {result.stderr.strip()[-300:]}"}
            runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    push = max(runs, key=lambda run: run["push_notes_per_s"])
    pull = max(runs, key=lambda run: run["pull_notes_per_s"])
    return {
        "node": runs[0]["node"],
        "push_notes_per_s": push["push_notes_per_s"],
        "push_batch_size": push["batch_size"],
        "pull_notes_per_s": pull["pull_notes_per_s"],
        "pull_batch_size": pull["batch_size"],
        "noop_pull_ms": min(run["noop_pull_ms"] for run in runs),
        "runs": runs,
    }
