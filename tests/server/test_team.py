"""The coordinator's team: members, pending invitations and cancelling one (account data only)."""

from __future__ import annotations

from shared.crypto import b64encode, generate_key_pair, random_key
from shared.kinds import Tier
from shared.protocol import (
    AuditPage,
    Invitation,
    PendingInvitation,
    PendingInvitationList,
    Role,
    TeamMember,
    TeamMemberList,
)
from tests.server.helpers import (
    Harness,
    Member,
    MovableClock,
    Org,
    case_key_grant,
    new_id,
    org_key_grant,
    person_change,
    problem,
    register_body,
    unique_email,
)
from tests.support.server import TestClient


def _members(client: TestClient, member: Member) -> dict[str, TeamMember]:
    response = client.get("/v1/org/members", headers=member.headers)
    assert response.status_code == 200, response.text
    return {entry.user_id: entry for entry in TeamMemberList.model_validate(response.json()).members}


def _pending(client: TestClient, member: Member) -> list[PendingInvitation]:
    response = client.get("/v1/invitations", headers=member.headers)
    assert response.status_code == 200, response.text
    return PendingInvitationList.model_validate(response.json()).invitations


def _invite(client: TestClient, member: Member, role: Role, email: str | None = None) -> Invitation:
    body: dict[str, str] = {"role": role.value}
    if email is not None:
        body["email"] = email
    response = client.post("/v1/invitations", json=body, headers=member.headers)
    assert response.status_code == 200, response.text
    return Invitation.model_validate(response.json())


