"""Access-token attacks: each forged, stale or misdirected token gets a 401 problem."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI

from tests.server.helpers import Harness, Member, MovableClock, bearer, problem
from tests.support.server import TestClient


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda text: text + "=" * (-len(text) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def _claims(member: Member) -> dict[str, Any]:
    return _segments(member.grant.access_token)[1]


def _signing_key(app: FastAPI) -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = app.state.tokens._private_key
    return key


@pytest.fixture
def member(harness: Harness) -> Member:
    return harness.new_org(with_key=False).coordinator


def _alg_none(app: FastAPI, member: Member) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(member)).encode())}."


def _hs256_with_public_key(app: FastAPI, member: Member) -> str:
    public_pem = _signing_key(app).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(member)).encode())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def _hs256_with_raw_public_key(app: FastAPI, member: Member) -> str:
    raw = _signing_key(app).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return jwt.encode(_claims(member), raw, algorithm="HS256")


def _wrong_key(app: FastAPI, member: Member) -> str:
    return jwt.encode(_claims(member), Ed25519PrivateKey.generate(), algorithm="EdDSA")


def _resigned(**changes: Any) -> Callable[[FastAPI, Member], str]:
    def make(app: FastAPI, member: Member) -> str:
        claims = _claims(member)
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value(claims) if callable(value) else value
        return jwt.encode(claims, _signing_key(app), algorithm="EdDSA")

    return make


def _tampered(app: FastAPI, member: Member) -> str:
    header, _payload, signature = member.grant.access_token.split(".")
    claims = _claims(member)
    claims["role"] = "coordinator" if claims["role"] != "coordinator" else "peer_mentor"
    claims["sub"] = "00000000-0000-4000-8000-000000000000"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _garbage(app: FastAPI, member: Member) -> str:
    return "not.a.token"


ATTACKS: dict[str, Callable[[FastAPI, Member], str]] = {
    "alg_none": _alg_none,
    "hs256_with_public_key_pem": _hs256_with_public_key,
    "hs256_with_raw_public_key": _hs256_with_raw_public_key,
    "wrong_signing_key": _wrong_key,
    "nbf_in_future": _resigned(nbf=lambda c: c["nbf"] + 3600, iat=lambda c: c["iat"] + 3600),
    "wrong_audience": _resigned(aud="someone-else"),
    "wrong_issuer": _resigned(iss="evil-issuer"),
    "typ_refresh": _resigned(typ="refresh"),
    "typ_missing": _resigned(typ=None),
    "jti_missing": _resigned(jti=None),
    "exp_missing": _resigned(exp=None),
    "device_of_nobody": _resigned(dev="00000000-0000-4000-8000-000000000000"),
    "tampered_claims": _tampered,
    "garbage": _garbage,
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_forged_tokens_are_refused(app: FastAPI, client: TestClient, member: Member, attack: str) -> None:
    token = ATTACKS[attack](app, member)
    body = problem(client.get("/v1/sync/pull", headers=bearer(token)), 401)
    assert body.code in {"token_invalid", "token_expired"}
    assert client.get("/v1/sync/pull", headers=member.headers).status_code == 200  # the real one still works


def test_expired_token_is_refused(client: TestClient, member: Member, clock: MovableClock) -> None:
    clock.advance(seconds=899)
    assert client.get("/v1/sync/pull", headers=member.headers).status_code == 200
    clock.advance(seconds=10)
    problem(client.get("/v1/sync/pull", headers=member.headers), 401, "token_expired")


def test_expired_by_wall_clock_is_refused(app: FastAPI, client: TestClient, member: Member) -> None:
    now = int(time.time())
    token = _resigned(iat=now - 7200, nbf=now - 7200, exp=now - 3600)(app, member)
    problem(client.get("/v1/sync/pull", headers=bearer(token)), 401, "token_expired")


def test_missing_or_malformed_authorization(client: TestClient, member: Member) -> None:
    problem(client.get("/v1/sync/pull"), 401, "not_signed_in")
    problem(client.get("/v1/sync/pull", headers={"Authorization": member.grant.access_token}), 401, "token_invalid")
    problem(client.get("/v1/sync/pull", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "token_invalid")
    response = client.get("/v1/sync/pull", headers={"Authorization": "Bearer "})
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_refresh_token_is_not_an_access_token(client: TestClient, member: Member) -> None:
    problem(client.get("/v1/sync/pull", headers=bearer(member.grant.refresh_token)), 401, "token_invalid")
