"""Devices: who sees which, who may sign one out, and what a signed-out device can still do (nothing)."""

from __future__ import annotations

from shared.crypto import b64encode
from shared.protocol import DeviceInfo, DeviceList, Role, SessionGrant
from tests.server.helpers import Harness, Member, bearer, problem
from tests.support.server import TestClient


def _devices(client: TestClient, member: Member) -> list[DeviceInfo]:
    response = client.get("/v1/devices", headers=member.headers)
    assert response.status_code == 200, response.text
    return DeviceList.model_validate(response.json()).devices


def _second_phone(client: TestClient, member: Member, name: str) -> SessionGrant:
    response = client.post(
        "/v1/auth/login", json={"email": member.email, "auth_key": b64encode(member.auth_key), "device_name": name}
    )
    assert response.status_code == 200, response.text
    return SessionGrant.model_validate(response.json())


def test_workers_see_their_own_devices_and_coordinators_the_teams(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    _second_phone(client, worker, "Old phone")
    other_org = harness.new_org(with_key=False)

    mine = _devices(client, worker)
    assert {device.name for device in mine} == {"Phone", "Old phone"}
    assert {device.user_id for device in mine} == {worker.user_id}
    assert [device.this_device for device in mine].count(True) == 1
    assert {device.user_id for device in _devices(client, mentor)} == {mentor.user_id}

    team = _devices(client, org.coordinator)
    assert {device.user_id for device in team} == {org.coordinator.user_id, worker.user_id, mentor.user_id}
    assert len(team) == 4
    names = {device.user_display_name for device in team}
    assert worker.email.split("@")[0] in names
    assert other_org.coordinator.user_id not in {device.user_id for device in team}


def test_a_revoked_device_is_refused_at_once_and_cannot_refresh(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    lost = _second_phone(client, worker, "Lost phone")
    assert client.get("/v1/sync/pull", headers=bearer(lost.access_token)).status_code == 200

    revoked = client.post(f"/v1/devices/{lost.device_id}/revoke", headers=org.coordinator.headers)
    assert revoked.status_code == 200, revoked.text
    info = DeviceInfo.model_validate(revoked.json())
    assert info.revoked_at_ms is not None
    assert info.name == "Lost phone"

    # The access token it still holds stops working now, not when it expires.
    body = problem(client.get("/v1/sync/pull", headers=bearer(lost.access_token)), 401, "device_revoked")
    assert "signed out" in body.detail
    problem(client.post("/v1/auth/refresh", json={"refresh_token": lost.refresh_token}), 401, "device_revoked")
    # The worker's other phone carries on.
    assert client.get("/v1/sync/pull", headers=worker.headers).status_code == 200
    # Revoking twice answers the same and moves nothing.
    again = client.post(f"/v1/devices/{lost.device_id}/revoke", headers=org.coordinator.headers)
    assert DeviceInfo.model_validate(again.json()).revoked_at_ms == info.revoked_at_ms
    listed = {device.device_id: device for device in _devices(client, worker)}
    assert listed[lost.device_id].revoked_at_ms == info.revoked_at_ms


def test_who_may_sign_out_which_device(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    colleague = harness.join(org, Role.LINK_WORKER)
    other_org = harness.new_org(with_key=False)
    spare = _second_phone(client, worker, "Spare phone")

    # Not a colleague's device, and not another organisation's: both simply "not found".
    problem(client.post(f"/v1/devices/{spare.device_id}/revoke", headers=colleague.headers), 404, "device_not_found")
    problem(
        client.post(f"/v1/devices/{spare.device_id}/revoke", headers=other_org.coordinator.headers),
        404,
        "device_not_found",
    )
    problem(
        client.post("/v1/devices/00000000-0000-4000-8000-000000000000/revoke", headers=worker.headers),
        404,
        "device_not_found",
    )
    problem(client.post("/v1/devices/not-a-device/revoke", headers=worker.headers), 422, "validation_failed")
    assert client.get("/v1/sync/pull", headers=bearer(spare.access_token)).status_code == 200

    # Your own, yes.
    assert client.post(f"/v1/devices/{spare.device_id}/revoke", headers=worker.headers).status_code == 200
    problem(client.get("/v1/sync/pull", headers=bearer(spare.access_token)), 401, "device_revoked")


def test_signing_in_again_on_a_revoked_device_registers_a_new_one(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    client.post(f"/v1/devices/{worker.device_id}/revoke", headers=org.coordinator.headers)
    response = client.post(
        "/v1/auth/login",
        json={
            "email": worker.email,
            "auth_key": b64encode(worker.auth_key),
            "device_name": "Phone",
            "device_id": worker.device_id,
        },
    )
    assert response.status_code == 200, response.text
    grant = SessionGrant.model_validate(response.json())
    assert grant.device_id != worker.device_id
    assert client.get("/v1/sync/pull", headers=bearer(grant.access_token)).status_code == 200
