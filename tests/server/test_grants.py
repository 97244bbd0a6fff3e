"""Key grants in a push: who may add which key for whom, and who receives them on pull."""

from __future__ import annotations

from shared.crypto import random_key, seal, wrap_key
from shared.kinds import Tier
from shared.protocol import ChangeStatus, KeyGrantIn, RejectReason, Role, case_key_id, org_key_id
from tests.server.helpers import (
    Harness,
    case_key_grant,
    contact_change,
    new_id,
    org_key_grant,
    person_change,
)


def _expect(results: list, expected: list[str | None]) -> None:  # type: ignore[type-arg]
    assert len(results) == len(expected)
    for result, reason in zip(results, expected, strict=True):
        if reason is None:
            assert result.status is ChangeStatus.ACCEPTED, result
        elif reason == "duplicate":
            assert result.status is ChangeStatus.DUPLICATE, result
        else:
            assert (result.status, result.reason) == (ChangeStatus.REJECTED, RejectReason(reason)), (reason, result)
            assert result.detail


def test_case_key_grants_from_a_link_worker(harness: Harness) -> None:
    org = harness.new_org()
    other = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    other_person = new_id()
    harness.push(other.coordinator, [person_change(other, other.coordinator, other_person)])
    person = new_id()
    good = case_key_grant(org, person, Tier.FULL)
    mismatched_case = case_key_grant(org, person, Tier.BASIC)
    grants = [
        good,
        good,
        case_key_grant(org, person, Tier.BASIC, recipient_id=other.org_id),
        case_key_grant(org, person, key_id=org_key_id(org.org_id, 1)),
        KeyGrantIn(**{**mismatched_case.model_dump(), "case_id": new_id()}),
        case_key_grant(org, person, wrapped_with=org_key_id(org.org_id, 2)),
        case_key_grant(org, person, wrapped_with=org_key_id(other.org_id, 1)),
        case_key_grant(org, other_person),  # a case of another organisation
        org_key_grant(org, worker),  # only coordinators give keys to members
        case_key_grant(org, person, Tier.BASIC),
    ]
    pushed = harness.push(worker, grants=grants)
    _expect(
        pushed.grant_results,
        [
            None,
            "duplicate_in_batch",
            "wrong_organisation",
            "wrong_key",
            "wrong_key",
            "wrong_key",
            "wrong_key",
            "wrong_organisation",
            "not_entitled",
            None,
        ],
    )
    assert [r.seq for r in pushed.grant_results if r.seq] == [3, 4]

    again = harness.push(worker, grants=[good])
    _expect(again.grant_results, ["duplicate"])
    assert again.grant_results[0].seq == 3
    changed = KeyGrantIn(**{**good.model_dump(), "wrapped": '{"v":1,"x":2}'})
    _expect(harness.push(worker, grants=[changed]).grant_results, ["conflicting_duplicate"])


def test_grants_to_members_need_a_coordinator_and_a_fitting_recipient(harness: Harness) -> None:
    org = harness.new_org()
    other = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    outsider = harness.join(other, Role.LINK_WORKER)
    person = new_id()
    basic_for_mentor = KeyGrantIn(
        grant_id=new_id(),
        key_id=case_key_id(person, Tier.BASIC, 1),
        case_id=person,
        recipient_kind="user",
        recipient_id=mentor.user_id,
        wrapped_with=f"user:{mentor.user_id}",
        wrapped=seal(mentor.key_pair.public_key, org.case_key(person, Tier.BASIC), context=b"case"),
    )
    full_for_worker = KeyGrantIn(
        grant_id=new_id(),
        key_id=case_key_id(person, Tier.FULL, 1),
        case_id=person,
        recipient_kind="user",
        recipient_id=worker.user_id,
        wrapped_with=f"user:{worker.user_id}",
        wrapped=seal(worker.key_pair.public_key, org.case_key(person, Tier.FULL), context=b"case"),
    )
    grants = [
        org_key_grant(org, worker),
        org_key_grant(org, outsider),
        org_key_grant(org, mentor),
        org_key_grant(org, worker, wrapped_with=f"user:{org.coordinator.user_id}"),
        org_key_grant(org, worker, key_id=org_key_id(org.org_id, 2)),
        org_key_grant(org, worker, key_id=org_key_id(other.org_id, 1)),
        basic_for_mentor,  # no mentor assignments exist yet
        full_for_worker,
    ]
    pushed = harness.push(org.coordinator, grants=grants)
    _expect(
        pushed.grant_results,
        [None, "wrong_organisation", "not_entitled", "wrong_key", "wrong_key", "wrong_key", "not_entitled", None],
    )


