"""``SyncApi`` against a scripted network edge (``httpx.MockTransport``): headers, tokens, errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from outreach_app.errors import (
    InsecureServer,
    OfflineError,
    ServerRejected,
    SessionExpired,
    SignInFailed,
    UpgradeRequired,
)
from outreach_app.sync.transport import SyncApi, is_allowed_server_url
from shared.protocol import LoginRequest, PushRequest, SessionGrant

USER = "0190f0e0-0000-7000-8000-000000000001"
DEVICE = "0190f0e0-0000-7000-8000-000000000002"
ORG = "0190f0e0-0000-7000-8000-000000000003"


def session_grant(access: str, refresh: str) -> dict[str, object]:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 900,
        "device_id": DEVICE,
        "user": {"user_id": USER, "email": "a@example.org", "display_name": "A", "role": "link_worker"},
        "organisation": {"org_id": ORG, "name": "Org", "public_key": None, "key_version": 1},
        "public_key": "cHVibGljLWtleS1ieXRlcw",
        "wrapped_private_key": "{}",
        "kdf": {"kdf": "scrypt", "n": 1024, "r": 8, "p": 1, "salt": "c2FsdHNhbHRzYWx0c2FsdA"},
    }


def problem(status: int, code: str, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "Error", "status": status, "detail": detail, "code": code}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


EMPTY_PUSH = {"results": [], "grant_results": [], "server_time_ms": 1}


def api_with(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> SyncApi:
    return SyncApi("https://server.test/", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def test_every_request_names_the_protocol_and_authorised_ones_carry_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/auth/refresh":
            return httpx.Response(200, json=session_grant("access-token-0001", "refresh-token-0002"))
        return httpx.Response(200, json=EMPTY_PUSH)

    api = api_with(handler, refresh_token="refresh-token-0001")
    api.push(PushRequest())
    assert [r.url.path for r in seen] == ["/v1/auth/refresh", "/v1/sync/push"]
    assert all(r.headers["X-Gatepost-Protocol"] == "1" for r in seen)
    assert seen[1].headers["Authorization"] == "Bearer access-token-0001"
    assert json.loads(seen[0].content) == {"refresh_token": "refresh-token-0001"}


def test_an_expired_access_token_is_refreshed_once_and_the_new_refresh_token_persisted() -> None:
    calls: list[str] = []
    persisted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/v1/auth/refresh":
            return httpx.Response(200, json=session_grant("fresh-access-token", "rotated-refresh-token"))
        if request.headers["Authorization"] == "Bearer stale-access-token":
            return problem(401, "token_expired", "Your session has expired")
        return httpx.Response(200, json=EMPTY_PUSH)

    api = api_with(handler, refresh_token="first-refresh-token", on_session=lambda g: persisted.append(g.refresh_token))
    api.access_token = "stale-access-token"
    assert api.push(PushRequest()).server_time_ms == 1
    assert calls == ["/v1/sync/push", "/v1/auth/refresh", "/v1/sync/push"]
    assert persisted == ["rotated-refresh-token"]
    assert api.refresh_token == "rotated-refresh-token"


def test_a_refused_refresh_means_signing_in_again() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/refresh":
            return problem(401, "session_revoked", "This session was used twice")
        return problem(401, "token_expired", "expired")

    api = api_with(handler, refresh_token="used-refresh-token-0")
    api.access_token = "stale-access-token"
    with pytest.raises(SessionExpired):
        api.pull(0)
    assert not api.has_session
    with pytest.raises(SessionExpired):
        api.pull(0)


def test_wrong_password_is_sign_in_failed_with_the_servers_words() -> None:
    api = api_with(lambda request: problem(401, "sign_in_failed", "The email or password is not right"))
    with pytest.raises(SignInFailed, match="not right"):
        api.login(LoginRequest(email="a@example.org", auth_key="YXV0aC1rZXktYnl0ZXM", device_name="Phone"))


def test_426_asks_for_an_upgrade_with_the_servers_message() -> None:
    api = api_with(lambda request: problem(426, "unsupported_protocol", "Please update Gatepost to version 2"))
    with pytest.raises(UpgradeRequired, match="version 2"):
        api.prelogin("a@example.org")


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut")],
)
def test_network_failures_are_offline(failure: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(OfflineError):
        api_with(handler).prelogin("a@example.org")


def test_a_gateway_answering_for_a_stopped_server_is_offline() -> None:
    api = api_with(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(OfflineError):
        api.prelogin("a@example.org")


def test_other_problems_carry_the_problem_and_odd_replies_are_refused() -> None:
    api = api_with(lambda request: problem(422, "validation_failed", "email: not an email"))
    with pytest.raises(ServerRejected) as rejected:
        api.prelogin("a@example.org")
    assert (rejected.value.status, rejected.value.code) == (422, "validation_failed")

    api = api_with(lambda request: httpx.Response(200, json={"unexpected": True}))
    with pytest.raises(ServerRejected) as rejected:
        api.prelogin("a@example.org")
    assert rejected.value.code == "bad_reply"


def test_login_keeps_the_session_tokens() -> None:
    api = api_with(lambda request: httpx.Response(200, json=session_grant("access-token-0001", "refresh-token-1")))
    grant = api.login(LoginRequest(email="a@example.org", auth_key="YXV0aC1rZXktYnl0ZXM", device_name="Phone"))
    assert isinstance(grant, SessionGrant)
    assert (api.access_token, api.refresh_token) == ("access-token-0001", "refresh-token-1")


@pytest.mark.parametrize(
    "url",
    [
        "https://sync.example.org",
        "https://10.1.2.3:8443",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
        "http://[::1]:8000",
    ],
)
def test_https_anywhere_and_plain_http_only_to_this_computer(url: str) -> None:
    assert is_allowed_server_url(url)
    SyncApi(url, transport=httpx.MockTransport(lambda request: httpx.Response(200))).close()


@pytest.mark.parametrize(
    "url",
    [
        "http://sync.example.org",
        "http://192.168.1.20:8000",
        "http://10.0.0.5",
        "ftp://sync.example.org",
        "sync.example.org",
        "",
    ],
)
def test_plain_http_to_another_machine_is_refused_before_anything_is_sent(url: str) -> None:
    sent: list[httpx.Request] = []
    assert not is_allowed_server_url(url)
    with pytest.raises(InsecureServer) as refused:
        SyncApi(url, transport=httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200)))
    assert refused.value.message.startswith("The server address must start with https://")
    assert sent == []
