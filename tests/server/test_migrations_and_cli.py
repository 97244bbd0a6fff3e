"""Alembic migrations match the tables on both databases; the admin CLI works end to end."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import inspect
from typer.testing import CliRunner

from shared.protocol import Role
from sync_server.cli import app as cli
from sync_server.storage.database import alembic_config, make_engine, migrate
from sync_server.storage.tables import SERVER_METADATA
from tests.server.helpers import Harness, unique_email
from tests.support.server import TEST_SERVER_SECRET, TestClient, postgres_database_url

ORG_ID = re.compile(r"Organisation id: ([0-9a-f-]{36})")
CODE = re.compile(r"Invitation code: ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


@contextlib.contextmanager
def _fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with postgres_database_url() as url:
            yield url


def test_migrated_schema_matches_the_tables(app: FastAPI, database_url: str) -> None:
    migrate(database_url)  # a second run is a no-op
    with app.state.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SERVER_METADATA) == []
        assert context.get_current_revision() == "0010"


def test_downgrade_and_upgrade_on_a_fresh_database(database_url: str, tmp_path: Path) -> None:
    with _fresh_database(database_url, tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        try:
            assert {"organisation", "user", "version", "key_grant"} <= set(inspect(engine).get_table_names())
            config = alembic_config(url)
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        finally:
            engine.dispose()
        migrate(url)
        engine = make_engine(url)
        try:
            assert "version" in inspect(engine).get_table_names()
        finally:
            engine.dispose()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "OUTREACH_ENVIRONMENT": "test",
        "OUTREACH_SERVER_SECRET": TEST_SERVER_SECRET,
        "OUTREACH_DATA_DIR": str(tmp_path),
        "OUTREACH_DATABASE_URL": database_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_cli_init_org_and_invite(cli_env: dict[str, str], app: FastAPI, client: TestClient) -> None:
    runner = CliRunner()
    name = f"Gate Outreach {unique_email('org')}"
    email = unique_email("lead")
    first = runner.invoke(cli, ["init-org", name, "--coordinator-email", email])
    assert first.exit_code == 0, first.output
    org_id = ORG_ID.search(first.output)
    code = CODE.search(first.output)
    assert org_id, first.output
    assert code, first.output
    assert "created" in first.output

    again = runner.invoke(cli, ["init-org", name, "--coordinator-email", email])
    assert again.exit_code == 0, again.output
    assert "already exists" in again.output
    assert ORG_ID.search(again.output).group(1) == org_id.group(1)  # type: ignore[union-attr]
    assert CODE.search(again.output).group(1) != code.group(1)  # type: ignore[union-attr]

    invite = runner.invoke(cli, ["invite", "--org", name, "--role", "link_worker", "--email", "worker@example.org"])
    assert invite.exit_code == 0, invite.output
    worker_code = CODE.search(invite.output)
    assert worker_code, invite.output

    harness = Harness(app, client)
    coordinator = harness.register(code.group(1), email, role=Role.COORDINATOR)
    assert coordinator.org_id == org_id.group(1)
    worker = harness.register(worker_code.group(1), "worker@example.org", role=Role.LINK_WORKER)
    assert worker.org_id == org_id.group(1)

    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    unknown = runner.invoke(cli, ["invite", "--org", "No Such Org", "--role", "peer_mentor"])
    assert unknown.exit_code == 1
    assert "no organisation called" in unknown.output
    assert runner.invoke(cli, ["init-org", name, "--coordinator-email", "not-an-email"]).exit_code == 2
    assert runner.invoke(cli, ["invite", "--org", name, "--role", "admin"]).exit_code == 2


def test_cli_refuses_unsafe_configuration(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_ENVIRONMENT", "production")
    monkeypatch.setenv("OUTREACH_SERVER_SECRET", "development-only-secret")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 2
    assert "OUTREACH_SERVER_SECRET" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_cli_serve_runs_uvicorn(cli_env: dict[str, str]) -> None:
    port = _free_port()
    env = {**os.environ, **cli_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_server.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=10)
