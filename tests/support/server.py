"""Run the real sync server in tests.

Settings and databases::

    from tests.support.server import server_settings, postgres_database_url, create_test_app

    settings = server_settings(tmp_path)                      # SQLite in tmp_path, environment "test"
    with postgres_database_url() as url:                      # a fresh PostgreSQL database, dropped after
        settings = server_settings(tmp_path, database_url=url)

Clients. ``httpx.ASGITransport`` is async only, so:

- synchronous tests: ``fastapi.testclient.TestClient`` (an ``httpx.Client`` subclass; pass it
  wherever an ``httpx.Client`` is expected)::

      with server_client(app) as client:                    # runs the app's lifespan
          client.get("/healthz")

- async tests: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=...)``,
  see ``async_server_client``.

Organisations are created by the server admin (CLI), not through the API; ``bootstrap_organisation``
and ``invite_member`` do the same in process.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from psycopg import sql
from sqlmodel import Session

from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, Invitation, Role
from sync_server.app import create_app
from sync_server.context import ServerContext
from sync_server.services import organisation
from sync_server.settings import ServerSettings

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx is what the project uses.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

__all__ = [
    "POSTGRES_ADMIN_URL",
    "TEST_SERVER_SECRET",
    "PostgresUnavailable",
    "TestClient",
    "async_server_client",
    "bootstrap_organisation",
    "create_test_app",
    "invite_member",
    "postgres_database_url",
    "server_client",
    "server_settings",
]

# The machine's PostgreSQL: trust auth, user postgres, database test.
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
_SQLALCHEMY_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
TEST_SERVER_SECRET = "test-server-secret-0123456789abcdef0123456789"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL at 127.0.0.1:5432 could not be reached."""


def server_settings(tmp_path: Path, database_url: str | None = None, **overrides: Any) -> ServerSettings:
    """Settings for a test server: environment "test", data in ``tmp_path``, a strong test secret.

    Without ``database_url`` the database is SQLite at ``tmp_path/server.db``. The JWT key is
    generated into ``tmp_path`` on first use.
    """
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": tmp_path,
        "database_url": database_url,
        "server_secret": TEST_SERVER_SECRET,
    }
    values.update(overrides)
    # Keyword arguments win over OUTREACH_* variables in the environment.
    return ServerSettings(**values)


def create_test_app(
    tmp_path: Path, database_url: str | None = None, *, clock: Callable[[], int] | None = None, **overrides: Any
) -> FastAPI:
    """``create_app(server_settings(...))``: migrated database, ready to serve."""
    return create_app(server_settings(tmp_path, database_url, **overrides), clock=clock)


@contextlib.contextmanager
def postgres_database_url(prefix: str = "gatepost_test") -> Iterator[str]:
    """A freshly created, uniquely named PostgreSQL database (SQLAlchemy URL); dropped afterwards.

    Raises ``PostgresUnavailable`` (with how to start it) when the server is not reachable.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise PostgresUnavailable(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}). Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from error
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield _SQLALCHEMY_URL.format(name=name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def server_client(app: FastAPI, *, protocol_header: bool = True) -> Iterator[TestClient]:
    """A synchronous client for ``app`` (runs its lifespan). Server exceptions are raised, not hidden."""
    headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)} if protocol_header else {}
    with TestClient(app, headers=headers, raise_server_exceptions=True) as client:
        yield client


@contextlib.asynccontextmanager
async def async_server_client(app: FastAPI, *, protocol_header: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """An async client for ``app`` through ``httpx.ASGITransport`` (does not run the lifespan)."""
    headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)} if protocol_header else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as client:
        yield client


def _context(app: FastAPI) -> ServerContext:
    context: ServerContext = app.state.context
    return context


def bootstrap_organisation(
    app: FastAPI, name: str | None = None, coordinator_email: str | None = None
) -> tuple[str, Invitation]:
    """Create an organisation (what ``outreach-server init-org`` does): its id and a coordinator invitation.

    ``name`` defaults to a unique name (an existing name is reused, with a fresh invitation); the
    invitation is bound to ``coordinator_email`` if given, else anyone with the code may use it.
    """
    org_name = name or f"Test organisation {secrets.token_hex(4)}"
    with Session(app.state.engine, expire_on_commit=False) as session:
        org, invitation, _created = organisation.init_organisation(_context(app), session, org_name, coordinator_email)
        return org.id, invitation


def invite_member(app: FastAPI, org_id: str, role: Role, email: str | None = None) -> Invitation:
    """A new invitation to ``org_id`` (what ``outreach-server invite`` does)."""
    with Session(app.state.engine, expire_on_commit=False) as session:
        invitation = organisation.create_invitation(
            _context(app), session, org_id=org_id, role=role, email=email, created_by=None
        )
        session.commit()
        return invitation
