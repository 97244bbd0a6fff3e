"""The entitlement property: no device ever receives a version, key or grant its user is not
entitled to, and every push is accepted exactly when its author may write there.

One Hypothesis state machine drives the real server app (through ``Harness``) with random
organisations, members of every role, people with basic and full notes, peer mentor assignments
and unassignments, keys sealed to members, device revocations, members removed from their
organisation (no key may reach them after, their assignments end) and erasures, consent-based shares
with the other organisation (named tiers, an expiry or none), withdrawals and the clock passing
expiry, and tries writes that cross organisations, cases and tiers. After every step a model says
who is entitled to what, and each rule checks the server against it:

- a pull from the start holds exactly the versions the puller is entitled to now (nothing from
  another organisation, nothing of an erased case, a mentor only basic versions of people assigned
  to them now), and only grants it may hold (sealed to its user, or to its organisation for full
  members; a mentor never a full key, nor a key of a person no longer assigned);
- a pull from the device's own cursor carries a purge for every case erased since;
- a partner's pull of what is shared with its organisation holds only the tiers of the cases
  shared with it now (not after withdrawal, expiry or erasure), keys sealed to it only in those
  tiers, a purge for whatever left its scope, and nothing at all for its peer mentors; a fresh
  partner device holds exactly the versions in scope;
- a revoked device is refused at once; a write is accepted if and only if the model allows it.

Bounded for ``make test`` (a fixed seed, few examples); ``GATEPOST_ENTITLEMENT_EXAMPLES=200``
explores more, with fresh randomness.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from shared.crypto import seal
from shared.kinds import Tier
from shared.protocol import KeyGrantIn, PullResponse, Role, SharedPullResponse, case_key_id, parse_case_key_id
from tests.server.helpers import (
    Harness,
    Member,
    MovableClock,
    Org,
    case_key_grant,
    contact_change,
    make_change,
    new_id,
    person_change,
    problem,
)
from tests.server.test_sharing import _sealed

_EXAMPLES = int(os.environ.get("GATEPOST_ENTITLEMENT_EXAMPLES", "0")) or None
SETTINGS = settings(
    max_examples=_EXAMPLES or 10,
    stateful_step_count=30,
    derandomize=_EXAMPLES is None,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

_FULL_MEMBERS = (Role.COORDINATOR, Role.LINK_WORKER)
_MAX_MEMBERS_PER_ORG = 4
# Weighted by repetition: writes, assignments and syncs are where entitlement can go wrong.
_ACTIONS = (
    "join",
    "add_person",
    "write",
    "write",
    "write",
    "assign",
    "assign",
    "unassign",
    "seal_case_key",
    "seal_case_key",
    "revoke",
    "remove_member",
    "erase",
    "pull_from_cursor",
    "pull_from_cursor",
    "pull_from_start",
    "mentor_syncs",
    "mentor_syncs",
    "share",
    "share",
    "withdraw",
    "advance_clock",
    "partner_pulls",
    "partner_pulls",
)
_MAX_PEOPLE = 6
_EXPIRY_MS = 300_000
_ADVANCE_S = 400  # two of them stay inside an access token's 15 minutes
_TIER_CHOICES = ((Tier.BASIC,), (Tier.FULL,), (Tier.BASIC, Tier.FULL))


@dataclass
class Person:
    case_id: str
    org: int  # index into World.orgs
    erased: bool = False


@dataclass(frozen=True)
class StoredVersion:
    case_id: str
    tier: Tier


@dataclass
class Share:
    share_id: str
    case_id: str
    partner: int  # index into World.orgs
    tiers: frozenset[Tier]
    expires_at_ms: int | None
    withdrawn: bool = False


@dataclass
class World:
    """The model: who belongs where, who is assigned to whom, what is shared with whom, what was
    revoked and erased."""

    orgs: list[Org] = field(default_factory=list)
    members: list[tuple[int, Member]] = field(default_factory=list)  # (org index, member)
    people: list[Person] = field(default_factory=list)
    versions: dict[str, StoredVersion] = field(default_factory=dict)  # change id -> what it is
    assigned: set[tuple[str, str]] = field(default_factory=set)  # (mentor user id, case id)
    revoked: set[str] = field(default_factory=set)  # device ids
    removed: set[str] = field(default_factory=set)  # user ids a coordinator removed from their organisation
    shares: list[Share] = field(default_factory=list)

    def share_active(self, share: Share, now: int) -> bool:
        erased = self.person(share.case_id).erased  # an erasure ends its shares
        return not share.withdrawn and not erased and (share.expires_at_ms is None or now < share.expires_at_ms)

    def shared_scope(self, partner: int, now: int) -> dict[str, set[Tier]]:
        """What one organisation may receive of other organisations' people now: case -> tiers."""
        scope: dict[str, set[Tier]] = {}
        for share in self.shares:
            if share.partner == partner and self.share_active(share, now):
                scope.setdefault(share.case_id, set()).update(share.tiers)
        return scope

    def person(self, case_id: str) -> Person:
        return next(person for person in self.people if person.case_id == case_id)

    def org_of(self, member: Member) -> int:
        return next(index for index, candidate in self.members if candidate.user_id == member.user_id)

    def may_write(self, member: Member, case_id: str, tier: Tier) -> bool:
        person = self.person(case_id)
        if person.erased or person.org != self.org_of(member):
            return False
        if member.role in _FULL_MEMBERS:
            return True
        return tier is Tier.BASIC and (member.user_id, case_id) in self.assigned

    def may_read(self, member: Member, case_id: str, tier: Tier) -> bool:
        # Consent-based sharing goes here: a partner organisation's member may read the tiers a
        # consent in force names (today no organisation may read another's records).
        return self.may_write(member, case_id, tier)

    def may_hold_grant(self, member: Member, key_id: str, case_id: str | None) -> bool:
        """Whether a case key (or the organisation key, ``case_id`` None) may reach this member."""
        if member.user_id in self.removed:
            return False
        if case_id is None:
            return member.role in _FULL_MEMBERS
        parsed = parse_case_key_id(key_id)
        assert parsed is not None, key_id
        return self.may_read(member, case_id, parsed[1])

    def entitled_versions(self, member: Member) -> set[str]:
        return {
            change_id
            for change_id, stored in self.versions.items()
            if self.may_read(member, stored.case_id, stored.tier)
        }


