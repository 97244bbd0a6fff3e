"""Prelogin, register, login, refresh and invitations."""

from __future__ import annotations

import re

from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import Session

from shared.crypto import (
    FAST_TEST_SCRYPT,
    account_keys,
    b64decode,
    b64encode,
    derive_master_key,
    generate_key_pair,
    random_key,
    random_salt,
    unwrap_key,
    wrap_key,
)
from shared.protocol import KdfParams, PreloginResponse, Role, SessionGrant
from sync_server.services.organisation import INVITATION_ALPHABET
from tests.server.helpers import Harness, MovableClock, bearer, problem, register_body, unique_email
from tests.support.server import TestClient, bootstrap_organisation, invite_member

USER_KEY_CONTEXT = b"gatepost/test/user-private"


def test_prelogin_unknown_email_looks_like_a_known_one(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    known = client.post("/v1/auth/prelogin", json={"email": org.coordinator.email})
    unknown = client.post("/v1/auth/prelogin", json={"email": unique_email("nobody")})
    assert known.status_code == unknown.status_code == 200
    known_kdf = PreloginResponse.model_validate(known.json()).kdf
    unknown_kdf = PreloginResponse.model_validate(unknown.json()).kdf
    assert set(known.json()["kdf"]) == set(unknown.json()["kdf"])
    assert len(b64decode(unknown_kdf.salt)) == len(b64decode(known_kdf.salt)) == 16
    assert known_kdf == org.coordinator.grant.kdf


def test_prelogin_fake_salt_is_stable_per_email(client: TestClient) -> None:
    email = unique_email("ghost")
    first = client.post("/v1/auth/prelogin", json={"email": email}).json()
    again = client.post("/v1/auth/prelogin", json={"email": email.upper()}).json()
    other = client.post("/v1/auth/prelogin", json={"email": unique_email("ghost")}).json()
    assert first == again
    assert first["kdf"]["salt"] != other["kdf"]["salt"]
    assert (first["kdf"]["n"], first["kdf"]["r"], first["kdf"]["p"]) == (2**15, 8, 1)


def test_register_and_login_from_a_new_phone_with_real_keys(app: FastAPI, client: TestClient) -> None:
    """The whole account flow with Scrypt, HKDF and key wrapping as a client does it."""
    _org_id, invitation = bootstrap_organisation(app)
    email, password = unique_email("keys"), "correct horse battery staple"
    salt, pair = random_salt(), generate_key_pair()
    master = derive_master_key(password, salt, FAST_TEST_SCRYPT)
    keys = account_keys(master)
    kdf = KdfParams(n=FAST_TEST_SCRYPT.n, r=FAST_TEST_SCRYPT.r, p=FAST_TEST_SCRYPT.p, salt=b64encode(salt))
    body = {
        "invitation_code": invitation.code,
        "email": email,
        "display_name": "Alex Coordinator",
        "kdf": kdf.model_dump(mode="json"),
        "auth_key": b64encode(keys.auth_key),
        "public_key": b64encode(pair.public_key),
        "wrapped_private_key": wrap_key(keys.wrap_key, pair.private_key, context=USER_KEY_CONTEXT),
        "device_name": "Alex's phone",
    }
    registered = client.post("/v1/auth/register", json=body)
    assert registered.status_code == 200, registered.text
    grant = SessionGrant.model_validate(registered.json())
    assert grant.user.role is Role.COORDINATOR
    assert grant.user.display_name == "Alex Coordinator"
    assert grant.organisation.key_version == 0

    # A new phone knows only the email and password.
    kdf_back = PreloginResponse.model_validate(client.post("/v1/auth/prelogin", json={"email": email}).json()).kdf
    assert kdf_back == kdf
    from shared.crypto import ScryptParams

    master2 = derive_master_key(password, b64decode(kdf_back.salt), ScryptParams(kdf_back.n, kdf_back.r, kdf_back.p))
    keys2 = account_keys(master2)
    login = client.post(
        "/v1/auth/login", json={"email": email, "auth_key": b64encode(keys2.auth_key), "device_name": "New phone"}
    )
    assert login.status_code == 200, login.text
    session = SessionGrant.model_validate(login.json())
    assert session.device_id != grant.device_id
    assert unwrap_key(keys2.wrap_key, session.wrapped_private_key, context=USER_KEY_CONTEXT) == pair.private_key
    assert session.public_key == b64encode(pair.public_key)
    assert client.get("/v1/sync/pull", headers=bearer(session.access_token)).status_code == 200


def test_unknown_email_and_wrong_key_give_the_identical_answer(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    wrong_key = client.post(
        "/v1/auth/login",
        json={"email": org.coordinator.email, "auth_key": b64encode(random_key()), "device_name": "Phone"},
    )
    unknown = client.post(
        "/v1/auth/login",
        json={"email": unique_email("nobody"), "auth_key": b64encode(random_key()), "device_name": "Phone"},
    )
    not_a_key = client.post(
        "/v1/auth/login", json={"email": org.coordinator.email, "auth_key": "AAAAAAAAAAAA", "device_name": "Phone"}
    )
    body = problem(wrong_key, 401, "sign_in_failed")
    assert body.detail == "Email or password is not right"
    assert wrong_key.json() == unknown.json() == not_a_key.json()
    assert unknown.status_code == not_a_key.status_code == 401
    assert dict(wrong_key.headers) == dict(unknown.headers)


def test_login_reuses_a_known_device_only(app: FastAPI, harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    member = harness.join(org, Role.LINK_WORKER)
    other = harness.join(org, Role.LINK_WORKER)

    def login(device_id: str | None) -> SessionGrant:
        body = {"email": member.email, "auth_key": b64encode(member.auth_key), "device_name": "Phone"}
        if device_id:
            body["device_id"] = device_id
        response = client.post("/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        return SessionGrant.model_validate(response.json())

    assert login(member.device_id).device_id == member.device_id
    assert login(other.device_id).device_id not in (member.device_id, other.device_id)
    with Session(app.state.engine) as session:
        session.execute(text("UPDATE device SET revoked_at_ms = 1 WHERE id = :id"), {"id": member.device_id})
        session.commit()
    problem(client.get("/v1/sync/pull", headers=member.headers), 401, "device_revoked")
    assert login(member.device_id).device_id != member.device_id


def test_invitation_is_single_use(app: FastAPI, harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    code = harness.invite(org.coordinator, Role.LINK_WORKER)
    harness.register(code)
    pair = generate_key_pair()
    again = client.post("/v1/auth/register", json=register_body(code, unique_email(), random_key(), random_key(), pair))
    problem(again, 403, "invitation_invalid")


def test_bad_invitations_all_get_the_same_answer(app: FastAPI, client: TestClient, clock: MovableClock) -> None:
    org_id, _ = bootstrap_organisation(app)
    pair = generate_key_pair()

    def attempt(code: str, email: str | None = None) -> dict[str, object]:
        body = register_body(code, email or unique_email(), random_key(), random_key(), pair)
        response = client.post("/v1/auth/register", json=body)
        problem(response, 403, "invitation_invalid")
        result: dict[str, object] = response.json()
        return result

    used = invite_member(app, org_id, Role.LINK_WORKER)
    Harness(app, client).register(used.code)
    bound = invite_member(app, org_id, Role.LINK_WORKER, email=unique_email("bound"))
    expiring = invite_member(app, org_id, Role.PEER_MENTOR)

    answers = [attempt("ZZZZ-ZZZZ-ZZZZ"), attempt(used.code), attempt(bound.code, unique_email("someone-else"))]
    clock.advance(days=15)
    answers.append(attempt(expiring.code))
    assert all(answer == answers[0] for answer in answers)


def test_invitation_bound_to_email_and_code_is_forgiving_to_type(app: FastAPI, harness: Harness) -> None:
    org_id, _ = bootstrap_organisation(app)
    email = unique_email("bound")
    invitation = invite_member(app, org_id, Role.PEER_MENTOR, email=email)
    typed = invitation.code.lower().replace("-", " ")
    member = harness.register(typed, email.upper())
    assert member.grant.user.role is Role.PEER_MENTOR
    assert member.grant.user.email == email


def test_email_already_registered_is_a_conflict(app: FastAPI, harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    code = harness.invite(org.coordinator, Role.LINK_WORKER)
    body = register_body(code, org.coordinator.email, random_key(), random_key(), generate_key_pair())
    problem(client.post("/v1/auth/register", json=body), 409, "email_taken")
    # The invitation was not spent by the failed attempt.
    assert harness.register(code).grant.user.role is Role.LINK_WORKER


def test_register_refuses_unusable_keys(app: FastAPI, client: TestClient) -> None:
    _, invitation = bootstrap_organisation(app)
    body = register_body(invitation.code, unique_email(), random_key(), random_key(), generate_key_pair())
    body["public_key"] = b64encode(b"short-public-key")
    problem(client.post("/v1/auth/register", json=body), 422, "invalid_public_key")
    body = register_body(invitation.code, unique_email(), random_key(), random_key(), generate_key_pair())
    body["auth_key"] = b64encode(b"x" * 16)
    problem(client.post("/v1/auth/register", json=body), 422, "invalid_auth_key")


def test_only_coordinators_invite_and_codes_are_stored_hashed(
    app: FastAPI, harness: Harness, client: TestClient
) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    problem(
        client.post("/v1/invitations", json={"role": "link_worker"}, headers=worker.headers), 403, "coordinators_only"
    )
    response = client.post(
        "/v1/invitations", json={"role": "peer_mentor", "email": "Mentor@Example.org"}, headers=org.coordinator.headers
    )
    assert response.status_code == 200, response.text
    invitation = response.json()
    alphabet = re.escape(INVITATION_ALPHABET)
    assert re.fullmatch(rf"[{alphabet}]{{4}}-[{alphabet}]{{4}}-[{alphabet}]{{4}}", invitation["code"])
    assert invitation["role"] == "peer_mentor"
    assert invitation["email"] == "mentor@example.org"
    with Session(app.state.engine) as session:
        stored = [row[0] for row in session.execute(text("SELECT code_hash FROM invitation"))]
    plain = invitation["code"]
    assert all(plain not in value and plain.replace("-", "") not in value for value in stored)


def test_refresh_rotates_and_reuse_revokes_the_family(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    first = org.coordinator.grant
    rotated = client.post("/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert rotated.status_code == 200, rotated.text
    second = SessionGrant.model_validate(rotated.json())
    assert second.refresh_token != first.refresh_token
    assert second.device_id == first.device_id
    assert client.get("/v1/sync/pull", headers=bearer(second.access_token)).status_code == 200

    # Someone replays the old token: the whole family ends, including the rotated token.
    problem(client.post("/v1/auth/refresh", json={"refresh_token": first.refresh_token}), 401, "session_revoked")
    problem(client.post("/v1/auth/refresh", json={"refresh_token": second.refresh_token}), 401, "session_revoked")
    # A fresh sign-in starts a new family.
    login = client.post(
        "/v1/auth/login",
        json={"email": org.coordinator.email, "auth_key": b64encode(org.coordinator.auth_key), "device_name": "P"},
    )
    fresh = SessionGrant.model_validate(login.json())
    assert client.post("/v1/auth/refresh", json={"refresh_token": fresh.refresh_token}).status_code == 200


def test_expired_and_unknown_refresh_tokens(harness: Harness, client: TestClient, clock: MovableClock) -> None:
    org = harness.new_org(with_key=False)
    problem(client.post("/v1/auth/refresh", json={"refresh_token": "x" * 43}), 401, "session_invalid")
    clock.advance(days=31)
    problem(
        client.post("/v1/auth/refresh", json={"refresh_token": org.coordinator.grant.refresh_token}),
        401,
        "session_expired",
    )
