"""Every error is an application/problem+json body: sizes, malformed input, protocol versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.protocol import MAX_PULL_LIMIT, PROTOCOL_HEADER
from tests.server.helpers import Harness, Member, contact_change, new_id, person_change, problem
from tests.support.server import TestClient, create_test_app, server_client


@pytest.fixture
def member(harness: Harness) -> Member:
    return harness.new_org().coordinator


def test_oversized_body_by_content_length_is_413(client: TestClient, member: Member) -> None:
    body = b'{"changes": [], "pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    response = client.post(
        "/v1/sync/push", content=body, headers={**member.headers, "content-type": "application/json"}
    )
    problem(response, 413, "payload_too_large")


def test_oversized_streamed_body_is_413(database_url: str, tmp_path: Path, harness: Harness) -> None:
    small = create_test_app(tmp_path, database_url, max_request_bytes=2048)
    with server_client(small) as client:
        member = Harness(small, client).new_org(with_key=False).coordinator

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"changes": [], "key_grants": [], "x": "'
            for _ in range(10):
                yield b"y" * 512
            yield b'"}'

        response = client.post(
            "/v1/sync/push", content=chunks(), headers={**member.headers, "content-type": "application/json"}
        )
        problem(response, 413, "payload_too_large")
        # A body under the limit still works.
        assert client.post("/v1/sync/push", json={}, headers=member.headers).status_code == 200


def test_malformed_json_is_a_422_problem(client: TestClient, member: Member) -> None:
    for raw in (b"{", b"[1, 2", b"\xff\xfe", b'{"changes": [}', b"null", b"[]", b'"text"'):
        response = client.post(
            "/v1/sync/push", content=raw, headers={**member.headers, "content-type": "application/json"}
        )
        body = problem(response, 422, "validation_failed")
        assert body.errors, raw


def test_wrong_types_missing_and_extra_keys_list_each_field(
    client: TestClient, harness: Harness, member: Member
) -> None:
    org = harness.new_org()
    change = person_change(org, org.coordinator, new_id()).model_dump(mode="json")
    change["hlc"] = 12
    change["surprise"] = "unexpected-value-7781"
    del change["tag"]
    response = client.post(
        "/v1/sync/push", json={"changes": [change], "key_grants": "nope", "more": 1}, headers=org.coordinator.headers
    )
    body = problem(response, 422, "validation_failed")
    locations = {error["loc"] for error in body.errors or []}
    assert {"body.changes.0.hlc", "body.changes.0.surprise", "body.changes.0.tag", "body.key_grants", "body.more"} <= (
        locations
    )
    assert all(set(error) == {"loc", "msg", "type"} for error in body.errors or [])
    assert "unexpected-value-7781" not in response.text  # input values are not echoed


def test_invalid_values_inside_changes(client: TestClient, harness: Harness) -> None:
    org = harness.new_org()
    good = contact_change(org, org.coordinator, new_id()).model_dump(mode="json")
    bad_values = {
        "hlc": "yesterday",
        "change_id": "not-a-uuid",
        "tier": "secret",
        "ciphertext": "not base64 !",
        "tag": "ABC",
        "key_id": "x" * 200,
    }
    for name, value in bad_values.items():
        response = client.post(
            "/v1/sync/push", json={"changes": [{**good, name: value}]}, headers=org.coordinator.headers
        )
        body = problem(response, 422, "validation_failed")
        assert any(error["loc"] == f"body.changes.0.{name}" for error in body.errors or []), (name, body)


def test_too_many_changes_is_refused(client: TestClient, harness: Harness) -> None:
    org = harness.new_org()
    change = person_change(org, org.coordinator, new_id()).model_dump(mode="json")
    response = client.post("/v1/sync/push", json={"changes": [change] * 501}, headers=org.coordinator.headers)
    problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "query",
    [
        "since=-1",
        "since=abc",
        "since=1.5",
        f"since={2**70}",
        "limit=0",
        f"limit={MAX_PULL_LIMIT + 1}",
        "limit=99999999999999999999",
        "limit=ten",
    ],
)
def test_bad_pull_parameters(client: TestClient, member: Member, query: str) -> None:
    body = problem(client.get(f"/v1/sync/pull?{query}", headers=member.headers), 422, "validation_failed")
    assert (body.errors or [{}])[0]["loc"].startswith("query.")


def test_unsupported_protocol_version_is_426(client: TestClient, member: Member) -> None:
    for value in ("0", "abc", "1.0", ""):
        response = client.get("/v1/sync/pull", headers={**member.headers, PROTOCOL_HEADER: value})
        body = problem(response, 426, "unsupported_protocol")
        assert body.detail == "This app is too old for the server: update Gatepost"
    newer = problem(client.get("/v1/sync/pull", headers={**member.headers, PROTOCOL_HEADER: "2"}), 426)
    assert "newer than the server" in newer.detail
    # A body is not even read, however large.
    response = client.post(
        "/v1/auth/prelogin", content=b"{" * 100, headers={PROTOCOL_HEADER: "99", "content-type": "application/json"}
    )
    problem(response, 426, "unsupported_protocol")


def test_absent_protocol_header_means_version_1(app: object, member: Member) -> None:
    with server_client(app, protocol_header=False) as plain:  # type: ignore[arg-type]
        response = plain.get("/v1/sync/pull", headers=member.headers)
        assert response.status_code == 200
        assert response.headers[PROTOCOL_HEADER] == "1"


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    problem(client.get("/v1/nothing"), 404, "not_found")
    response = client.get("/v1/sync/push")
    problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
    problem(client.post("/v1/auth/login", content=b"email=x", headers={"content-type": "text/plain"}), 422)


def test_unexpected_errors_are_a_500_problem_without_internals(database_url: str, tmp_path: Path) -> None:
    app = create_test_app(tmp_path, database_url)

    @app.get("/v1/explode")
    def explode() -> None:
        raise RuntimeError("internal secret detail /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/explode")
    body = problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert json.loads(response.text)["detail"] == body.detail


def test_a_nul_character_in_any_text_is_a_422_problem_never_a_500(
    client: TestClient, harness: Harness, member: Member
) -> None:
    # Found by tests/server/test_fuzz.py: PostgreSQL cannot store NUL, so it must never reach storage.
    login = {"email": "sam@example.org\u0000", "auth_key": "A" * 43, "device_name": "Phone"}
    assert problem(client.post("/v1/auth/login", json=login), 422, "validation_failed").errors
    problem(client.post("/v1/auth/prelogin", json={"email": "\u0000@example.org"}), 422, "validation_failed")
    invitation = {"role": "link_worker", "email": "x\u0000y@example.org"}
    problem(client.post("/v1/invitations", json=invitation, headers=member.headers), 422, "validation_failed")
    org = harness.new_org()
    change = contact_change(org, org.coordinator, new_id()).model_dump(mode="json")
    change["nonce"] = "\u0000" * 16
    pushed = client.post("/v1/sync/push", json={"changes": [change]}, headers=org.coordinator.headers)
    problem(pushed, 422, "validation_failed")
    assert harness.pull(org.coordinator).versions == []


def test_keys_the_client_sent_are_named_printably_and_briefly(client: TestClient, member: Member) -> None:
    # Found by the fuzz: an unknown key holding NUL was echoed into the problem, which then failed.
    body = {"changes": [], "bad\u0000key": 1, "k" * 5000: 2}
    found = problem(client.post("/v1/sync/push", json=body, headers=member.headers), 422, "validation_failed")
    assert found.errors is not None
    locations = [error["loc"] for error in found.errors]
    assert "body.bad?key" in locations
    assert all(len(location) <= 200 and location.isprintable() for location in locations)
