"""The audit log: what is recorded, who reads it, and ``outreach-server audit verify`` catching an
altered entry, a removed one, and removed newest entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner

from shared.crypto import b64encode, random_key
from shared.kinds import Tier
from shared.protocol import AuditPage, Role
from sync_server.cli import app as cli
from tests.server.helpers import Harness, Member, make_change, problem
from tests.support.server import TEST_SERVER_SECRET, TestClient, create_test_app, postgres_database_url, server_client


def _trail(client: TestClient, member: Member, **params: int) -> AuditPage:
    response = client.get("/v1/audit", params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return AuditPage.model_validate(response.json())


def test_the_trail_records_what_happened_in_plain_facts(harness: Harness, client: TestClient) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    client.post(
        "/v1/auth/login", json={"email": worker.email, "auth_key": b64encode(random_key()), "device_name": "Phone"}
    )
    case_id = str(uuid.uuid4())
    harness.push(
        worker,
        [make_change(org, worker, record_id=case_id, case_id=case_id, kind="person", field="name", tier=Tier.BASIC)],
    )
    harness.pull(worker)
    harness.pull(worker, since=10**6)  # delivers nothing: not an access worth recording
    client.post(f"/v1/devices/{worker.device_id}/revoke", headers=org.coordinator.headers)

    entries = _trail(client, org.coordinator).entries
    actions = [entry.action for entry in reversed(entries)]
    assert actions == [
        "organisation_created",
        "invitation_created",  # the first coordinator's, by the server admin
        "registered",
        "organisation_key_set_up",
        "invitation_created",
        "registered",
        "sign_in_failed",
        "pushed",
        "pulled",
        "device_signed_out",
    ]
    by_action = {entry.action: entry for entry in entries}
    worker_name = worker.email.split("@")[0]
    assert by_action["pushed"].actor_name == worker_name
    assert by_action["pushed"].device_name == "Phone"
    assert by_action["pushed"].details == {"accepted": 1, "duplicate": 0, "rejected": 0, "key_grants": 0}
    assert by_action["pulled"].details["versions"] >= 1
    assert by_action["sign_in_failed"].actor_name == worker_name
    assert by_action["device_signed_out"].target_device_name == "Phone"
    positions = [entry.position for entry in entries]
    assert positions == sorted(positions, reverse=True)


def test_only_coordinators_read_their_own_organisations_trail(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    other = harness.new_org(with_key=False)
    problem(client.get("/v1/audit", headers=worker.headers), 403, "coordinators_only")
    assert {entry.actor_name for entry in _trail(client, other.coordinator).entries}.isdisjoint(
        {worker.email.split("@")[0]}
    )
    page = _trail(client, org.coordinator, limit=2)
    assert len(page.entries) == 2
    assert page.next_before is not None
    older = _trail(client, org.coordinator, before=page.next_before, limit=50)
    assert older.entries
    assert older.entries[0].position < page.entries[-1].position
    problem(client.get("/v1/audit", params={"limit": 0}, headers=org.coordinator.headers), 422)


@contextlib.contextmanager
def _fresh(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        with postgres_database_url("gatepost_audit") as url:
            yield url


@pytest.fixture
def fresh_app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    with _fresh(database_url, tmp_path) as url:
        for name, value in {
            "OUTREACH_ENVIRONMENT": "test",
            "OUTREACH_SERVER_SECRET": TEST_SERVER_SECRET,
            "OUTREACH_DATA_DIR": str(tmp_path),
            "OUTREACH_DATABASE_URL": url,
        }.items():
            monkeypatch.setenv(name, value)
        app = create_test_app(tmp_path, url)
        with server_client(app) as client:
            harness = Harness(app, client)
            org = harness.new_org()
            worker = harness.join(org, Role.LINK_WORKER)
            case_id = str(uuid.uuid4())
            for field in ("name", "phone", "establishment"):
                harness.push(
                    worker,
                    [
                        make_change(
                            org,
                            worker,
                            record_id=case_id,
                            case_id=case_id,
                            kind="person",
                            field=field,
                            tier=Tier.BASIC if field == "name" else Tier.FULL,
                        )
                    ],
                )
            harness.pull(worker)
        yield app
        app.state.engine.dispose()


def _verify() -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify"])
    return result.exit_code, result.output


def _sql(app: FastAPI, statement: str) -> None:
    with app.state.engine.begin() as connection:
        connection.execute(text(statement))


def test_verify_passes_an_untouched_log(fresh_app: FastAPI) -> None:
    code, output = _verify()
    assert code == 0, output
    assert "problems=0 intact" in output


def test_verify_catches_an_altered_entry(fresh_app: FastAPI) -> None:
    first_push = "SELECT min(position) FROM audit_entry WHERE action = 'pushed'"
    _sql(fresh_app, f"UPDATE audit_entry SET details = '{{}}' WHERE action = 'pushed' AND position = ({first_push})")
    code, output = _verify()
    assert code == 1
    assert "was altered" in output


def test_verify_catches_a_removed_entry(fresh_app: FastAPI) -> None:
    _sql(fresh_app, "DELETE FROM audit_entry WHERE action = 'invitation_created'")
    code, output = _verify()
    assert code == 1
    assert "was removed" in output


def test_verify_catches_removed_newest_entries(fresh_app: FastAPI) -> None:
    _sql(fresh_app, "DELETE FROM audit_entry WHERE action = 'pulled'")
    code, output = _verify()
    assert code == 1
    assert "the newest entries were removed" in output


def test_verify_catches_a_consistently_rewritten_entry_without_the_server_secret(fresh_app: FastAPI) -> None:
    # Someone with the database but not the server secret rewrites the newest entry and makes the
    # chain link up again (new hash in the entry and in the head): the keyed hash still gives it away.
    with fresh_app.state.engine.begin() as connection:
        chain, position = connection.execute(
            text("SELECT chain, max(position) FROM audit_entry WHERE chain <> 'server' GROUP BY chain")
        ).one()
        forged = hashlib.sha256(b"forged").hexdigest()
        connection.execute(
            text("UPDATE audit_entry SET action = 'signed_in', entry_hash = :h WHERE chain = :c AND position = :p"),
            {"h": forged, "c": chain, "p": position},
        )
        connection.execute(text("UPDATE audit_head SET entry_hash = :h WHERE chain = :c"), {"h": forged, "c": chain})
    code, output = _verify()
    assert code == 1
    assert f"entry {position} was altered" in output
    assert "newest entries were removed" not in output