class EntitlementMachine(RuleBasedStateMachine):
    def __init__(self, harness: Harness, clock: MovableClock) -> None:
        super().__init__()
        self.harness = harness
        self.clock = clock
        self.advances = 0
        self.world = World()
        self.shared_cursors: dict[str, dict[str, int]] = {}  # device id -> owner org id -> seq
        self.cursors: dict[str, int] = {}  # device id -> where its last incremental pull ended
        self.purges_due: dict[str, set[str]] = {}  # device id -> cases erased since its cursor

    # --- set-up ----------------------------------------------------------------------------------

    @initialize()
    def two_organisations(self) -> None:
        for _ in range(2):
            org = self.harness.new_org()
            index = len(self.world.orgs)
            self.world.orgs.append(org)
            self._add_member(index, org.coordinator)
            for role in (Role.LINK_WORKER, Role.PEER_MENTOR):
                self._add_member(index, self.harness.join(org, role))
            self.add_person(index, by_coordinator=True)
        # A third organisation with no people: nothing is ever shared with it.
        stranger = self.harness.new_org()
        self.world.orgs.append(stranger)
        self._add_member(2, stranger.coordinator)
        self._add_member(2, self.harness.join(stranger, Role.LINK_WORKER))

    def _add_member(self, org_index: int, member: Member) -> None:
        self.world.members.append((org_index, member))
        self.cursors[member.device_id] = 0
        self.purges_due[member.device_id] = set()

    def _member(self, index: int, *, like: Person | None = None, role: Role | None = None) -> Member:
        """A member by index; with ``like``, one of that person's organisation (and ``role``) if any,
        so most attempts are ones that could succeed and the rest probe the boundaries."""
        candidates = [
            member
            for org, member in self.world.members
            if like is None or (org == like.org and (role is None or member.role is role))
        ]
        candidates = candidates or [member for _, member in self.world.members]
        return candidates[index % len(candidates)]

    def _person(self, index: int) -> Person:
        return self.world.people[index % len(self.world.people)]

    def _coordinator_of(self, org_index: int) -> Member:
        return self.world.orgs[org_index].coordinator

    # --- rules -----------------------------------------------------------------------------------

    # One rule picks the action: Hypothesis's per-example choice of rules would otherwise leave
    # most runs without the sequences that matter (assign, seal, unassign, then sync). Each
    # action whose precondition fails is skipped.
    @rule(
        action=st.sampled_from(_ACTIONS),
        first=st.integers(0, 100),
        second=st.integers(0, 100),
        tier=st.sampled_from(list(Tier)),
        aligned=st.booleans(),
    )
    def step(self, action: str, first: int, second: int, tier: Tier, aligned: bool) -> None:
        world = self.world
        if action == "join" and len(world.members) < 3 * _MAX_MEMBERS_PER_ORG:
            self.join(first % 2, list(Role)[second % len(Role)])
        elif action == "add_person" and len(world.people) < _MAX_PEOPLE:
            self.add_person(first % 2, by_coordinator=aligned)
        elif action == "write":
            self.write(first, second, tier, aligned)
        elif action == "assign":
            self.assign(first, second, aligned)
        elif action == "unassign" and world.assigned:
            self.unassign(first)
        elif action == "seal_case_key":
            self.seal_case_key(first, second, tier, aligned)
        elif action == "revoke" and len(world.revoked) < 2:
            self.revoke(first)
        elif action == "remove_member" and len(world.removed) < 2:
            self.remove_member(first)
        elif action == "erase" and sum(person.erased for person in world.people) < 2:
            self.erase(first)
        elif action == "pull_from_cursor":
            self.pull_from_cursor(first)
        elif action == "pull_from_start":
            self.pull_from_start(first)
        elif action == "mentor_syncs" and world.assigned:
            self.mentor_syncs(first)
        elif action == "share":
            self.share(first, second, aligned)
        elif action == "withdraw":
            self.withdraw(first)
        elif action == "advance_clock" and self.advances < 2:
            self.clock.advance(seconds=_ADVANCE_S)
            self.advances += 1
        elif action == "partner_pulls":
            self.partner_pulls(first)

    def join(self, org: int, role: Role) -> None:
        self._add_member(org, self.harness.join(self.world.orgs[org], role))

    def add_person(self, org: int, by_coordinator: bool) -> None:
        owner = self.world.orgs[org]
        author = owner.coordinator
        if not by_coordinator:
            workers = [m for i, m in self.world.members if i == org and m.role is Role.LINK_WORKER]
            workers = [m for m in workers if m.device_id not in self.world.revoked]
            author = workers[0] if workers else author
        case_id = new_id()
        changes = [
            person_change(owner, author, case_id, "name", "Sam"),
            person_change(owner, author, case_id, "date_of_birth", "1990-01-01"),
            contact_change(owner, author, case_id, tier=Tier.BASIC),
            contact_change(owner, author, case_id, tier=Tier.FULL),
        ]
        grants = [case_key_grant(owner, case_id, Tier.BASIC), case_key_grant(owner, case_id, Tier.FULL)]
        response = self.harness.push(author, changes, grants)
        assert [result.status for result in response.results] == ["accepted"] * 4, response
        assert [result.status for result in response.grant_results] == ["accepted"] * 2, response
        self.world.people.append(Person(case_id, org))
        for change in changes:
            self.world.versions[change.change_id] = StoredVersion(case_id, change.tier)

    def write(self, writer: int, person: int, tier: Tier, aligned: bool) -> None:
        """Anyone tries to write a note anywhere: accepted exactly when the model allows it."""
        target = self._person(person)
        member = self._member(writer, like=target if aligned else None)
        owner = self.world.orgs[target.org]  # the writer may hold the keys (a breach); the server decides
        change = contact_change(owner, member, target.case_id, tier=tier)
        response = self.harness.push_raw(member, [change])
        if member.device_id in self.world.revoked:
            problem(response, 401)
            return
        assert response.status_code == 200, response.text
        result = response.json()["results"][0]
        allowed = self.world.may_write(member, target.case_id, tier)
        assert (result["status"] == "accepted") == allowed, (member.role, target, tier, result)
        if target.erased:
            assert result["reason"] == "case_erased", result
        if allowed:
            self.world.versions[change.change_id] = StoredVersion(target.case_id, tier)

    def assign(self, person: int, mentor: int, aligned: bool) -> None:
        target = self._person(person)
        member = self._member(mentor, like=target, role=Role.PEER_MENTOR) if aligned else self._member(mentor)
        coordinator = self._coordinator_of(target.org)
        response = self.harness.client.post(
            f"/v1/cases/{target.case_id}/mentors/{member.user_id}", headers=coordinator.headers
        )
        same_org = self.world.org_of(member) == target.org
        if target.erased or not same_org:
            problem(response, 404)
        elif member.user_id in self.world.removed:
            problem(response, 409, "member_removed")
        elif member.role is not Role.PEER_MENTOR:
            problem(response, 409, "not_a_mentor")
        else:
            assert response.status_code == 200, response.text
            self.world.assigned.add((member.user_id, target.case_id))
            # As the coordinator's app does: seal the basic key to the mentor; a full key is refused.
            for tier in (Tier.BASIC, Tier.FULL):
                accepted = self._seal(target, member, tier)
                assert accepted == (tier is Tier.BASIC)

    def unassign(self, which: int) -> None:
        user_id, case_id = sorted(self.world.assigned)[which % len(self.world.assigned)]
        coordinator = self._coordinator_of(self.world.person(case_id).org)
        response = self.harness.client.delete(f"/v1/cases/{case_id}/mentors/{user_id}", headers=coordinator.headers)
        assert response.status_code == 200, response.text
        self.world.assigned.discard((user_id, case_id))
        # The mentor's phone syncs soon after: the keys sealed to it while assigned stay unsent.
        mentor = next(member for _, member in self.world.members if member.user_id == user_id)
        self._receives_exactly_its_entitlement(mentor)
        self._sync_from_cursor(mentor)

    def seal_case_key(self, person: int, recipient: int, tier: Tier, aligned: bool) -> None:
        """A coordinator seals a case key to a member (of any organisation, of any role)."""
        target = self._person(person)
        member = self._member(recipient, like=target if aligned else None)
        accepted = self._seal(target, member, tier)
        assert accepted == self.world.may_hold_grant(member, case_key_id(target.case_id, tier, 1), target.case_id)

    def _seal(self, target: Person, member: Member, tier: Tier) -> bool:
        owner = self.world.orgs[target.org]
        key_id = case_key_id(target.case_id, tier, 1)
        grant = KeyGrantIn(
            grant_id=new_id(),
            key_id=key_id,
            case_id=target.case_id,
            recipient_kind="user",
            recipient_id=member.user_id,
            wrapped_with=f"user:{member.user_id}",
            wrapped=seal(member.key_pair.public_key, owner.case_key(target.case_id, tier), context=key_id.encode()),
        )
        result = self.harness.push(owner.coordinator, grants=[grant]).grant_results[0]
        return result.status == "accepted"

    def revoke(self, which: int) -> None:
        """A coordinator signs a (non-coordinator's) device out."""
        candidates = [(org, m) for org, m in self.world.members if m.role is not Role.COORDINATOR]
        org, member = candidates[which % len(candidates)]
        response = self.harness.client.post(
            f"/v1/devices/{member.device_id}/revoke", headers=self._coordinator_of(org).headers
        )
        assert response.status_code == 200, response.text
        self.world.revoked.add(member.device_id)

    def remove_member(self, which: int) -> None:
        """A coordinator removes a (non-coordinator) member: their device is signed out, their
        assignments end, and nothing may be sealed to them afterwards."""
        candidates = [(org, m) for org, m in self.world.members if m.role is not Role.COORDINATOR]
        org, member = candidates[which % len(candidates)]
        response = self.harness.client.post(
            f"/v1/org/members/{member.user_id}/remove", headers=self._coordinator_of(org).headers
        )
        assert response.status_code == 200, response.text
        ended = set(response.json()["ended_case_ids"])
        if member.user_id not in self.world.removed:
            assert ended == {case_id for user_id, case_id in self.world.assigned if user_id == member.user_id}
        self.world.removed.add(member.user_id)
        self.world.revoked.add(member.device_id)
        self.world.assigned = {pair for pair in self.world.assigned if pair[0] != member.user_id}

    def erase(self, person: int) -> None:
        target = self._person(person)
        response = self.harness.client.post(
            f"/v1/cases/{target.case_id}/erase", headers=self._coordinator_of(target.org).headers
        )
        if target.erased:  # erasing again deletes nothing more (a retry after a lost answer)
            assert response.status_code == 200, response.text
            assert response.json()["versions"] == 0
            return
        assert response.status_code == 200, response.text
        target.erased = True
        self.world.assigned = {pair for pair in self.world.assigned if pair[1] != target.case_id}
        for org, member in self.world.members:
            if org == target.org:
                self.purges_due[member.device_id].add(target.case_id)

    def pull_from_cursor(self, which: int) -> None:
        self._sync_from_cursor(self._member(which))

    def _sync_from_cursor(self, member: Member) -> None:
        """A device syncs: everything new is entitled, and every erasure since arrives as a purge."""
        pages = self._pull_pages(member, self.cursors[member.device_id])
        if pages is None:
            return
        for page in pages:
            self._check_delivery(member, page)
        purged = {purge.case_id for page in pages for purge in page.purges if purge.reason == "erased"}
        assert self.purges_due[member.device_id] <= purged, (self.purges_due[member.device_id], purged)
        self.purges_due[member.device_id] = set()
        self.cursors[member.device_id] = pages[-1].next

    # --- sharing with the other organisation ----------------------------------------------------

    def _consent_record(self, target: Person, author: Member) -> str:
        """A consent record (full tier) pushed by ``author``: the model counts it as a version."""
        owner = self.world.orgs[target.org]
        change = make_change(
            owner, author, record_id=new_id(), case_id=target.case_id, kind="consent", field="entry",
            tier=Tier.FULL, value={"action": "given"},
        )  # fmt: skip
        assert self.harness.push(author, [change]).results[0].status == "accepted"
        self.world.versions[change.change_id] = StoredVersion(target.case_id, Tier.FULL)
        return change.record_id

    def _full_member_of(self, org: int, index: int) -> Member:
        members = [
            m for i, m in self.world.members
            if i == org and m.role in _FULL_MEMBERS and m.device_id not in self.world.revoked
        ]  # fmt: skip
        return members[index % len(members)]  # the coordinator is never revoked

    def share(self, person: int, author: int, expires: bool) -> None:
        """A full member records consent and shares named tiers with the other organisation."""
        target = self._person(person)
        if target.erased:
            return
        partner = 1 - target.org
        member = self._full_member_of(target.org, author)
        tiers = _TIER_CHOICES[(person + author) % len(_TIER_CHOICES)]
        owner, partner_org = self.world.orgs[target.org], self.world.orgs[partner]
        now = self.clock()
        body = {
            "share_id": new_id(),
            "case_id": target.case_id,
            "partner_org_id": partner_org.org_id,
            "tiers": [tier.value for tier in tiers],
            "basis": "consent",
            "record_id": self._consent_record(target, member),
            "starts_at_ms": now,
            "expires_at_ms": now + _EXPIRY_MS if expires else None,
            "key_grants": [_sealed(owner, partner_org, target.case_id, tier) for tier in tiers],
        }
        response = self.harness.client.post("/v1/sharing/shares", json=body, headers=member.headers)
        if any(
            share.case_id == target.case_id and share.partner == partner and self.world.share_active(share, now)
            for share in self.world.shares
        ):
            problem(response, 409, "already_shared")
            return
        assert response.status_code == 200, response.text
        self.world.shares.append(
            Share(body["share_id"], target.case_id, partner, frozenset(tiers), body["expires_at_ms"])
        )

    def withdraw(self, which: int) -> None:
        now = self.clock()
        active = [share for share in self.world.shares if self.world.share_active(share, now)]
        if not active:
            return
        share = active[which % len(active)]
        target = self.world.person(share.case_id)
        coordinator = self._coordinator_of(target.org)
        record_id = self._consent_record(target, coordinator)
        response = self.harness.client.post(
            f"/v1/sharing/shares/{share.share_id}/withdraw", json={"record_id": record_id}, headers=coordinator.headers
        )
        assert response.status_code == 200, response.text
        share.withdrawn = True

    def partner_pulls(self, which: int) -> None:
        """Any device pulls what other organisations share with its own, from its cursors."""
        member = self._member(which)
        cursors = self.shared_cursors.setdefault(member.device_id, {})
        reply = self._shared_pull(member, cursors)
        if reply is None:
            return
        for page in reply.pages:
            cursors[page.owner_org_id] = max(cursors.get(page.owner_org_id, 0), page.next)

    def _shared_pull(self, member: Member, cursors: dict[str, int]) -> SharedPullResponse | None:
        now = self.clock()
        response = self.harness.client.post("/v1/sharing/pull", json={"cursors": cursors}, headers=member.headers)
        if member.device_id in self.world.revoked:
            problem(response, 401)
            return None
        assert response.status_code == 200, response.text
        reply = SharedPullResponse.model_validate(response.json())
        if member.role not in _FULL_MEMBERS:
            assert reply.pages == [], "a peer mentor received something shared with the organisation"
            return reply
        org = self.world.org_of(member)
        scope = self.world.shared_scope(org, now)
        for page in reply.pages:
            assert page.owner_org_id != self.world.orgs[org].org_id
            for version in page.versions:
                assert version.org_id == page.owner_org_id
                assert version.tier in scope.get(version.case_id or "", set()), (version, scope)
                assert version.change_id in self.world.versions, "a version the model never saw accepted"
            for grant in page.key_grants:
                parsed = parse_case_key_id(grant.key_id)
                assert parsed is not None
                assert parsed[1] in scope.get(parsed[0], set()), (grant.key_id, scope)
                assert (grant.recipient_kind, grant.recipient_id) == ("organisation", self.world.orgs[org].org_id)
            for purge in page.purges:
                still = scope.get(purge.case_id, set())
                assert not still if purge.tiers is None else not (set(purge.tiers) & still), (purge, scope)
            assert {share.share_id for share in page.shares} == {
                share.share_id
                for share in self.world.shares
                if share.partner == org
                and self.world.person(share.case_id).org != org
                and self.world.orgs[self.world.person(share.case_id).org].org_id == page.owner_org_id
                and self.world.share_active(share, now)
            }
        return reply

    def _receives_exactly_what_is_shared(self, member: Member) -> None:
        """A fresh device of a partner's member holds exactly the shared tiers' versions, now."""
        reply = self._shared_pull(member, {})
        if reply is None or member.role not in _FULL_MEMBERS:
            return
        scope = self.world.shared_scope(self.world.org_of(member), self.clock())
        got = {version.change_id for page in reply.pages for version in page.versions}
        expected = {
            change_id
            for change_id, stored in self.world.versions.items()
            if stored.tier in scope.get(stored.case_id, set())
        }
        assert got == expected, (member.role, scope)

    # --- what every device may receive -----------------------------------------------------------

    def pull_from_start(self, which: int) -> None:
        """A new device of a member (or one offline since the start) syncs everything."""
        self._receives_exactly_its_entitlement(self._member(which))

    def mentor_syncs(self, which: int) -> None:
        """An assigned mentor's device syncs (the tier boundary is where mistakes would be)."""
        user_id = sorted(self.world.assigned)[which % len(self.world.assigned)][0]
        member = next(member for _, member in self.world.members if member.user_id == user_id)
        self._receives_exactly_its_entitlement(member)
        self._sync_from_cursor(member)

    def teardown(self) -> None:
        for _, member in self.world.members:
            self._receives_exactly_its_entitlement(member)
            self._receives_exactly_what_is_shared(member)

    def _receives_exactly_its_entitlement(self, member: Member) -> None:
        pages = self._pull_pages(member, 0, limit=50)
        if pages is None:
            return
        received: set[str] = set()
        for page in pages:
            self._check_delivery(member, page)
            received |= {version.change_id for version in page.versions}
        assert received == self.world.entitled_versions(member), (member.role, member.user_id)

    def _pull_pages(self, member: Member, since: int, limit: int = 7) -> list[PullResponse] | None:
        """Every page from ``since``; None (after checking the refusal) for a revoked device."""
        pages: list[PullResponse] = []
        while True:
            response = self.harness.client.get(
                "/v1/sync/pull", params={"since": since, "limit": limit}, headers=member.headers
            )
            if member.device_id in self.world.revoked:
                problem(response, 401)
                return None
            assert response.status_code == 200, response.text
            page = PullResponse.model_validate(response.json())
            pages.append(page)
            assert page.next >= since
            since = page.next
            if not page.has_more:
                return pages

    def _check_delivery(self, member: Member, page: PullResponse) -> None:
        org_id = self.world.orgs[self.world.org_of(member)].org_id
        for version in page.versions:
            assert version.org_id == org_id, "a version of another organisation"
            assert version.case_id is not None
            stored = self.world.versions.get(version.change_id)
            assert stored is not None, "a version the model never saw accepted"
            assert self.world.may_read(member, version.case_id, version.tier), (member.role, version)
        for grant in page.key_grants:
            assert grant.org_id == org_id, "a grant of another organisation"
            if grant.recipient_kind == "user":
                assert grant.recipient_id == member.user_id, "a key sealed to someone else"
            else:
                assert grant.recipient_id == org_id
                assert member.role in _FULL_MEMBERS, "a mentor received a key wrapped for the organisation"
            assert self.world.may_hold_grant(member, grant.key_id, grant.case_id), (member.role, grant)


def test_no_device_receives_what_it_is_not_entitled_to(harness: Harness, clock: MovableClock) -> None:
    run_state_machine_as_test(lambda: EntitlementMachine(harness, clock), settings=SETTINGS)
