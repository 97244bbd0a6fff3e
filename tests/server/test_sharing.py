"""Sharing with partner organisations on the server: the scope it enforces, what a partner's pull
holds, refused forged or over-scoped shares, withdrawal and expiry (delivery stops, purges), rotation."""

from __future__ import annotations

from typing import Any

from shared.crypto import open_sealed, seal
from shared.kinds import Tier
from shared.protocol import (
    KeyGrantIn,
    OrganisationDirectory,
    Role,
    RotationDue,
    SharedPullResponse,
    ShareInfo,
    ShareList,
    SharingGrantsResult,
    case_key_id,
    org_private_key_id,
)
from tests.server.helpers import (
    Harness,
    Member,
    MovableClock,
    Org,
    case_key_grant,
    contact_change,
    make_change,
    new_id,
    now_ms,
    person_change,
    problem,
)


def _person(harness: Harness, org: Org) -> str:
    person = new_id()
    coordinator = org.coordinator
    response = harness.push(
        coordinator,
        [
            person_change(org, coordinator, person, "name", "Sam"),
            person_change(org, coordinator, person, "risk_summary", "Keep to public places"),
            contact_change(org, coordinator, person, tier=Tier.BASIC),
            contact_change(org, coordinator, person, tier=Tier.FULL),
        ],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    assert all(result.status == "accepted" for result in response.results), response
    return person


def _consent_record(harness: Harness, org: Org, member: Member, case_id: str) -> str:
    record_id = new_id()
    change = make_change(
        org, member, record_id=record_id, case_id=case_id, kind="consent", field="entry", tier=Tier.FULL,
        value={"action": "given"},
    )  # fmt: skip
    assert harness.push(member, [change]).results[0].status == "accepted"
    return record_id


def _sealed(owner: Org, partner: Org, case_id: str, tier: Tier, version: int = 1, **overrides: Any) -> dict[str, Any]:
    assert partner.org_key_pair is not None
    key_id = case_key_id(case_id, tier, version)
    values: dict[str, Any] = {
        "grant_id": new_id(),
        "key_id": key_id,
        "case_id": case_id,
        "recipient_kind": "organisation",
        "recipient_id": partner.org_id,
        "wrapped_with": org_private_key_id(partner.org_id, 1),
        "wrapped": seal(partner.org_key_pair.public_key, owner.case_key(case_id, tier), context=key_id.encode()),
    }
    values.update(overrides)
    return values


def _share_body(
    harness: Harness,
    owner: Org,
    partner: Org,
    case_id: str,
    tiers: tuple[Tier, ...] = (Tier.BASIC,),
    *,
    member: Member | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    member = member or owner.coordinator
    body: dict[str, Any] = {
        "share_id": new_id(),
        "case_id": case_id,
        "partner_org_id": partner.org_id,
        "tiers": [tier.value for tier in tiers],
        "basis": "consent",
        "record_id": _consent_record(harness, owner, member, case_id),
        "starts_at_ms": now_ms(),
        "expires_at_ms": now_ms() + 90 * 86_400_000,
        "key_grants": [_sealed(owner, partner, case_id, tier) for tier in tiers],
    }
    body.update(overrides)
    return body


def _share(harness: Harness, member: Member, body: dict[str, Any]) -> ShareInfo:
    response = harness.client.post("/v1/sharing/shares", json=body, headers=member.headers)
    assert response.status_code == 200, response.text
    return ShareInfo.model_validate(response.json())


def _shared_pull(harness: Harness, member: Member, cursors: dict[str, int] | None = None) -> SharedPullResponse:
    response = harness.client.post("/v1/sharing/pull", json={"cursors": cursors or {}}, headers=member.headers)
    assert response.status_code == 200, response.text
    return SharedPullResponse.model_validate(response.json())


def _withdraw(harness: Harness, owner: Org, member: Member, share: ShareInfo) -> RotationDue:
    record_id = _consent_record(harness, owner, member, share.case_id)
    response = harness.client.post(
        f"/v1/sharing/shares/{share.share_id}/withdraw", json={"record_id": record_id}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    return RotationDue.model_validate(response.json())


def _two_orgs(harness: Harness) -> tuple[Org, Org, Member, str]:
    owner, partner = harness.new_org(), harness.new_org()
    return owner, partner, harness.join(partner, Role.LINK_WORKER), _person(harness, owner)


def test_the_directory_lists_other_organisations_names_and_public_keys(harness: Harness) -> None:
    owner, partner = harness.new_org(), harness.new_org()
    not_ready = harness.new_org(with_key=False)
    worker = harness.join(owner, Role.LINK_WORKER)
    response = harness.client.get("/v1/organisations", headers=worker.headers)
    assert response.status_code == 200, response.text
    listed = {entry.org_id: entry for entry in OrganisationDirectory.model_validate(response.json()).organisations}
    assert partner.org_id in listed
    assert listed[partner.org_id].public_key
    assert owner.org_id not in listed  # never your own
    assert not_ready.org_id not in listed  # nothing could be sealed to it
    mentor = harness.join(owner, Role.PEER_MENTOR)
    problem(harness.client.get("/v1/organisations", headers=mentor.headers), 403, "full_members_only")


def test_a_partner_receives_exactly_the_shared_tiers_of_the_shared_case(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    other_person = _person(harness, owner)
    worker = harness.join(owner, Role.LINK_WORKER)
    share = _share(harness, worker, _share_body(harness, owner, partner, person, member=worker))
    assert share.active
    assert share.tiers == [Tier.BASIC]
    assert share.partner_org_name
    assert share.created_by_name

    pulled = _shared_pull(harness, reader)
    [page] = [page for page in pulled.pages if page.owner_org_id == owner.org_id]
    assert {version.case_id for version in page.versions} == {person}
    assert {version.tier for version in page.versions} == {Tier.BASIC}
    assert {(version.kind, version.field) for version in page.versions} == {("person", "name"), ("contact", "entry")}
    assert [grant.key_id for grant in page.key_grants] == [case_key_id(person, Tier.BASIC, 1)]
    assert [s.share_id for s in page.shares] == [share.share_id]
    assert page.purges == []
    # The grant opens with the partner organisation's private key, and the key opens the versions.
    assert partner.org_key_pair is not None
    key = open_sealed(
        partner.org_key_pair.private_key, page.key_grants[0].wrapped, context=page.key_grants[0].key_id.encode()
    )
    assert key == owner.case_key(person, Tier.BASIC)
    assert other_person not in {version.case_id for version in page.versions}

    # New writes in the shared tier follow; the full tier never does.
    harness.push(owner.coordinator, [contact_change(owner, owner.coordinator, person, tier=Tier.FULL)])
    newer_id = new_id()
    harness.push(owner.coordinator, [contact_change(owner, owner.coordinator, person, newer_id)])
    later = _shared_pull(harness, reader, {owner.org_id: page.next}).pages[0]
    assert [version.record_id for version in later.versions] == [newer_id]

    # The partner's ordinary pull holds nothing of the owner; its peer mentors and a third organisation get nothing.
    assert all(version.org_id == partner.org_id for version in harness.pull(reader).versions)
    partner_mentor = harness.join(partner, Role.PEER_MENTOR)
    assert _shared_pull(harness, partner_mentor).pages == []
    stranger = harness.join(harness.new_org(), Role.LINK_WORKER)
    assert _shared_pull(harness, stranger).pages == []

    # The partner reads but cannot write to the owner's case.
    refused = harness.push(reader, [contact_change(partner, reader, person)]).results[0]
    assert refused.status == "rejected"
    assert refused.reason == "wrong_case"


def test_forged_and_over_scoped_shares_are_refused_with_problems(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    third = harness.new_org()
    headers = owner.coordinator.headers

    def refused(status: int, code: str, tiers: tuple[Tier, ...] = (Tier.BASIC,), **overrides: Any) -> None:
        body = {**_share_body(harness, owner, partner, person, tiers), **overrides}
        problem(harness.client.post("/v1/sharing/shares", json=body, headers=headers), status, code)

    # A key of a tier not shared, sealed elsewhere, of another case, or for another organisation.
    refused(422, "invalid_key_grants", key_grants=[_sealed(owner, partner, person, Tier.FULL)])
    refused(422, "invalid_key_grants", key_grants=[_sealed(owner, partner, person, Tier.BASIC, wrapped_with="org:x")])
    other_case = _person(harness, owner)
    refused(422, "invalid_key_grants", key_grants=[_sealed(owner, partner, other_case, Tier.BASIC)])
    refused(422, "invalid_key_grants", key_grants=[_sealed(owner, third, person, Tier.BASIC)])
    refused(
        422,
        "missing_key_grants",
        tiers=(Tier.BASIC, Tier.FULL),
        key_grants=[_sealed(owner, partner, person, Tier.BASIC)],
    )
    refused(422, "invalid_tiers", tiers=(Tier.BASIC, Tier.BASIC))
    refused(422, "already_expired", expires_at_ms=now_ms() - 1000)
    refused(422, "starts_in_future", starts_at_ms=now_ms() + 10 * 86_400_000)
    refused(409, "consent_record_missing", record_id=new_id())
    refused(422, "own_organisation", partner_org_id=owner.org_id)
    refused(404, "unknown_organisation", partner_org_id=new_id())
    refused(404, "case_not_found", case_id=_person(harness, third))
    not_ready = harness.new_org(with_key=False)
    refused(409, "partner_not_ready", partner_org_id=not_ready.org_id)
    # A person of this organisation, but the consent record of another person.
    other_consent = _consent_record(harness, owner, owner.coordinator, other_case)
    refused(409, "consent_record_missing", record_id=other_consent)
    # Bad input is a 422 problem, never a 500.
    problem(harness.client.post("/v1/sharing/shares", json={"case_id": "x"}, headers=headers), 422)
    body = _share_body(harness, owner, partner, person)
    body["tiers"] = ["secret"]
    problem(harness.client.post("/v1/sharing/shares", json=body, headers=headers), 422)
    # Only coordinators and link workers share, and only their own organisation's people.
    mentor = harness.join(owner, Role.PEER_MENTOR)
    problem(
        harness.client.post(
            "/v1/sharing/shares", json=_share_body(harness, owner, partner, person), headers=mentor.headers
        ),
        403,
        "full_members_only",
    )
    problem(
        harness.client.post(
            "/v1/sharing/shares", json=_share_body(harness, owner, partner, person), headers=reader.headers
        ),
        404,
        "case_not_found",
    )
    # Nothing of the refused shares is delivered.
    assert [page for page in _shared_pull(harness, reader).pages if page.owner_org_id == owner.org_id] == []

    first = _share_body(harness, owner, partner, person)
    share = _share(harness, owner.coordinator, first)
    assert _share(harness, owner.coordinator, first) == share  # a replay is the same share
    problem(harness.client.post("/v1/sharing/shares", json={**first, "tiers": ["basic"], "expires_at_ms": None},
                                headers=headers), 409, "share_exists")  # fmt: skip
    refused(409, "already_shared")


def test_withdrawal_stops_delivery_at_once_purges_and_hands_over_the_rotation(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    mentor = harness.join(owner, Role.PEER_MENTOR)
    assigned = harness.client.post(f"/v1/cases/{person}/mentors/{mentor.user_id}", headers=owner.coordinator.headers)
    assert assigned.status_code == 200, assigned.text
    still = harness.new_org()
    share = _share(harness, owner.coordinator, _share_body(harness, owner, partner, person, (Tier.BASIC, Tier.FULL)))
    other_share = _share(harness, owner.coordinator, _share_body(harness, owner, still, person))
    page = next(p for p in _shared_pull(harness, reader).pages if p.owner_org_id == owner.org_id)
    assert {version.tier for version in page.versions} == {Tier.BASIC, Tier.FULL}

    worker = harness.join(owner, Role.LINK_WORKER)
    due = _withdraw(harness, owner, worker, share)
    assert due.case_id == person
    assert due.tiers == [Tier.BASIC, Tier.FULL]
    assert [m.user_id for m in due.mentors] == [mentor.user_id]
    assert [(p.org_id, p.tiers) for p in due.partners] == [(still.org_id, [Tier.BASIC])]

    harness.push(owner.coordinator, [contact_change(owner, owner.coordinator, person)])
    after = [
        p for p in _shared_pull(harness, reader, {owner.org_id: page.next}).pages if p.owner_org_id == owner.org_id
    ]
    assert after[0].versions == []
    assert after[0].key_grants == []
    assert after[0].shares == []
    assert [(purge.case_id, purge.reason, purge.tiers) for purge in after[0].purges] == [
        (person, "sharing_ended", None)
    ]
    # A device that was offline (cursor from the start) gets the purge and nothing else.
    stale = next(p for p in _shared_pull(harness, reader).pages if p.owner_org_id == owner.org_id)
    assert stale.versions == []
    assert [purge.case_id for purge in stale.purges] == [person]

    listed = ShareList.model_validate(harness.client.get(f"/v1/cases/{person}/shares", headers=worker.headers).json())
    assert {(s.share_id, s.active) for s in listed.shares} == {(share.share_id, False), (other_share.share_id, True)}
    assert next(s for s in listed.shares if s.share_id == share.share_id).withdrawal_record_id
    problem(
        harness.client.post(
            f"/v1/sharing/shares/{share.share_id}/withdraw",
            json={"record_id": _consent_record(harness, owner, worker, person)},
            headers=worker.headers,
        ),
        409,
        "not_active",
    )
    # The withdrawing device holds the rotation; nobody else is asked to do it.
    assert share.share_id not in _shared_pull(harness, owner.coordinator).rotations_due
    problem(harness.client.post(f"/v1/sharing/shares/{share.share_id}/rotation", headers=owner.coordinator.headers),
            409, "rotation_claimed")  # fmt: skip
    # Rotated keys go to the partners still sharing, in their tiers only, never to the one that left.
    grants = {
        "key_grants": [
            _sealed(owner, still, person, Tier.BASIC, 2),
            _sealed(owner, still, person, Tier.FULL, 2),
            _sealed(owner, partner, person, Tier.BASIC, 2),
        ]
    }
    response = harness.client.post("/v1/sharing/grants", json=grants, headers=worker.headers)
    assert response.status_code == 200, response.text
    results = SharingGrantsResult.model_validate(response.json()).grant_results
    assert [(r.status, r.reason) for r in results] == [
        ("accepted", None),
        ("rejected", "not_entitled"),
        ("rejected", "not_entitled"),
    ]
    again = harness.client.post(
        "/v1/sharing/grants", json={"key_grants": grants["key_grants"][:1]}, headers=worker.headers
    )
    assert SharingGrantsResult.model_validate(again.json()).grant_results[0].status == "duplicate"
    assert _shared_pull(harness, reader).pages[0].key_grants == []


def test_expiry_stops_delivery_by_time_and_asks_the_owner_to_rotate_once(harness: Harness, clock: MovableClock) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    share = _share(
        harness, owner.coordinator, _share_body(harness, owner, partner, person, expires_at_ms=now_ms() + 60_000)
    )
    assert _shared_pull(harness, reader).pages[0].versions
    assert share.share_id not in _shared_pull(harness, owner.coordinator).rotations_due
    clock.advance(seconds=120)
    page = _shared_pull(harness, reader).pages[0]
    assert page.versions == []
    assert page.key_grants == []
    assert page.shares == []
    assert [purge.case_id for purge in page.purges] == [person]
    assert share.share_id in _shared_pull(harness, owner.coordinator).rotations_due
    claim = harness.client.post(f"/v1/sharing/shares/{share.share_id}/rotation", headers=owner.coordinator.headers)
    assert claim.status_code == 200, claim.text
    assert RotationDue.model_validate(claim.json()).tiers == [Tier.BASIC]
    # Another device of the organisation is neither asked nor allowed to rotate it too.
    worker = harness.join(owner, Role.LINK_WORKER)
    assert share.share_id not in _shared_pull(harness, worker).rotations_due
    problem(harness.client.post(f"/v1/sharing/shares/{share.share_id}/rotation", headers=worker.headers),
            409, "rotation_claimed")  # fmt: skip
    # The claiming device is asked again until the new key is stored (its answer may have been lost),
    # and a repeated claim answers the same.
    assert share.share_id in _shared_pull(harness, owner.coordinator).rotations_due
    again = harness.client.post(f"/v1/sharing/shares/{share.share_id}/rotation", headers=owner.coordinator.headers)
    assert RotationDue.model_validate(again.json()).tiers == [Tier.BASIC]
    listed = ShareList.model_validate(
        harness.client.get(f"/v1/cases/{person}/shares", headers=owner.coordinator.headers).json()
    )
    assert [s.active for s in listed.shares] == [False]


def test_a_share_made_after_the_partner_synced_brings_the_older_history_once(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    other = _person(harness, owner)
    _share(harness, owner.coordinator, _share_body(harness, owner, partner, other))
    cursor = _shared_pull(harness, reader).pages[0].next
    _share(harness, owner.coordinator, _share_body(harness, owner, partner, person, (Tier.FULL,)))
    first = _shared_pull(harness, reader, {owner.org_id: cursor}).pages[0]
    assert {(v.case_id, v.tier) for v in first.versions} == {(person, Tier.FULL)}
    assert {(v.kind, v.field) for v in first.versions} == {
        ("person", "risk_summary"),
        ("contact", "entry"),
        ("consent", "entry"),
    }
    assert [g.key_id for g in first.key_grants] == [case_key_id(person, Tier.FULL, 1)]
    assert first.next > cursor
    assert _shared_pull(harness, reader, {owner.org_id: first.next}).pages[0].versions == []


def test_narrowing_a_share_purges_the_tier_no_longer_shared(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    wide = _share(harness, owner.coordinator, _share_body(harness, owner, partner, person, (Tier.BASIC, Tier.FULL)))
    _withdraw(harness, owner, owner.coordinator, wide)
    _share(harness, owner.coordinator, _share_body(harness, owner, partner, person, (Tier.BASIC,)))
    page = _shared_pull(harness, reader).pages[0]
    assert {version.tier for version in page.versions} == {Tier.BASIC}
    assert [(p.case_id, p.tiers) for p in page.purges] == [(person, [Tier.FULL])]


def test_shares_without_consent_are_listed_for_coordinators_and_audited(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    body = _share_body(harness, owner, partner, person, basis="statutory_duty", expires_at_ms=None)
    share = _share(harness, owner.coordinator, body)
    _share(harness, owner.coordinator, _share_body(harness, owner, harness.new_org(), person))  # with consent
    response = harness.client.get("/v1/sharing/without-consent", headers=owner.coordinator.headers)
    assert response.status_code == 200, response.text
    listed = ShareList.model_validate(response.json()).shares
    assert [(s.share_id, s.basis) for s in listed] == [(share.share_id, "statutory_duty")]
    worker = harness.join(owner, Role.LINK_WORKER)
    problem(harness.client.get("/v1/sharing/without-consent", headers=worker.headers), 403, "coordinators_only")
    _shared_pull(harness, reader)
    _withdraw(harness, owner, owner.coordinator, share)
    trail = harness.client.get("/v1/audit", headers=owner.coordinator.headers).json()["entries"]
    assert {"shared", "share_withdrawn", "partner_pulled"} <= {entry["action"] for entry in trail}
    problem(harness.client.get(f"/v1/cases/{person}/shares", headers=reader.headers), 404, "case_not_found")
    problem(harness.client.post(f"/v1/sharing/shares/{share.share_id}/withdraw", json={"record_id": new_id()},
                                headers=reader.headers), 404, "share_not_found")  # fmt: skip
    problem(harness.client.post("/v1/sharing/pull", json={"cursors": {"x": -1}}, headers=reader.headers), 422)


def test_a_link_worker_seals_a_rotated_basic_key_to_the_persons_mentors_only(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    unassigned = harness.join(org, Role.PEER_MENTOR)
    colleague = harness.join(org, Role.LINK_WORKER)
    assigned = harness.client.post(f"/v1/cases/{person}/mentors/{mentor.user_id}", headers=org.coordinator.headers)
    assert assigned.status_code == 200, assigned.text

    def sealed(to: Member, tier: Tier = Tier.BASIC) -> KeyGrantIn:
        key_id = case_key_id(person, tier, 2)
        return KeyGrantIn(
            grant_id=new_id(), key_id=key_id, case_id=person, recipient_kind="user", recipient_id=to.user_id,
            wrapped_with=f"user:{to.user_id}", wrapped=seal(to.key_pair.public_key, b"k" * 64, context=b"case"),
        )  # fmt: skip

    results = harness.push(
        worker, grants=[sealed(mentor), sealed(unassigned), sealed(colleague), sealed(mentor, Tier.FULL)]
    ).grant_results
    assert [(r.status, r.reason) for r in results] == [
        ("accepted", None),
        ("rejected", "not_entitled"),
        ("rejected", "not_entitled"),
        ("rejected", "not_entitled"),
    ]


def test_erasing_a_shared_person_ends_the_share_and_the_partner_purges_it(harness: Harness) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    share = _share(harness, owner.coordinator, _share_body(harness, owner, partner, person, (Tier.BASIC, Tier.FULL)))
    page = next(p for p in _shared_pull(harness, reader).pages if p.owner_org_id == owner.org_id)
    assert {version.case_id for version in page.versions} == {person}

    erased = harness.client.post(f"/v1/cases/{person}/erase", headers=owner.coordinator.headers)
    assert erased.status_code == 200, erased.text
    for cursors in ({owner.org_id: page.next}, {}):  # a phone that synced, and one offline since the start
        after = next(p for p in _shared_pull(harness, reader, cursors).pages if p.owner_org_id == owner.org_id)
        assert after.versions == []
        assert after.key_grants == []
        assert after.shares == []
        assert [(purge.case_id, purge.tiers) for purge in after.purges] == [(person, None)]
    # The keys are gone with the person: no device of the owner is asked to rotate them.
    assert share.share_id not in _shared_pull(harness, owner.coordinator).rotations_due
    problem(harness.client.get(f"/v1/cases/{person}/shares", headers=owner.coordinator.headers), 404, "case_not_found")


def test_renewing_consent_moves_the_end_date_and_delivery_goes_on(harness: Harness, clock: MovableClock) -> None:
    owner, partner, reader, person = _two_orgs(harness)
    worker = harness.join(owner, Role.LINK_WORKER)
    share = _share(
        harness, worker, _share_body(harness, owner, partner, person, member=worker, expires_at_ms=now_ms() + 60_000)
    )
    renewal = {"record_id": _consent_record(harness, owner, worker, person), "expires_at_ms": clock() + 90 * 86_400_000}
    path = f"/v1/sharing/shares/{share.share_id}/renew"
    response = harness.client.post(path, json=renewal, headers=worker.headers)
    assert response.status_code == 200, response.text
    renewed = ShareInfo.model_validate(response.json())
    assert (renewed.record_id, renewed.expires_at_ms, renewed.active) == (
        renewal["record_id"],
        renewal["expires_at_ms"],
        True,
    )
    # The same renewal again (its answer lost) answers the same and changes nothing.
    again = harness.client.post(path, json=renewal, headers=worker.headers)
    assert ShareInfo.model_validate(again.json()) == renewed
    clock.advance(seconds=120)  # past the first end date: still shared
    page = _shared_pull(harness, reader).pages[0]
    assert page.versions
    assert [s.expires_at_ms for s in page.shares] == [renewal["expires_at_ms"]]
    assert share.share_id not in _shared_pull(harness, owner.coordinator).rotations_due
    # What cannot be renewed says why.
    unpushed = {"record_id": new_id(), "expires_at_ms": clock() + 86_400_000}
    problem(harness.client.post(path, json=unpushed, headers=worker.headers), 409, "consent_record_missing")
    past = {"record_id": _consent_record(harness, owner, worker, person), "expires_at_ms": clock() - 1}
    problem(harness.client.post(path, json=past, headers=worker.headers), 422, "already_expired")
    mentor = harness.join(owner, Role.PEER_MENTOR)
    problem(harness.client.post(path, json=renewal | {"expires_at_ms": None}, headers=mentor.headers), 403)
    stranger = harness.join(partner, Role.LINK_WORKER)
    problem(harness.client.post(path, json=renewal | {"expires_at_ms": None}, headers=stranger.headers), 404)
    _withdraw(harness, owner, owner.coordinator, renewed)
    ended = {"record_id": _consent_record(harness, owner, worker, person), "expires_at_ms": clock() + 86_400_000}
    problem(harness.client.post(path, json=ended, headers=worker.headers), 409, "not_active")
    entries = harness.client.get("/v1/audit", headers=owner.coordinator.headers).json()["entries"]
    assert [entry["action"] for entry in entries].count("share_renewed") == 1