def test_peer_mentors_and_keyless_organisations_add_no_case_keys(harness: Harness) -> None:
    org = harness.new_org()
    mentor = harness.join(org, Role.PEER_MENTOR)
    _expect(harness.push(mentor, grants=[case_key_grant(org, new_id())]).grant_results, ["not_entitled"])

    keyless = harness.new_org(with_key=False)
    grant = KeyGrantIn(
        grant_id=new_id(),
        key_id=case_key_id(person := new_id(), Tier.FULL, 1),
        case_id=person,
        recipient_kind="organisation",
        recipient_id=keyless.org_id,
        wrapped_with=org_key_id(keyless.org_id, 1),
        wrapped=wrap_key(random_key(), random_key(), context=b"case"),
    )
    _expect(harness.push(keyless.coordinator, grants=[grant]).grant_results, ["wrong_key"])


def test_pull_delivers_only_to_entitled_recipients(harness: Harness) -> None:
    org = harness.new_org()
    other = harness.new_org()
    worker, colleague = harness.join(org, Role.LINK_WORKER), harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    person = new_id()
    to_worker = org_key_grant(org, worker)
    to_colleague = org_key_grant(org, colleague)
    harness.push(org.coordinator, grants=[to_worker, to_colleague])
    harness.push(
        worker,
        [person_change(org, worker, person), contact_change(org, worker, person)],
        [case_key_grant(org, person, Tier.FULL), case_key_grant(org, person, Tier.BASIC)],
    )

    def grant_ids(member: object) -> set[str]:
        return {g.grant_id for page in harness.pull_all(member) for g in page.key_grants}  # type: ignore[arg-type]

    def version_count(member: object) -> int:
        return sum(len(page.versions) for page in harness.pull_all(member))  # type: ignore[arg-type]

    worker_grants = grant_ids(worker)
    assert to_worker.grant_id in worker_grants
    assert to_colleague.grant_id not in worker_grants
    assert to_colleague.grant_id in grant_ids(colleague)
    assert to_worker.grant_id not in grant_ids(colleague)
    coordinator_grants = grant_ids(org.coordinator)
    assert to_worker.grant_id not in coordinator_grants
    assert to_colleague.grant_id not in coordinator_grants
    assert len(worker_grants) == 1 + 1 + 2  # own org key, org private key, two case keys
    assert version_count(worker) == version_count(colleague) == version_count(org.coordinator) == 2

    mentor_view = harness.pull(mentor)
    assert mentor_view.versions == []
    assert mentor_view.key_grants == []
    assert mentor_view.next == 0
    assert not mentor_view.has_more

    outsider_view = harness.pull(other.coordinator)
    assert outsider_view.versions == []
    assert {g.org_id for g in outsider_view.key_grants} == {other.org_id}
    assert len(outsider_view.key_grants) == 2  # its own key setup


def test_one_content_per_case_key_version_a_second_rotation_is_refused(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    case_id = new_id()
    harness.push(
        org.coordinator, [person_change(org, org.coordinator, case_id)], [case_key_grant(org, case_id, Tier.BASIC)]
    )
    assert org.org_key is not None
    key_id = case_key_id(case_id, Tier.BASIC, 2)
    first = case_key_grant(
        org, case_id, Tier.BASIC, key_id=key_id, wrapped=wrap_key(org.org_key, random_key(), context=key_id.encode())
    )
    second = case_key_grant(
        org, case_id, Tier.BASIC, key_id=key_id, wrapped=wrap_key(org.org_key, random_key(), context=key_id.encode())
    )
    _expect(harness.push(worker, grants=[first]).grant_results, [None])
    refused = harness.push(org.coordinator, grants=[second]).grant_results
    _expect(refused, [RejectReason.KEY_VERSION_TAKEN])
    assert "sync to receive it" in (refused[0].detail or "")
    _expect(harness.push(worker, grants=[first]).grant_results, ["duplicate"])  # the same grant again
    # Two versions in one push: the second is refused too.
    key_3 = case_key_id(case_id, Tier.BASIC, 3)
    twins = [
        case_key_grant(
            org, case_id, Tier.BASIC, key_id=key_3, wrapped=wrap_key(org.org_key, random_key(), context=key_3.encode())
        )
        for _ in range(2)
    ]
    _expect(harness.push(worker, grants=twins).grant_results, [None, RejectReason.KEY_VERSION_TAKEN])