def _person(harness: Harness, org: Org, name: str) -> str:
    person = new_id()
    harness.push(
        org.coordinator,
        [person_change(org, org.coordinator, person, "name", name)],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    return person


def _register(client: TestClient, code: str, email: str | None = None) -> int:
    body = register_body(code, email or unique_email(), random_key(), random_key(), generate_key_pair(), "Phone")
    return client.post("/v1/auth/register", json=body).status_code


def test_the_members_list_shows_roles_devices_access_and_assignments(harness: Harness, client: TestClient) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    newcomer = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    idle_mentor = harness.join(org, Role.PEER_MENTOR)
    other_org = harness.new_org()
    harness.push(org.coordinator, grants=[org_key_grant(org, worker)])
    first, second = _person(harness, org, "Jade"), _person(harness, org, "Dean")
    for case_id in (first, second):
        response = client.post(f"/v1/cases/{case_id}/mentors/{mentor.user_id}", headers=org.coordinator.headers)
        assert response.status_code == 200, response.text
    client.post(
        "/v1/auth/login", json={"email": worker.email, "auth_key": b64encode(worker.auth_key), "device_name": "Tablet"}
    )
    client.post(f"/v1/devices/{newcomer.device_id}/revoke", headers=org.coordinator.headers)

    response = client.get("/v1/org/members", headers=org.coordinator.headers)
    listed = TeamMemberList.model_validate(response.json()).members
    # Coordinators, then link workers, then peer mentors.
    assert [entry.role for entry in listed] == [Role.COORDINATOR] + [Role.LINK_WORKER] * 2 + [Role.PEER_MENTOR] * 2
    members = {entry.user_id: entry for entry in listed}
    assert set(members) == {
        org.coordinator.user_id,
        worker.user_id,
        newcomer.user_id,
        mentor.user_id,
        idle_mentor.user_id,
    }
    assert other_org.coordinator.user_id not in members

    assert members[worker.user_id].email == worker.email
    assert members[worker.user_id].display_name == worker.email.split("@")[0]
    assert members[worker.user_id].device_count == 2
    assert members[newcomer.user_id].device_count == 0  # its one device was signed out
    assert members[newcomer.user_id].last_seen_at_ms is not None
    assert 0 < members[worker.user_id].joined_at_ms <= members[newcomer.user_id].joined_at_ms

    # Who holds the organisation key: the coordinator and the worker it was sealed to, not the newcomer.
    assert members[org.coordinator.user_id].holds_organisation_key
    assert members[worker.user_id].holds_organisation_key
    assert not members[newcomer.user_id].holds_organisation_key
    assert not members[mentor.user_id].holds_organisation_key  # mentors never hold it

    # A mentor's assigned people, by case id only, in the order assigned; others list none.
    assert members[mentor.user_id].assigned_case_ids == [first, second]
    assert members[idle_mentor.user_id].assigned_case_ids == []
    assert members[worker.user_id].assigned_case_ids == []
    client.delete(f"/v1/cases/{first}/mentors/{mentor.user_id}", headers=org.coordinator.headers)
    assert _members(client, org.coordinator)[mentor.user_id].assigned_case_ids == [second]

    # Nothing decrypted: only account fields go over the wire.
    assert set(response.json()["members"][0]) == set(TeamMember.model_fields)


def test_no_one_waits_for_access_before_the_key_exists_only_full_members(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    members = _members(client, org.coordinator)
    assert not members[org.coordinator.user_id].holds_organisation_key
    assert not members[worker.user_id].holds_organisation_key


def test_pending_invitations_and_cancelling_one(harness: Harness, client: TestClient, clock: MovableClock) -> None:
    org = harness.new_org(with_key=False)
    email = unique_email("invited")
    kept = _invite(client, org.coordinator, Role.LINK_WORKER, email)
    cancelled = _invite(client, org.coordinator, Role.PEER_MENTOR)
    used = _invite(client, org.coordinator, Role.LINK_WORKER)
    assert _register(client, used.code) == 200
    worker = harness.join(org, Role.LINK_WORKER)
    client.post(f"/v1/members/{worker.user_id}/password-reset", headers=org.coordinator.headers)  # not an invitation

    pending = _pending(client, org.coordinator)
    ids = [entry.invitation_id for entry in pending]
    assert kept.invitation_id in ids
    assert cancelled.invitation_id in ids
    assert used.invitation_id not in ids
    assert len(pending) == 2  # neither the used one, nor the worker's invitation, nor the reset code
    listed = {entry.invitation_id: entry for entry in pending}[kept.invitation_id]
    assert listed.role is Role.LINK_WORKER
    assert listed.email == email
    assert listed.expires_at_ms == kept.expires_at_ms
    assert listed.invited_by_user_id == org.coordinator.user_id
    assert listed.invited_by_name == org.coordinator.email.split("@")[0]
    created = [entry.created_at_ms for entry in pending]
    assert created == sorted(created, reverse=True)  # newest first

    response = client.post(f"/v1/invitations/{cancelled.invitation_id}/cancel", headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    first = PendingInvitation.model_validate(response.json())
    assert first.cancelled_at_ms is not None
    # Idempotent: again answers the same, and the audit trail has one entry.
    clock.advance(seconds=5)
    again = client.post(f"/v1/invitations/{cancelled.invitation_id}/cancel", headers=org.coordinator.headers)
    assert PendingInvitation.model_validate(again.json()).cancelled_at_ms == first.cancelled_at_ms
    assert [entry.invitation_id for entry in _pending(client, org.coordinator)] == [kept.invitation_id]
    # The cancelled code registers nobody; the kept one still works.
    assert _register(client, cancelled.code) == 403
    assert _register(client, kept.code, email) == 200
    assert _pending(client, org.coordinator) == []

    trail = AuditPage.model_validate(client.get("/v1/audit", headers=org.coordinator.headers).json())
    cancels = [entry for entry in trail.entries if entry.action == "invitation_cancelled"]
    assert len(cancels) == 1
    assert cancels[0].details == {"role": "peer_mentor"}
    assert cancels[0].actor_name == org.coordinator.email.split("@")[0]

    # A used invitation cannot be cancelled.
    problem(
        client.post(f"/v1/invitations/{used.invitation_id}/cancel", headers=org.coordinator.headers),
        409,
        "invitation_used",
    )


def test_expired_invitations_are_not_pending(harness: Harness, client: TestClient, clock: MovableClock) -> None:
    org = harness.new_org(with_key=False)
    invitation = _invite(client, org.coordinator, Role.LINK_WORKER)
    assert [entry.invitation_id for entry in _pending(client, org.coordinator)] == [invitation.invitation_id]
    clock.advance(days=15)
    login = {"email": org.coordinator.email, "auth_key": b64encode(org.coordinator.auth_key), "device_name": "Phone"}
    grant = client.post("/v1/auth/login", json=login).json()
    response = client.get("/v1/invitations", headers={"Authorization": f"Bearer {grant['access_token']}"})
    assert PendingInvitationList.model_validate(response.json()).invitations == []


def test_only_coordinators_and_only_their_own_organisation(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    invitation = _invite(client, org.coordinator, Role.LINK_WORKER)
    other = harness.new_org(with_key=False)
    url = f"/v1/invitations/{invitation.invitation_id}/cancel"
    for member in (worker, mentor):
        problem(client.get("/v1/org/members", headers=member.headers), 403, "coordinators_only")
        problem(client.get("/v1/invitations", headers=member.headers), 403, "coordinators_only")
        problem(client.post(url, headers=member.headers), 403, "coordinators_only")
    problem(client.post(url, headers=other.coordinator.headers), 404, "invitation_not_found")
    assert invitation.invitation_id not in {entry.invitation_id for entry in _pending(client, other.coordinator)}
    problem(
        client.post("/v1/invitations/00000000-0000-4000-8000-000000000000/cancel", headers=org.coordinator.headers),
        404,
        "invitation_not_found",
    )
    problem(client.post("/v1/invitations/not-an-id/cancel", headers=org.coordinator.headers), 422, "validation_failed")
    problem(client.get("/v1/org/members"), 401)
    # Still pending for its own organisation.
    assert [entry.invitation_id for entry in _pending(client, org.coordinator)] == [invitation.invitation_id]
