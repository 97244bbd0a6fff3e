"""Devices against the real sync server, in process, on SQLite and on PostgreSQL.

The server is the real FastAPI app (``tests.support.server.create_test_app``); the ``server``
fixture runs every test twice, once on SQLite and once on PostgreSQL (one database for the run,
emptied before each test; the test FAILS, never skips, when PostgreSQL is unreachable). Each device is a
``Gatepost`` whose ``httpx`` transport is a ``Network``: an ``httpx.MockTransport`` that forwards
each request to the app through Starlette's ``TestClient`` (public API; it runs the ASGI app
synchronously), unless the test has cut the network (``httpx.ConnectError``) or asked it to lose
the reply after the server has committed (``httpx.ReadError``). Mocks stop at that network edge.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from outreach_app.services import Gatepost
from shared.crypto import FAST_TEST_SCRYPT
from shared.protocol import Role

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx is what the project uses.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from tests.support.server import (
        PostgresUnavailable,
        bootstrap_organisation,
        create_test_app,
        invite_member,
        postgres_database_url,
    )

SERVER_URL = "https://gatepost.test"
PASSWORD = "correct horse battery"
PIN = "2468"


class InProcessServer:
    """The server app behind a synchronous ``TestClient``; ``send`` takes and returns httpx messages."""

    def __init__(
        self, tmp_path: Path, database_url: str | None = None, *, base_clock: Callable[[], int] | None = None
    ) -> None:
        self.data_dir = tmp_path
        self.database_url = database_url  # None: SQLite in ``data_dir``
        # Tests move the server's clock forward (expired sessions) by raising this.
        self.clock_offset_ms = 0
        # The time the offset is added to: the system clock, or a test's own (the fault campaign's).
        self.base_clock = base_clock or system_ms
        self.app = create_test_app(tmp_path, database_url, clock=self.now_ms)
        self.client = TestClient(self.app, base_url=SERVER_URL, raise_server_exceptions=True)
        self.client.__enter__()
        self.org_id, self.coordinator_invitation = bootstrap_organisation(self.app, "Test Outreach")

    def now_ms(self) -> int:
        return self.base_clock() + self.clock_offset_ms

    def send(self, request: httpx.Request) -> httpx.Response:
        reply = self.client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        headers = [(k, v) for k, v in reply.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(reply.status_code, headers=headers, content=reply.content)

    def invite(self, role: Role, email: str | None = None) -> str:
        return invite_member(self.app, self.org_id, role, email).code

    def count(self, table: str) -> int:
        """Rows in one of the server's tables (``version``, ``key_grant``)."""
        assert table in ("version", "key_grant")
        with self.app.state.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def rows_as_text(self) -> str:
        """Every row of every server table, as text (what a copy of the database would hold)."""
        with self.app.state.engine.connect() as connection:
            names = inspect(connection).get_table_names()
            return "\n".join(
                repr(tuple(row)) for name in names for row in connection.execute(text(f'SELECT * FROM "{name}"'))
            )

    @property
    def backend(self) -> str:
        return str(self.app.state.engine.dialect.name)

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def system_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Network:
    """One device's connection to the server, with faults a test can switch on."""

    server: InProcessServer
    down: bool = False
    # Paths whose next reply is lost after the server has handled the request.
    lose_reply_to: list[str] = field(default_factory=list)
    # Path -> how many more requests to it get through before the network goes down.
    cut_after: dict[str, int] = field(default_factory=dict)
    # Ask for pull pages of at most this many items (to test what happens between pages).
    pull_limit: int | None = None
    requests: list[str] = field(default_factory=list)
    request_bytes: list[int] = field(default_factory=list)
    # The most requests this device ever had on their way at once (sync pipelines its work, never
    # its requests: the server must see one push after another, in order).
    most_at_once: int = 0
    _at_once: int = 0
    _counting: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._counting:
            self._at_once += 1
            self.most_at_once = max(self.most_at_once, self._at_once)
        try:
            return self._handle(request)
        finally:
            with self._counting:
                self._at_once -= 1

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        self.request_bytes.append(len(request.read()))
        path = request.url.path
        if path in self.cut_after:
            self.cut_after[path] -= 1
            if self.cut_after[path] < 0:
                del self.cut_after[path]
                self.down = True
        if self.down:
            raise httpx.ConnectError("server unreachable", request=request)
        if self.pull_limit is not None and path == "/v1/sync/pull":
            request = httpx.Request(
                request.method, request.url.copy_set_param("limit", self.pull_limit), headers=request.headers
            )
        response = self.server.send(request)
        if request.url.path in self.lose_reply_to:
            self.lose_reply_to.remove(request.url.path)
            raise httpx.ReadError("connection lost before the reply arrived", request=request)
        return response

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@dataclass
class TestDevice:
    """A phone: its ``Gatepost``, its network and where its database is."""

    __test__ = False

    app: Gatepost
    network: Network
    path: Path
    email: str
    display_name: str
    now_ms: Callable[[], int]

    def reopen(self) -> TestDevice:
        self.app.close()
        self.app = Gatepost.open(
            self.path, transport=self.network.transport, now_ms=self.now_ms, scrypt_params=FAST_TEST_SCRYPT
        )
        return self


