"""The coordinator's team: members, pending invitations and cancelling one (account data only)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import Session

from shared.crypto import b64encode, generate_key_pair, random_key, seal
from shared.kinds import Tier
from shared.protocol import (
    AuditPage,
    CaseMentors,
    Invitation,
    KeyGrantIn,
    MemberRemoval,
    PendingInvitation,
    PendingInvitationList,
    Role,
    SessionGrant,
    TeamMember,
    TeamMemberList,
    case_key_id,
)
from sync_server.errors import Conflict
from sync_server.services import team
from sync_server.services.caller import AuthenticatedDevice
from tests.server.helpers import (
    Harness,
    Member,
    MovableClock,
    Org,
    bearer,
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


def case_key_grant_to(org: Org, case_id: str, mentor: Member) -> KeyGrantIn:
    """The person's basic key sealed to a mentor (what assigning does on the coordinator's phone)."""
    key_id = case_key_id(case_id, Tier.BASIC, 1)
    return KeyGrantIn(
        grant_id=new_id(),
        key_id=key_id,
        case_id=case_id,
        recipient_kind="user",
        recipient_id=mentor.user_id,
        wrapped_with=f"user:{mentor.user_id}",
        wrapped=seal(mentor.key_pair.public_key, org.case_key(case_id, Tier.BASIC), context=key_id.encode()),
    )


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


# --- removing a member -------------------------------------------------------------------------


def _login(client: TestClient, member: Member, device_name: str = "Tablet") -> SessionGrant:
    body = {"email": member.email, "auth_key": b64encode(member.auth_key), "device_name": device_name}
    response = client.post("/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return SessionGrant.model_validate(response.json())


def _remove(client: TestClient, coordinator: Member, member: Member) -> MemberRemoval:
    response = client.post(f"/v1/org/members/{member.user_id}/remove", headers=coordinator.headers)
    assert response.status_code == 200, response.text
    return MemberRemoval.model_validate(response.json())


def test_removing_a_mentor_signs_out_every_device_and_ends_their_assignments(
    harness: Harness, client: TestClient, clock: MovableClock
) -> None:
    org = harness.new_org()
    mentor = harness.join(org, Role.PEER_MENTOR)
    kept_mentor = harness.join(org, Role.PEER_MENTOR)
    tablet = _login(client, mentor)  # a second device and a second refresh token family
    first, second = _person(harness, org, "Jade"), _person(harness, org, "Dean")
    for case_id in (first, second):
        for who in (mentor, kept_mentor):
            response = client.post(f"/v1/cases/{case_id}/mentors/{who.user_id}", headers=org.coordinator.headers)
            assert response.status_code == 200, response.text
    assert _members(client, org.coordinator)[mentor.user_id].device_count == 2

    removal = _remove(client, org.coordinator, mentor)
    assert removal.member.user_id == mentor.user_id
    assert removal.member.removed_at_ms is not None
    assert removal.member.device_count == 0
    assert removal.member.assigned_case_ids == []
    assert removal.removed_by_user_id == org.coordinator.user_id
    assert removal.ended_case_ids == [first, second]

    # Both devices are signed out: their tokens stop at once and say so (the phone erases itself).
    for headers in (mentor.headers, bearer(tablet.access_token)):
        problem(client.get("/v1/sync/pull", headers=headers), 401, "device_revoked")
    for grant in (mentor.grant, tablet):
        problem(client.post("/v1/auth/refresh", json={"refresh_token": grant.refresh_token}), 401, "device_revoked")
    # Signing in again gets exactly the answer a wrong password gets.
    refused = client.post(
        "/v1/auth/login",
        json={"email": mentor.email, "auth_key": b64encode(mentor.auth_key), "device_name": "New phone"},
    )
    wrong = client.post(
        "/v1/auth/login",
        json={"email": kept_mentor.email, "auth_key": b64encode(random_key()), "device_name": "New phone"},
    )
    problem(refused, 401, "sign_in_failed")
    assert refused.json() == wrong.json()

    # Their assignments ended as unassigning does; the other mentor's stand. A removed mentor is
    # offered for nobody and cannot be assigned again, nor given a key, nor a reset code.
    for case_id in (first, second):
        listed = CaseMentors.model_validate(
            client.get(f"/v1/cases/{case_id}/mentors", headers=org.coordinator.headers).json()
        )
        assert [entry.user_id for entry in listed.assigned] == [kept_mentor.user_id]
        assert mentor.user_id not in {entry.user_id for entry in listed.available}
    problem(
        client.post(f"/v1/cases/{first}/mentors/{mentor.user_id}", headers=org.coordinator.headers),
        409,
        "member_removed",
    )
    sealed = harness.push(org.coordinator, grants=[case_key_grant_to(org, first, mentor)])
    assert sealed.grant_results[0].status == "rejected"
    problem(
        client.post(f"/v1/members/{mentor.user_id}/password-reset", headers=org.coordinator.headers),
        409,
        "member_removed",
    )

    # The members list shows them as removed, after everyone active, never as an active mentor.
    listed_members = TeamMemberList.model_validate(
        client.get("/v1/org/members", headers=org.coordinator.headers).json()
    ).members
    assert listed_members[-1].user_id == mentor.user_id
    assert listed_members[-1].removed_at_ms == removal.member.removed_at_ms
    assert all(entry.removed_at_ms is None for entry in listed_members[:-1])

    # Idempotent: again is 200 with the same answer, and nothing more in the audit trail.
    clock.advance(seconds=5)
    assert _remove(client, org.coordinator, mentor) == removal
    trail = AuditPage.model_validate(client.get("/v1/audit", headers=org.coordinator.headers).json())
    removals = [entry for entry in trail.entries if entry.action == "member_removed"]
    assert len(removals) == 1
    assert removals[0].details == {"user_id": mentor.user_id, "role": "peer_mentor", "devices": 2, "assignments": 2}
    unassigned = [entry for entry in trail.entries if entry.action == "mentor_unassigned"]
    assert {entry.details["case_id"] for entry in unassigned} == {first, second}


def test_removing_a_link_worker_ends_their_access_and_no_key_waits_for_them(
    harness: Harness, client: TestClient
) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    newcomer = harness.join(org, Role.LINK_WORKER)  # the organisation key has not reached them yet
    harness.push(org.coordinator, grants=[org_key_grant(org, worker)])
    waiting = {entry.user_id for entry in harness.pull(org.coordinator).members_awaiting_key}
    assert newcomer.user_id in waiting

    _remove(client, org.coordinator, worker)
    _remove(client, org.coordinator, newcomer)
    assert harness.pull(org.coordinator).members_awaiting_key == []  # a removed member waits for nothing
    rejected = harness.push(org.coordinator, grants=[org_key_grant(org, newcomer)]).grant_results[0]
    assert rejected.status == "rejected"
    assert rejected.reason == "not_entitled"
    members = _members(client, org.coordinator)
    assert not members[worker.user_id].holds_organisation_key  # listed as removed, not as holding access
    assert members[worker.user_id].removed_at_ms is not None
    problem(client.get("/v1/sync/pull", headers=worker.headers), 401, "device_revoked")


def test_what_removing_refuses(harness: Harness, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    other = harness.new_org(with_key=False)
    outsider = harness.join(other, Role.LINK_WORKER)

    def remove(by: Member, user_id: str) -> Any:
        return client.post(f"/v1/org/members/{user_id}/remove", headers=by.headers)

    body = problem(remove(org.coordinator, org.coordinator.user_id), 409, "cannot_remove_yourself")
    assert "another coordinator" in body.detail
    problem(remove(org.coordinator, outsider.user_id), 404, "member_not_found")
    problem(remove(org.coordinator, "00000000-0000-4000-8000-000000000000"), 404, "member_not_found")
    problem(remove(org.coordinator, "not-an-id"), 422, "validation_failed")
    for caller in (worker, mentor):
        problem(remove(caller, mentor.user_id), 403, "coordinators_only")
    problem(client.post(f"/v1/org/members/{worker.user_id}/remove"), 401)
    # Nothing changed for anyone refused.
    assert all(entry.removed_at_ms is None for entry in _members(client, org.coordinator).values())
    assert _members(client, other.coordinator)[outsider.user_id].removed_at_ms is None


def test_two_coordinators_removing_each_other_leave_one(harness: Harness, app: FastAPI, client: TestClient) -> None:
    org = harness.new_org(with_key=False)
    second = harness.join(org, Role.COORDINATOR)
    # The second coordinator's request was authenticated just before the first one's removal committed.
    raced = AuthenticatedDevice(
        user_id=second.user_id, device_id=second.device_id, org_id=org.org_id, role=Role.COORDINATOR
    )
    _remove(client, org.coordinator, second)
    with Session(app.state.engine, expire_on_commit=False) as session, pytest.raises(Conflict) as refused:
        team.remove_member(app.state.context, session, raced, org.coordinator.user_id)
    assert refused.value.code == "last_coordinator"
    assert _members(client, org.coordinator)[org.coordinator.user_id].removed_at_ms is None
