"""Liveness, settings safety, the app factory and the development signing key."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi import FastAPI
from pydantic import ValidationError

from shared.protocol import SUPPORTED_PROTOCOL_VERSIONS, Health
from sync_server import create_app
from sync_server.settings import DEVELOPMENT_SECRET, ServerSettings
from tests.server.helpers import Harness, MovableClock, problem
from tests.support.server import TEST_SERVER_SECRET, TestClient, async_server_client, create_test_app, server_client

STRONG_SECRET = "q8Vf2Lw9Zr4Tn7Kb1Xc6Mh3Jd5Pg0Sa8Ye2Uo4Ri6"


def _ed25519_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_healthz(client: TestClient, clock: MovableClock) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    health = Health.model_validate(response.json())
    assert health.status == "ok"
    assert health.protocol_versions == list(SUPPORTED_PROTOCOL_VERSIONS)
    assert abs(health.server_time_ms - clock()) < 60_000


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Gatepost sync server"
    for path in ("/v1/auth/login", "/v1/sync/push", "/v1/sync/pull", "/v1/org/keys", "/v1/invitations"):
        assert path in schema["paths"]


def test_settings_refuse_placeholder_secret_in_production(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="OUTREACH_SERVER_SECRET"):
        ServerSettings(environment="production", data_dir=tmp_path, jwt_private_key_pem=_ed25519_pem())
    with pytest.raises(ValidationError, match="OUTREACH_SERVER_SECRET"):
        ServerSettings(environment="production", server_secret="too-short-1234", jwt_private_key_pem=_ed25519_pem())
    with pytest.raises(ValidationError, match="OUTREACH_SERVER_SECRET"):
        ServerSettings(environment="test", server_secret=DEVELOPMENT_SECRET)
    with pytest.raises(ValidationError, match="OUTREACH_SERVER_SECRET"):
        ServerSettings(
            environment="production", server_secret="change-me-" + "x" * 40, jwt_private_key_pem=_ed25519_pem()
        )


def test_settings_accept_strong_secret_and_need_a_jwt_key_in_production(database_url: str, tmp_path: Path) -> None:
    settings = ServerSettings(
        environment="production",
        server_secret=STRONG_SECRET,
        jwt_private_key_pem=_ed25519_pem(),
        database_url=database_url,
    )
    assert settings.server_secret.get_secret_value() == STRONG_SECRET
    assert settings.resolved_database_url() == database_url
    with pytest.raises(ValidationError, match="OUTREACH_JWT_PRIVATE_KEY_PEM"):
        ServerSettings(environment="production", server_secret=STRONG_SECRET)
    with pytest.raises(ValidationError, match=r"Ed25519|PEM"):
        ServerSettings(environment="production", server_secret=STRONG_SECRET, jwt_private_key_pem="not a key")
    # Development keeps working out of the box.
    assert ServerSettings(environment="development").server_secret.get_secret_value() == DEVELOPMENT_SECRET


def test_settings_from_environment(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_ENVIRONMENT", "test")
    monkeypatch.setenv("OUTREACH_SERVER_SECRET", TEST_SERVER_SECRET)
    monkeypatch.setenv("OUTREACH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OUTREACH_SERVER_PORT", "8123")
    monkeypatch.setenv("OUTREACH_DATABASE_URL", database_url)
    settings = ServerSettings()
    assert settings.server_port == 8123
    assert settings.environment == "test"
    assert settings.resolved_database_url() == database_url
    monkeypatch.delenv("OUTREACH_DATABASE_URL")
    assert ServerSettings().resolved_database_url() == f"sqlite:///{tmp_path / 'server.db'}"


def test_generated_jwt_key_is_private_and_survives_restart(database_url: str, tmp_path: Path) -> None:
    first = create_test_app(tmp_path, database_url)
    key_file = tmp_path / "jwt-ed25519.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with server_client(first) as client:
        org = Harness(first, client).new_org(with_key=False)
    second = create_test_app(tmp_path, database_url)  # a restart: same data_dir
    with server_client(second) as client:
        response = client.get("/v1/sync/pull", headers=org.coordinator.headers)
        assert response.status_code == 200, response.text


def test_configured_jwt_key_is_used(database_url: str, tmp_path: Path) -> None:
    app = create_test_app(tmp_path, database_url, jwt_private_key_pem=_ed25519_pem())
    assert not (tmp_path / "jwt-ed25519.pem").exists()
    with server_client(app) as client:
        assert client.get("/healthz").status_code == 200


def test_factory_migrates_a_new_database_and_has_no_import_side_effects(tmp_path: Path, database_url: str) -> None:
    # database_url is unused on purpose: this test makes its own SQLite database.
    del database_url
    app = create_app(ServerSettings(environment="test", data_dir=tmp_path / "fresh", server_secret=STRONG_SECRET))
    assert (tmp_path / "fresh" / "server.db").exists()
    with server_client(app) as client:
        assert client.get("/healthz").status_code == 200
        problem(client.get("/v1/nothing-here"), 404, "not_found")


def test_async_client_through_asgi_transport(app: FastAPI, harness: Harness) -> None:
    coordinator = harness.new_org(with_key=False).coordinator

    async def run() -> tuple[int, int]:
        async with async_server_client(app) as client:
            health = await client.get("/healthz")
            pulled = await client.get("/v1/sync/pull", headers=coordinator.headers)
            return health.status_code, pulled.status_code

    assert asyncio.run(run()) == (200, 200)
