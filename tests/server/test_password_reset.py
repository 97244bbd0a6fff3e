"""A member who forgot their password: a coordinator's reset code, new keys made on the phone, every
old session ended, and the coordinator asked (through the pull) to seal the organisation key again."""

from __future__ import annotations

from fastapi import FastAPI

from shared.crypto import b64encode, generate_key_pair, random_key
from shared.protocol import Invitation, PullResponse, Role, SessionGrant
from tests.server.helpers import Harness, Member, MovableClock, bearer, org_key_grant, problem, register_body
from tests.support.server import TestClient


def _reset_code(client: TestClient, coordinator: Member, member: Member) -> str:
    response = client.post(f"/v1/members/{member.user_id}/password-reset", headers=coordinator.headers)
    assert response.status_code == 200, response.text
    invitation = Invitation.model_validate(response.json())
    assert invitation.email == member.email
    return invitation.code


def _reset_body(code: str, email: str) -> tuple[dict[str, object], bytes]:
    auth_key = random_key()
    body = register_body(code, email, auth_key, random_key(), generate_key_pair(), "New phone")
    body.pop("invitation_code")
    body.pop("display_name")
    return {"reset_code": code, **body}, auth_key


def _awaiting(client: TestClient, coordinator: Member) -> set[str]:
    response = client.get("/v1/sync/pull", params={"since": 10**9}, headers=coordinator.headers)
    assert response.status_code == 200, response.text
    return {member.user_id for member in PullResponse.model_validate(response.json()).members_awaiting_key}


def test_a_reset_gives_new_keys_ends_old_sessions_and_asks_for_the_key_again(
    harness: Harness, client: TestClient
) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    harness.push(org.coordinator, grants=[org_key_grant(org, worker)])
    assert worker.user_id not in _awaiting(client, org.coordinator)

    code = _reset_code(client, org.coordinator, worker)
    body, new_auth_key = _reset_body(code, worker.email)
    response = client.post("/v1/auth/reset", json=body)
    assert response.status_code == 200, response.text
    grant = SessionGrant.model_validate(response.json())
    assert grant.user.user_id == worker.user_id
    assert grant.public_key == body["public_key"]

    # The old phone's session is over, access token included.
    problem(client.get("/v1/sync/pull", headers=worker.headers), 401, "session_revoked")
    problem(client.post("/v1/auth/refresh", json={"refresh_token": worker.grant.refresh_token}), 401)
    # The new password works; the old one does not.
    login = {"email": worker.email, "device_name": "Phone"}
    assert client.post("/v1/auth/login", json={**login, "auth_key": b64encode(new_auth_key)}).status_code == 200
    problem(client.post("/v1/auth/login", json={**login, "auth_key": b64encode(worker.auth_key)}), 401)
    # The coordinator's phone is asked to seal the organisation key to the new public key.
    assert worker.user_id in _awaiting(client, org.coordinator)
    assert client.get("/v1/sync/pull", headers=bearer(grant.access_token)).status_code == 200


def test_reset_codes_are_single_use_personal_and_no_invitation(
    app: FastAPI, harness: Harness, client: TestClient, clock: MovableClock
) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    colleague = harness.join(org, Role.LINK_WORKER)
    code = _reset_code(client, org.coordinator, worker)

    # Not for someone else, and not as an invitation to a new account.
    problem(client.post("/v1/auth/reset", json=_reset_body(code, colleague.email)[0]), 403, "invitation_invalid")
    new_account = register_body(code, "someone-new@example.org", random_key(), random_key(), generate_key_pair())
    problem(client.post("/v1/auth/register", json=new_account), 403, "invitation_invalid")
    # Once, and not after a day.
    assert client.post("/v1/auth/reset", json=_reset_body(code, worker.email)[0]).status_code == 200
    problem(client.post("/v1/auth/reset", json=_reset_body(code, worker.email)[0]), 403, "invitation_invalid")
    late = _reset_code(client, org.coordinator, colleague)
    clock.offset_ms = 25 * 3600 * 1000
    problem(client.post("/v1/auth/reset", json=_reset_body(late, colleague.email)[0]), 403, "invitation_invalid")


def test_who_may_make_a_reset_code(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    other = harness.new_org(with_key=False)
    path = f"/v1/members/{worker.user_id}/password-reset"
    problem(client.post(path, headers=worker.headers), 403, "coordinators_only")
    problem(client.post(path, headers=other.coordinator.headers), 404, "member_not_found")
    own = f"/v1/members/{org.coordinator.user_id}/password-reset"
    problem(client.post(own, headers=org.coordinator.headers), 409, "own_password")
    problem(client.post("/v1/members/nobody/password-reset", headers=org.coordinator.headers), 422)
