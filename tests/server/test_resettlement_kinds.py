"""The record kinds of a worker's day (needs, plan, referrals, release plan, gate, housing, handover,
service directory): what the server stores, refuses, and delivers to a peer mentor."""

from __future__ import annotations

from typing import Any

from shared.kinds import KINDS, Tier
from shared.protocol import Role, org_key_id
from tests.server.helpers import Harness, Member, Org, case_key_grant, make_change, new_id, person_change

ENTRIES: dict[str, dict[str, Any]] = {
    "need_rating": {"need_area": "accommodation", "rating": "red", "rated_on": "2026-12-01", "handled": "referred_on"},
    "gate_outcome": {"met": True, "accompanied_to": "Housing options", "housed_on_release_day": True},
    "accommodation": {"accommodation_type": "supported_housing", "suitable": True, "from_on": "2026-12-04"},
    "employment": {"status": "part_time", "ete_stage": "employment", "from_on": "2026-12-14"},
    "lead_handover": {
        "step": "proposed",
        "lead_name": "Jo",
        "lead_organisation": "Community Housing Trust",
        "handover_id": "0190a0a0-0000-7000-8000-000000000001",
    },
}


def _person(harness: Harness, org: Org) -> str:
    person = new_id()
    coordinator = org.coordinator
    harness.push(
        coordinator,
        [person_change(org, coordinator, person, "name", "Sam")],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    return person


def _entry(org: Org, member: Member, person: str, kind: str, tier: Tier) -> Any:
    return make_change(
        org, member, record_id=new_id(), case_id=person, kind=kind, field="entry", tier=tier, value=ENTRIES[kind]
    )


def _field(org: Org, member: Member, person: str, kind: str, field: str, tier: Tier, record_id: str) -> Any:
    return make_change(org, member, record_id=record_id, case_id=person, kind=kind, field=field, tier=tier)


def test_every_kind_of_the_day_is_stored_with_its_tiers(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    person = _person(harness, org)
    changes = [_entry(org, worker, person, kind, Tier.FULL) for kind in ENTRIES]
    for kind in ("plan_action", "referral", "release_plan"):
        record_id = new_id()
        changes += [
            _field(org, worker, person, kind, name, spec.tier or Tier.FULL, record_id)
            for name, spec in KINDS[kind].fields.items()
        ]
    results = harness.push(worker, changes).results
    assert {result.status for result in results} == {"accepted"}, results


def test_wrong_tiers_and_unknown_fields_are_refused_one_by_one(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    person = _person(harness, org)
    plan = new_id()
    changes = [
        _field(org, worker, person, "referral", "to_whom", Tier.BASIC, new_id()),  # referrals are full tier
        _field(org, worker, person, "release_plan", "medication", Tier.BASIC, plan),  # health: full tier
        _field(org, worker, person, "release_plan", "shoe_size", Tier.BASIC, plan),
        _field(org, worker, person, "release_plan", "meeting_place", Tier.BASIC, plan),
        make_change(org, worker, record_id=new_id(), case_id=None, kind="need_rating", field="entry", tier=Tier.FULL),
    ]
    reasons = [result.reason for result in harness.push(worker, changes).results]
    assert reasons == ["wrong_tier", "wrong_tier", "unknown_field", None, "wrong_case"]


def test_the_service_directory_belongs_to_the_organisation_not_a_case(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    entry = new_id()
    org_level = make_change(
        org,
        worker,
        record_id=entry,
        case_id=None,
        kind="directory_entry",
        field="name",
        tier=Tier.FULL,
        key_id=org_key_id(org.org_id, 1),
    )
    person = _person(harness, org)
    in_a_case = make_change(
        org, worker, record_id=new_id(), case_id=person, kind="directory_entry", field="name", tier=Tier.FULL
    )
    results = harness.push(worker, [org_level, in_a_case]).results
    assert [(result.status, result.reason) for result in results] == [("accepted", None), ("rejected", "wrong_case")]
    colleague = harness.join(org, Role.LINK_WORKER)
    pulled = [version for page in harness.pull_all(colleague) for version in page.versions]
    assert entry in {version.record_id for version in pulled}


def test_a_mentor_sees_the_gate_arrangements_but_not_medication_and_logs_the_gate_outcome(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    coordinator = org.coordinator
    mentor = harness.join(org, Role.PEER_MENTOR)
    plan = new_id()
    harness.push(
        coordinator,
        [
            _field(org, coordinator, person, "release_plan", "meeting_place", Tier.BASIC, plan),
            _field(org, coordinator, person, "release_plan", "medication", Tier.FULL, plan),
            _field(org, coordinator, person, "referral", "to_whom", Tier.FULL, new_id()),
        ],
    )
    response = harness.client.post(f"/v1/cases/{person}/mentors/{mentor.user_id}", headers=coordinator.headers)
    assert response.status_code == 200, response.text
    delivered = {(version.kind, version.field) for page in harness.pull_all(mentor) for version in page.versions}
    assert ("release_plan", "meeting_place") in delivered
    assert ("release_plan", "medication") not in delivered
    assert not {kind for kind, _ in delivered} & {"referral"}
    outcome = _entry(org, mentor, person, "gate_outcome", Tier.BASIC)
    referral = _field(org, mentor, person, "referral", "to_whom", Tier.FULL, new_id())
    results = harness.push(mentor, [outcome, referral]).results
    assert [(result.status, result.reason) for result in results] == [
        ("accepted", None),
        ("rejected", "not_entitled"),
    ]
