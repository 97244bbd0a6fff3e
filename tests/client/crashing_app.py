"""The app in a process of its own, for tests that kill it (``tests/client/test_durability.py``).

python -m tests.client.crashing_app save  DEVICE_DB CASE_ID
    Unlock offline and log contacts one after another, printing ``saved <record id>`` after
    each save returns, until the parent kills the process.

python -m tests.client.crashing_app apply DEVICE_DB SERVER_DIR DATABASE_URL PAGE_LIMIT
    Sync against the real server app (in this process, on the parent's server database) in
    pull pages of PAGE_LIMIT items, and kill itself with SIGKILL in the middle of applying the
    second page: its rows are added and flushed, the transaction is not committed.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx

from outreach_app.services import Gatepost
from outreach_app.services.sync import SyncService
from shared.crypto import FAST_TEST_SCRYPT

PIN = "2468"


def offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no signal", request=request)


def keep_saving(device_db: Path, case_id: str) -> None:
    app = Gatepost.open(device_db, transport=httpx.MockTransport(offline), scrypt_params=FAST_TEST_SCRYPT)
    app.account.unlock(PIN)
    number = 0
    while True:
        record_id = app.records.log_contact(
            case_id,
            occurred_at="2026-11-25T10:30",
            setting="street",
            contact_type="face_to_face",
            note=f"Kept note {number}",
            basis="fact",
            tier="full",
        )
        print(f"saved {record_id}", flush=True)
        number += 1


def die_while_applying(device_db: Path, server_dir: Path, database_url: str, page_limit: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        from tests.support.server import create_test_app

    client = TestClient(create_test_app(server_dir, database_url), base_url="http://gatepost.test")

    def forward(request: httpx.Request) -> httpx.Response:
        url = request.url.copy_set_param("limit", page_limit) if request.url.path == "/v1/sync/pull" else request.url
        reply = client.request(request.method, str(url), headers=dict(request.headers), content=request.read())
        headers = [(k, v) for k, v in reply.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(reply.status_code, headers=headers, content=reply.content)

    pages = {"applied": 0}
    apply_page = SyncService._apply_page

    def apply_then_die(self: SyncService, session: Any, page: Any) -> int:
        new = apply_page(self, session, page)
        pages["applied"] += 1
        if pages["applied"] == 2:
            session.flush()  # the page's rows are in the open transaction
            print(f"dying with {new} new rows unsaved", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return new

    SyncService._apply_page = apply_then_die  # type: ignore[method-assign]
    app = Gatepost.open(device_db, transport=httpx.MockTransport(forward), scrypt_params=FAST_TEST_SCRYPT)
    app.account.unlock(PIN)
    app.sync.sync_now()
    print("sync finished without dying", flush=True)
    sys.exit(3)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "save":
        keep_saving(Path(args[0]), args[1])
    elif mode == "apply":
        die_while_applying(Path(args[0]), Path(args[1]), args[2], int(args[3]))
    else:
        sys.exit(f"unknown mode {mode!r}")
