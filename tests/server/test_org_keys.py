"""The organisation key set up once by the first coordinator, and members awaiting it."""

from __future__ import annotations

from shared.crypto import b64decode, open_sealed, random_key, seal, unwrap_key
from shared.protocol import KeyGrantIn, OrganisationKeySetup, Role, SessionGrant, org_key_id, org_private_key_id
from tests.server.helpers import Harness, Org, new_id, org_key_grant, org_private_context, problem
from tests.support.server import TestClient


def _setup_body(org: Org, **grant_changes: str) -> dict[str, object]:
    coordinator = org.coordinator
    key_id = org_key_id(org.org_id, 1)
    grant = {
        "grant_id": new_id(),
        "key_id": key_id,
        "recipient_kind": "user",
        "recipient_id": coordinator.user_id,
        "wrapped_with": f"user:{coordinator.user_id}",
        "wrapped": seal(coordinator.key_pair.public_key, random_key(), context=key_id.encode()),
    }
    grant.update(grant_changes)
    return OrganisationKeySetup(
        public_key="A" * 43, wrapped_private_key='{"v":1}', coordinator_grant=KeyGrantIn.model_validate(grant)
    ).model_dump(mode="json")


def test_org_key_setup_once_and_readable_by_the_coordinator(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    info = harness.setup_org_key(org)
    assert info.key_version == 1
    assert org.org_key_pair is not None
    assert org.org_key is not None
    assert b64decode(info.public_key or "") == org.org_key_pair.public_key

    problem(client.post("/v1/org/keys", json=_setup_body(org), headers=org.coordinator.headers), 409, "org_key_exists")

    pulled = harness.pull(org.coordinator)
    by_key = {grant.key_id: grant for grant in pulled.key_grants}
    assert set(by_key) == {org_key_id(org.org_id, 1), org_private_key_id(org.org_id, 1)}
    assert [grant.seq for grant in pulled.key_grants] == [1, 2]
    coordinator_grant = by_key[org_key_id(org.org_id, 1)]
    org_key = open_sealed(
        org.coordinator.key_pair.private_key, coordinator_grant.wrapped, context=coordinator_grant.key_id.encode()
    )
    assert org_key == org.org_key
    private_grant = by_key[org_private_key_id(org.org_id, 1)]
    assert private_grant.recipient_kind == "organisation"
    assert private_grant.wrapped_with == org_key_id(org.org_id, 1)
    private = unwrap_key(org_key, private_grant.wrapped, context=org_private_context(org.org_id))
    assert private == org.org_key_pair.private_key

    login = client.post(
        "/v1/auth/login",
        json={"email": org.coordinator.email, "auth_key": _b64(org.coordinator.auth_key), "device_name": "Phone"},
    )
    assert SessionGrant.model_validate(login.json()).organisation.key_version == 1


def _b64(data: bytes) -> str:
    from shared.crypto import b64encode

    return b64encode(data)


def test_only_a_coordinator_sets_up_the_key(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    problem(client.post("/v1/org/keys", json=_setup_body(org), headers=worker.headers), 403, "coordinators_only")


def test_coordinator_grant_must_be_sealed_to_the_caller(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    headers = org.coordinator.headers
    bad_bodies = [
        _setup_body(org, recipient_id=worker.user_id, wrapped_with=f"user:{worker.user_id}"),
        _setup_body(org, wrapped_with="org:whatever"),
        _setup_body(org, key_id=org_key_id(org.org_id, 2)),
        _setup_body(org, recipient_kind="organisation", recipient_id=org.org_id),
    ]
    for body in bad_bodies:
        problem(client.post("/v1/org/keys", json=body, headers=headers), 422, "invalid_key_setup")
    # Nothing was stored: the proper setup still works.
    assert harness.setup_org_key(org).key_version == 1


def test_members_awaiting_key_for_coordinators_only(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    second_coordinator = harness.join(org, Role.COORDINATOR)
    harness.join(org, Role.PEER_MENTOR)
    assert harness.pull(org.coordinator).members_awaiting_key == []  # no organisation key yet

    harness.setup_org_key(org)
    awaiting = harness.pull(org.coordinator).members_awaiting_key
    assert {member.user_id for member in awaiting} == {worker.user_id, second_coordinator.user_id}
    by_id = {member.user_id: member for member in awaiting}
    assert by_id[worker.user_id].role is Role.LINK_WORKER
    assert b64decode(by_id[worker.user_id].public_key) == worker.key_pair.public_key
    assert harness.pull(worker).members_awaiting_key == []

    result = harness.push(org.coordinator, grants=[org_key_grant(org, worker)])
    assert result.grant_results[0].status == "accepted"
    remaining = harness.pull(second_coordinator).members_awaiting_key
    assert [member.user_id for member in remaining] == [second_coordinator.user_id]

    pulled = harness.pull(worker)
    assert [grant.recipient_id for grant in pulled.key_grants if grant.recipient_kind == "user"] == [worker.user_id]
    sealed = next(grant for grant in pulled.key_grants if grant.recipient_kind == "user")
    assert open_sealed(worker.key_pair.private_key, sealed.wrapped, context=sealed.key_id.encode()) == org.org_key
