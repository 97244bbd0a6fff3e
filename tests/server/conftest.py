"""Fixtures for the sync server tests: every test runs on SQLite and on PostgreSQL.

One database (and one app) per backend serves the whole run; tests isolate themselves by working
in organisations and accounts of their own. A test that needs other settings builds its own app
on the same ``database_url``. If PostgreSQL is unreachable the tests FAIL (they never skip).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.server.helpers import Harness, MovableClock
from tests.support.server import PostgresUnavailable, TestClient, create_test_app, postgres_database_url, server_client


@pytest.fixture(scope="session", params=["sqlite", "postgresql"], ids=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'server.db'}"
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_database_url())
        except PostgresUnavailable as error:
            pytest.fail(f"The server tests need PostgreSQL and cannot reach it: {error}", pytrace=False)
        yield url


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(autouse=True)
def _reset_clock(clock: MovableClock) -> Iterator[None]:
    clock.offset_ms = 0
    yield
    clock.offset_ms = 0


@pytest.fixture(scope="session")
def data_dir(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def app(database_url: str, data_dir: Path, clock: MovableClock) -> FastAPI:
    return create_test_app(data_dir, database_url, clock=clock)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with server_client(app) as test_client:
        yield test_client


@pytest.fixture
def harness(app: FastAPI, client: TestClient) -> Harness:
    return Harness(app, client)


@pytest.fixture
def now_ms() -> int:
    return time.time_ns() // 1_000_000