class Phones:
    """Makes devices for a test and closes them afterwards."""

    def __init__(self, server: InProcessServer, root: Path) -> None:
        self.server = server
        self.root = root
        self.opened: list[TestDevice] = []

    def new(self, slot: str, email: str, display_name: str, now_ms: Callable[[], int] | None = None) -> TestDevice:
        clock = now_ms or system_ms
        network = Network(self.server)
        path = self.root / slot / "gatepost.sqlite"
        app = Gatepost.open(path, transport=network.transport, now_ms=clock, scrypt_params=FAST_TEST_SCRYPT)
        device = TestDevice(app, network, path, email, display_name, clock)
        self.opened.append(device)
        return device

    def register(
        self,
        slot: str,
        role: Role,
        email: str,
        display_name: str,
        *,
        code: str | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> TestDevice:
        """A new phone whose user accepts an invitation (a fresh one for ``role`` unless ``code``) and sets a PIN."""
        device = self.new(slot, email, display_name, now_ms)
        invitation = code or self.server.invite(role, email)
        device.app.account.register(SERVER_URL, invitation, email, PASSWORD, display_name, f"{display_name}'s phone")
        device.app.account.set_pin(PIN)
        return device

    def close(self) -> None:
        for device in self.opened:
            device.app.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One PostgreSQL database for the run; each test empties it first (faster than a new one)."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_database_url("gatepost_client"))
        except PostgresUnavailable as error:
            pytest.fail(f"The client sync tests need PostgreSQL and cannot reach it: {error}", pytrace=False)
        yield url


def empty_database(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            tables = [name for name in inspect(connection).get_table_names() if name != "alembic_version"]
            if tables:
                listed = ", ".join(f'"{name}"' for name in tables)
                connection.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessServer]:
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        empty_database(database_url)
    running = InProcessServer(tmp_path / "server", database_url)
    yield running
    running.close()


@pytest.fixture
def phones(server: InProcessServer, tmp_path: Path) -> Iterator[Phones]:
    made = Phones(server, tmp_path / "devices")
    yield made
    made.close()


@dataclass
class Team:
    coordinator: TestDevice
    worker: TestDevice


@pytest.fixture
def team(server: InProcessServer, phones: Phones) -> Team:
    """A coordinator and a link worker who both hold the organisation key."""
    coordinator = phones.register(
        "coordinator",
        Role.COORDINATOR,
        "coordinator@example.org",
        "Priya Coordinator",
        code=server.coordinator_invitation.code,
    )
    worker = phones.register("worker", Role.LINK_WORKER, "amira@example.org", "Amira Link")
    worker.app.sync.sync_now()  # the worker is now a member awaiting the key
    report = coordinator.app.sync.sync_now()
    assert report.members_given_key == 1
    worker.app.sync.sync_now()
    assert worker.app.account.profile().has_organisation_key
    return Team(coordinator, worker)
