"""Peer mentor assignment on the server: the endpoints, what a mentor's pull holds, and purges."""

from __future__ import annotations

from shared.crypto import seal
from shared.kinds import Tier
from shared.protocol import CaseMentors, KeyGrantIn, Role, case_key_id
from tests.server.helpers import (
    Harness,
    Member,
    Org,
    case_key_grant,
    contact_change,
    new_id,
    person_change,
    problem,
)


def _url(case_id: str, user_id: str | None = None) -> str:
    return f"/v1/cases/{case_id}/mentors" + (f"/{user_id}" if user_id else "")


def _assign(harness: Harness, org: Org, case_id: str, mentor: Member) -> CaseMentors:
    response = harness.client.post(_url(case_id, mentor.user_id), headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    return CaseMentors.model_validate(response.json())


def _unassign(harness: Harness, org: Org, case_id: str, mentor: Member) -> CaseMentors:
    response = harness.client.delete(_url(case_id, mentor.user_id), headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    return CaseMentors.model_validate(response.json())


def _basic_grant_for(org: Org, case_id: str, mentor: Member, version: int = 1) -> KeyGrantIn:
    key_id = case_key_id(case_id, Tier.BASIC, version)
    return KeyGrantIn(
        grant_id=new_id(),
        key_id=key_id,
        case_id=case_id,
        recipient_kind="user",
        recipient_id=mentor.user_id,
        wrapped_with=f"user:{mentor.user_id}",
        wrapped=seal(mentor.key_pair.public_key, org.case_key(case_id, Tier.BASIC), context=b"case"),
    )


def _person(harness: Harness, org: Org) -> str:
    person = new_id()
    coordinator = org.coordinator
    harness.push(
        coordinator,
        [
            person_change(org, coordinator, person, "name", "Sam"),
            person_change(org, coordinator, person, "risk", "Keep to public places"),
            contact_change(org, coordinator, person, tier=Tier.BASIC),
            contact_change(org, coordinator, person, tier=Tier.FULL),
        ],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    return person


def test_assign_list_and_unassign(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    ada = harness.join(org, Role.PEER_MENTOR)
    bo = harness.join(org, Role.PEER_MENTOR)
    listed = CaseMentors.model_validate(harness.client.get(_url(person), headers=org.coordinator.headers).json())
    assert listed.assigned == []
    assert {mentor.user_id for mentor in listed.available} == {ada.user_id, bo.user_id}
    assert all(mentor.public_key for mentor in listed.available)
    assigned = _assign(harness, org, person, ada)
    assert [mentor.user_id for mentor in assigned.assigned] == [ada.user_id]
    assert [mentor.user_id for mentor in _assign(harness, org, person, ada).assigned] == [ada.user_id]  # idempotent
    assert [mentor.user_id for mentor in _unassign(harness, org, person, ada).assigned] == []
    problem(harness.client.delete(_url(person, ada.user_id), headers=org.coordinator.headers), 409, "not_assigned")
    assert [mentor.user_id for mentor in _assign(harness, org, person, ada).assigned] == [ada.user_id]


def test_bad_assignments_are_clear_problems(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    mentor = harness.join(org, Role.PEER_MENTOR)
    worker = harness.join(org, Role.LINK_WORKER)
    other = harness.new_org()
    outsider = harness.join(other, Role.PEER_MENTOR)
    headers = org.coordinator.headers
    body = problem(harness.client.post(_url(person, worker.user_id), headers=headers), 409, "not_a_mentor")
    assert "not a peer mentor" in body.detail
    problem(harness.client.post(_url(person, outsider.user_id), headers=headers), 404, "member_not_found")
    problem(harness.client.post(_url(new_id(), mentor.user_id), headers=headers), 404, "case_not_found")
    other_person = _person(harness, other)
    problem(harness.client.post(_url(other_person, mentor.user_id), headers=headers), 404, "case_not_found")
    for caller in (worker, mentor):
        problem(harness.client.post(_url(person, mentor.user_id), headers=caller.headers), 403, "coordinators_only")
        problem(harness.client.get(_url(person), headers=caller.headers), 403, "coordinators_only")
    problem(harness.client.post(_url("not-a-case", mentor.user_id), headers=headers), 422)


def test_mentor_pull_holds_basic_versions_of_assigned_cases_and_purges_on_unassign(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    other_person = _person(harness, org)
    mentor = harness.join(org, Role.PEER_MENTOR)
    before = harness.pull(mentor)
    assert before.versions == []
    assert before.purges == []
    _assign(harness, org, person, mentor)
    grant = _basic_grant_for(org, person, mentor)
    assert harness.push(org.coordinator, grants=[grant]).grant_results[0].status == "accepted"
    # A full-tier key may not be sealed to a mentor, nor any key of a case not assigned to them.
    full = _basic_grant_for(org, person, mentor).model_copy(update={"key_id": case_key_id(person, Tier.FULL, 1)})
    other = _basic_grant_for(org, other_person, mentor)
    assert [r.reason for r in harness.push(org.coordinator, grants=[full, other]).grant_results] == [
        "not_entitled",
        "not_entitled",
    ]
    # Assigned after the versions were written, even a device whose cursor is past them gets them.
    page = harness.pull(mentor, since=before.next)
    assert {version.case_id for version in page.versions} == {person}
    assert {version.tier for version in page.versions} == {Tier.BASIC}
    assert {(version.kind, version.field) for version in page.versions} == {("person", "name"), ("contact", "entry")}
    assert [g.grant_id for g in page.key_grants] == [grant.grant_id]
    assert page.purges == []
    # The mentor writes a basic contact; the worker-side pull sees it.
    assert harness.push(mentor, [contact_change(org, mentor, person)]).results[0].status == "accepted"

    _unassign(harness, org, person, mentor)
    harness.push(org.coordinator, [contact_change(org, org.coordinator, person)])
    after = harness.pull(mentor, since=page.next)
    assert after.versions == []
    assert after.key_grants == []
    assert [purge.case_id for purge in after.purges] == [person]
    assert after.next > page.next
    # An offline device (cursor from before) also gets the purge, and no versions.
    stale = harness.pull(mentor, since=0)
    assert stale.versions == []
    assert stale.key_grants == []
    assert [purge.case_id for purge in stale.purges] == [person]
    # Once past it, the purge is not repeated.
    assert harness.pull(mentor, since=after.next).purges == []
    # Re-assigning delivers the case again and sends no purge.
    _assign(harness, org, person, mentor)
    again = harness.pull(mentor, since=after.next)
    assert again.purges == []
    assert {version.case_id for version in again.versions} == {person}
    assert harness.pull(mentor, since=0).purges == []


def test_assignment_changes_are_audited(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    mentor = harness.join(org, Role.PEER_MENTOR)
    _assign(harness, org, person, mentor)
    _unassign(harness, org, person, mentor)
    harness.pull(mentor)
    response = harness.client.get("/v1/audit", headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    actions = [entry["action"] for entry in response.json()["entries"]]
    assert {"mentor_assigned", "mentor_unassigned", "case_purged"} <= set(actions)


def test_the_back_fill_of_a_new_assignment_is_sent_once(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    mentor = harness.join(org, Role.PEER_MENTOR)
    harness.push(org.coordinator, [contact_change(org, org.coordinator, person, tier=Tier.FULL)])
    cursor = harness.pull(mentor).next  # a device that synced before the assignment
    _assign(harness, org, person, mentor)
    first = harness.pull(mentor, since=cursor)
    assert {version.case_id for version in first.versions} == {person}
    assert {version.tier for version in first.versions} == {Tier.BASIC}
    assert first.next > cursor  # past the assignment, although nothing newer was written
    assert harness.pull(mentor, since=first.next).versions == []
