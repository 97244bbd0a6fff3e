"""Entitlement over random histories of shares: whatever is shared, withdrawn, expired and written,
no partner member ever receives a version or key outside what is shared with their organisation now,
peer mentors and strangers receive nothing shared, and a fresh pull holds exactly what is in scope."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.kinds import Tier
from shared.protocol import Role, SharedPage, SharedPullResponse, ShareInfo, parse_case_key_id
from tests.server.helpers import Harness, Member, MovableClock, Org, case_key_grant, contact_change, person_change
from tests.server.helpers import new_id as new_uuid
from tests.server.test_sharing import _share_body, _shared_pull, _withdraw

_EXPIRY_MS = 300_000
_ADVANCE_S = 400


@dataclass
class _Share:
    share_id: str
    case_id: str
    partner: int
    tiers: frozenset[Tier]
    expires_at_ms: int | None
    withdrawn: bool = False

    def active(self, now: int) -> bool:
        return not self.withdrawn and (self.expires_at_ms is None or now < self.expires_at_ms)


@dataclass
class _World:
    owner: Org
    partners: list[Org]
    readers: list[Member]
    persons: list[str]
    shares: list[_Share] = field(default_factory=list)
    cursors: dict[int, int] = field(default_factory=dict)

    def scope(self, partner: int, now: int) -> dict[str, set[Tier]]:
        scope: dict[str, set[Tier]] = {}
        for share in self.shares:
            if share.partner == partner and share.active(now):
                scope.setdefault(share.case_id, set()).update(share.tiers)
        return scope


def _owner_page(reply: SharedPullResponse, owner: Org) -> list[SharedPage]:
    return [page for page in reply.pages if page.owner_org_id == owner.org_id]


def _check(world: _World, reply: SharedPullResponse, partner: int, now: int) -> None:
    scope = world.scope(partner, now)
    for page in _owner_page(reply, world.owner):
        for version in page.versions:
            assert version.tier in scope.get(version.case_id or "", set()), (version.case_id, version.tier, scope)
        for grant in page.key_grants:
            parsed = parse_case_key_id(grant.key_id)
            assert parsed is not None
            assert parsed[1] in scope.get(parsed[0], set()), (grant.key_id, scope)
            assert grant.recipient_id == world.partners[partner].org_id
        for purge in page.purges:
            still = scope.get(purge.case_id, set())
            assert not still if purge.tiers is None else not (set(purge.tiers) & still), (purge, scope)
        assert {(s.case_id, s.share_id) for s in page.shares} == {
            (s.case_id, s.share_id) for s in world.shares if s.partner == partner and s.active(now)
        }


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_partners_receive_only_what_is_shared_with_them_now(
    harness: Harness, clock: MovableClock, data: st.DataObject
) -> None:
    owner = harness.new_org()
    partners = [harness.new_org(), harness.new_org()]
    readers = [harness.join(partner, Role.LINK_WORKER) for partner in partners]
    partner_mentor = harness.join(partners[0], Role.PEER_MENTOR)
    stranger = harness.join(harness.new_org(), Role.LINK_WORKER)
    persons = [new_uuid() for _ in range(3)]
    coordinator = owner.coordinator
    for person in persons:
        harness.push(
            coordinator,
            [
                person_change(owner, coordinator, person, "name", "Sam"),
                person_change(owner, coordinator, person, "risk_summary", "Private"),
            ],
            [case_key_grant(owner, person, Tier.BASIC), case_key_grant(owner, person, Tier.FULL)],
        )
    world = _World(owner, partners, readers, persons)
    advances = 0
    for _ in range(data.draw(st.integers(3, 14), label="steps")):
        step = data.draw(st.sampled_from(["share", "withdraw", "write", "pull", "advance"]), label="step")
        now = clock()
        if step == "share":
            person = data.draw(st.sampled_from(persons), label="person")
            partner = data.draw(st.integers(0, 1), label="partner")
            tiers = data.draw(st.sampled_from([(Tier.BASIC,), (Tier.FULL,), (Tier.BASIC, Tier.FULL)]), label="tiers")
            expires = now + _EXPIRY_MS if data.draw(st.booleans(), label="expires") else None
            body = _share_body(harness, owner, partners[partner], person, tiers, expires_at_ms=expires)
            response = harness.client.post("/v1/sharing/shares", json=body, headers=coordinator.headers)
            already = any(s.case_id == person and s.partner == partner and s.active(clock()) for s in world.shares)
            if already:
                assert response.status_code == 409, response.text
            else:
                assert response.status_code == 200, response.text
                world.shares.append(_Share(body["share_id"], person, partner, frozenset(tiers), expires))
        elif step == "withdraw":
            active = [s for s in world.shares if s.active(now)]
            if active:
                share = data.draw(st.sampled_from(active), label="withdrawn")
                info = ShareInfo.model_construct(share_id=share.share_id, case_id=share.case_id)
                _withdraw(harness, owner, coordinator, info)
                share.withdrawn = True
        elif step == "write":
            person = data.draw(st.sampled_from(persons), label="person")
            tier = data.draw(st.sampled_from(list(Tier)), label="tier")
            assert harness.push(coordinator, [contact_change(owner, coordinator, person, tier=tier)]).results
        elif step == "advance" and advances < 2:
            clock.advance(seconds=_ADVANCE_S)
            advances += 1
        else:
            partner = data.draw(st.integers(0, 1), label="reader")
            cursor = world.cursors.get(partner, 0)
            reply = _shared_pull(harness, readers[partner], {owner.org_id: cursor})
            _check(world, reply, partner, clock())
            for page in _owner_page(reply, owner):
                world.cursors[partner] = max(cursor, page.next)
        assert _shared_pull(harness, partner_mentor).pages == []
        assert _shared_pull(harness, stranger).pages == []

    # A fresh device of each partner holds exactly the owner's versions in its scope now.
    stored = [version for page in harness.pull_all(coordinator) for version in page.versions]
    for partner, reader in enumerate(readers):
        now = clock()
        reply = _shared_pull(harness, reader)
        _check(world, reply, partner, now)
        scope = world.scope(partner, now)
        got = {version.change_id for page in _owner_page(reply, owner) for version in page.versions}
        expected = {v.change_id for v in stored if v.case_id in scope and v.tier in scope[v.case_id]}
        assert got == expected
