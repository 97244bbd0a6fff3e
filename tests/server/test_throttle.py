"""Sign-in throttling: per typed email and per client address, identical for unknown emails, shared
by every server process (the counts are in the database), and lifted when the window passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.crypto import b64encode, random_key
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.server.helpers import Harness, Member, MovableClock, problem, unique_email
from tests.support.server import TestClient, create_test_app, server_client

WINDOW_S = 600


@pytest.fixture
def strict_app(database_url: str, tmp_path: Path, clock: MovableClock) -> FastAPI:
    return create_test_app(
        tmp_path,
        database_url,
        clock=clock,
        sign_in_window_seconds=WINDOW_S,
        sign_in_failures_per_account=3,
        sign_in_failures_per_address=8,
    )


@pytest.fixture
def strict(strict_app: FastAPI) -> Iterator[TestClient]:
    with server_client(strict_app) as client:
        yield client


_opened: list[TestClient] = []


def _client_from(app: FastAPI, address: str) -> TestClient:
    """A phone at ``address``: the server sees the client address of the connection."""
    client = TestClient(app, client=(address, 50000), headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
    _opened.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_phones() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _member(strict_app: FastAPI, strict: TestClient) -> Member:
    return Harness(strict_app, strict).new_org(with_key=False).coordinator


def _attempt(client: TestClient, email: str, auth_key: bytes) -> object:
    return client.post("/v1/auth/login", json={"email": email, "auth_key": b64encode(auth_key), "device_name": "Phone"})


def test_wrong_passwords_lock_the_account_even_for_the_right_one(
    strict_app: FastAPI, strict: TestClient, clock: MovableClock
) -> None:
    member = _member(strict_app, strict)
    phone = _client_from(strict_app, "198.51.100.1")
    for _ in range(3):
        problem(_attempt(phone, member.email, random_key()), 401, "sign_in_failed")
    throttled = _attempt(phone, member.email, member.auth_key)
    body = problem(throttled, 429, "too_many_attempts")
    assert "Too many sign-in attempts" in body.detail
    assert 0 < int(throttled.headers["Retry-After"]) <= WINDOW_S
    # From another address too: it is the account that is protected.
    problem(_attempt(_client_from(strict_app, "198.51.100.2"), member.email, member.auth_key), 429)

    clock.offset_ms = (WINDOW_S + 1) * 1000
    assert _attempt(phone, member.email, member.auth_key).status_code == 200


def test_unknown_emails_are_throttled_identically(strict_app: FastAPI, strict: TestClient) -> None:
    member = _member(strict_app, strict)
    nobody = unique_email("nobody")
    known, unknown = _client_from(strict_app, "198.51.100.3"), _client_from(strict_app, "198.51.100.4")
    for _ in range(3):
        _attempt(known, member.email, random_key())
        _attempt(unknown, nobody, random_key())
    a, b = _attempt(known, member.email, random_key()), _attempt(unknown, nobody, random_key())
    assert a.status_code == b.status_code == 429
    assert a.json() == b.json()
    assert a.headers.keys() == b.headers.keys()


def test_one_address_trying_many_emails_is_stopped(strict_app: FastAPI, strict: TestClient) -> None:
    member = _member(strict_app, strict)
    attacker = _client_from(strict_app, "198.51.100.5")
    for _ in range(8):
        problem(_attempt(attacker, unique_email("guess"), random_key()), 401, "sign_in_failed")
    problem(_attempt(attacker, member.email, member.auth_key), 429, "too_many_attempts")
    # The real worker on their own phone is not locked out by someone else's guessing.
    assert _attempt(_client_from(strict_app, "198.51.100.6"), member.email, member.auth_key).status_code == 200


def test_a_successful_sign_in_clears_the_account_count(strict_app: FastAPI, strict: TestClient) -> None:
    member = _member(strict_app, strict)
    phone = _client_from(strict_app, "198.51.100.7")
    for _ in range(2):
        problem(_attempt(phone, member.email, random_key()), 401)
    assert _attempt(phone, member.email, member.auth_key).status_code == 200
    for _ in range(2):
        problem(_attempt(phone, member.email, random_key()), 401)
    assert _attempt(phone, member.email, member.auth_key).status_code == 200


def test_the_failure_table_names_nobody(strict_app: FastAPI, strict: TestClient) -> None:
    member = _member(strict_app, strict)
    _attempt(_client_from(strict_app, "198.51.100.8"), member.email, random_key())
    with strict_app.state.engine.connect() as connection:
        rows = connection.execute(text("SELECT scope, subject FROM sign_in_failure")).all()
    assert rows
    dump = repr(rows)
    assert member.email not in dump
    assert "198.51.100.8" not in dump
