"""Two real server processes on one database hand out gap-free sequence numbers and agree."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.protocol import PROTOCOL_HEADER, Role
from tests.server.helpers import Harness, Member, Org, new_id, person_change
from tests.support.server import TEST_SERVER_SECRET, bootstrap_organisation


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(database_url: str, data_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "OUTREACH_ENVIRONMENT": "test",
        "OUTREACH_SERVER_SECRET": TEST_SERVER_SECRET,
        "OUTREACH_DATA_DIR": str(data_dir),
        "OUTREACH_DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_server.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_server_processes_share_one_database(app: FastAPI, database_url: str, tmp_path: Path) -> None:
    org_id, invitation = bootstrap_organisation(app)  # the admin CLI's job, done in process
    with (
        _server(database_url, tmp_path) as first_url,
        _server(database_url, tmp_path) as second_url,
        httpx.Client(base_url=first_url, headers={PROTOCOL_HEADER: "1"}) as first,
        httpx.Client(base_url=second_url, headers={PROTOCOL_HEADER: "1"}) as second,
    ):
        on_first, on_second = Harness(app, first), Harness(app, second)  # type: ignore[arg-type]
        coordinator = on_first.register(invitation.code, role=Role.COORDINATOR)
        org = Org(org_id=org_id, coordinator=coordinator)
        on_first.setup_org_key(org)
        worker = on_second.register(on_second.invite(coordinator, Role.LINK_WORKER), role=Role.LINK_WORKER)

        def push_some(job: tuple[Harness, Member]) -> list[int]:
            harness, member = job
            seqs: list[int] = []
            for _ in range(5):
                person = new_id()
                batch = [person_change(org, member, person, field) for field in ("name", "phone")]
                seqs += [result.seq or 0 for result in harness.push(member, batch).results]
            return seqs

        jobs = [(on_first, worker), (on_second, worker), (on_first, coordinator), (on_second, coordinator)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            seqs = [seq for part in pool.map(push_some, jobs) for seq in part]
        assert sorted(seqs) == list(range(3, 3 + 4 * 5 * 2))

        seen_by_first = [
            (v.change_id, v.seq) for page in on_first.pull_all(coordinator, limit=9) for v in page.versions
        ]
        seen_by_second = [(v.change_id, v.seq) for page in on_second.pull_all(worker, limit=7) for v in page.versions]
        assert seen_by_first == seen_by_second
        assert [seq for _, seq in seen_by_first] == sorted(seqs)
