"""Sharing a person's record with a partner organisation, under consent or a recorded lawful basis.

The server holds the scope it enforces (``ShareRow``): which partner, which tiers, since when,
until when, withdrawn or not; it never sees a key. The owning organisation's device seals the
named tiers' case keys to the partner organisation's public key when it creates the share (one
transaction: scope and grants together). The partner's coordinators and link workers then pull
that case's versions of those tiers, and nothing else of the owner, through ``shared_pull`` (a
cursor per owning organisation, in the owner's sequence). A share delivers while it is not
withdrawn and ``now < expires_at_ms``: expiry is checked by time on every pull, so it needs no job.

When a share ends, every pull of the partner carries a ``CasePurge`` for it (cases no longer
shared, or tiers no longer shared), and one device of the owner claims the key rotation
(``RotationDue``): it makes new key versions of the ended tiers for future writes and seals them
to the owner, the mentors and the partners still sharing, never to the one that left.

Partner members may read what is shared; the push refuses their writes to the owner's case (the
case is not of their organisation), so the owning organisation stays the one record-keeper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from shared.kinds import Tier
from shared.protocol import (
    MAX_PULL_LIMIT,
    CasePurge,
    ChangeStatus,
    GrantResult,
    KeyGrantIn,
    MentorInfo,
    OrganisationDirectory,
    OrganisationEntry,
    PartnerScope,
    RejectReason,
    RenewShare,
    Role,
    RotationDue,
    ShareBasis,
    SharedPage,
    SharedPullRequest,
    SharedPullResponse,
    ShareInfo,
    ShareList,
    ShareRequest,
    SharingGrants,
    SharingGrantsResult,
    WithdrawShare,
    org_private_key_id,
    parse_case_key_id,
)
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from sync_server.services.audit import AuditAction, record, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.content import content_hash
from sync_server.services.guards import lock_organisation, require_own_case
from sync_server.services.sync import _grant, _versions
from sync_server.storage import accounts, assignments, organisations, shares
from sync_server.storage import sync as sync_storage
from sync_server.storage.database import begin_write
from sync_server.storage.tables import KeyGrantRow, OrganisationRow, ShareRow, UserRow

__all__ = [
    "case_shares",
    "claim_rotation",
    "create_share",
    "directory",
    "release_rotations_of",
    "renew",
    "shared_pull",
    "store_grants",
    "withdraw",
    "without_consent",
]

_FULL_MEMBERS = (Role.COORDINATOR, Role.LINK_WORKER)
_CONSENT = "consent"
# A consent signed "today" on a phone whose clock is a little ahead is not in the future.
_START_TOLERANCE_MS = 24 * 3600 * 1000


# --- reading ---------------------------------------------------------------------------------


def directory(session: Session, caller: AuthenticatedDevice) -> OrganisationDirectory:
    """The organisations a person's record can be shared with: names and public keys only."""
    _require_full_member(caller)
    return OrganisationDirectory(organisations=_directory(session, caller))


def case_shares(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str) -> ShareList:
    """Every share of one of the caller's organisation's people, newest first, and who else could see it."""
    _require_full_member(caller)
    require_own_case(session, caller, case_id)
    rows = shares.shares_of_case(session, case_id)
    return ShareList(shares=_infos(session, rows, ctx.now_ms()), directory=_directory(session, caller))


def without_consent(ctx: ServerContext, session: Session, caller: AuthenticatedDevice) -> ShareList:
    """The organisation's shares made on a lawful basis instead of consent (coordinators)."""
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can list shares made without consent")
    bases = [ShareBasis.VITAL_INTEREST.value, ShareBasis.STATUTORY_DUTY.value]
    return ShareList(shares=_infos(session, shares.shares_of_org(session, caller.org_id, bases), ctx.now_ms()))


# --- creating and ending ---------------------------------------------------------------------


def create_share(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, request: ShareRequest) -> ShareInfo:
    """Store the scope and the sealed keys in one transaction; idempotent per ``share_id``."""
    _require_full_member(caller)
    digest = content_hash(request)
    org = lock_organisation(session, caller.org_id)
    now = ctx.now_ms()
    existing = shares.get_share(session, request.share_id)
    if existing is not None:
        if existing.org_id == caller.org_id and existing.content_hash == digest:
            return _infos(session, [existing], now)[0]
        raise Conflict("share_exists", "A different share with this share_id was stored before")
    require_own_case(session, caller, request.case_id)
    partner = _require_partner(session, caller, request.partner_org_id)
    tiers = _tiers(request.tiers)
    _require_consent_record(session, caller, request.case_id, request.record_id)
    if request.expires_at_ms is not None and request.expires_at_ms <= now:
        raise InvalidInput("already_expired", "The review or expiry date has passed: choose a later one")
    if request.starts_at_ms > now + _START_TOLERANCE_MS:
        raise InvalidInput("starts_in_future", "Sharing starts when it is recorded: the date cannot be in the future")
    if any(
        row.partner_org_id == partner.id and _is_active(row, now)
        for row in shares.shares_of_case(session, request.case_id)
    ):
        raise Conflict(
            "already_shared",
            f"This person's record is already shared with {partner.name}: withdraw that first to change it",
        )
    problems = [_grant_problem(grant, request.case_id, partner, tiers) for grant in request.key_grants]
    first = next((detail for detail in problems if detail is not None), None)
    if first is not None:
        raise InvalidInput("invalid_key_grants", first)
    covered = {parsed[1] for grant in request.key_grants if (parsed := parse_case_key_id(grant.key_id)) is not None}
    if covered != tiers:
        raise InvalidInput("missing_key_grants", "Every tier shared needs its case key sealed to the partner")
    if sync_storage.get_grants(session, [grant.grant_id for grant in request.key_grants]):
        raise Conflict("grant_exists", "A key grant with one of these grant_ids already exists")
    org.last_seq += 1
    row = ShareRow(
        id=request.share_id,
        org_id=org.id,
        case_id=request.case_id,
        partner_org_id=partner.id,
        tiers=_tiers_text(tiers),
        basis=request.basis.value,
        record_id=request.record_id,
        starts_at_ms=request.starts_at_ms,
        expires_at_ms=request.expires_at_ms,
        created_at_ms=now,
        created_by=caller.user_id,
        created_seq=org.last_seq,
        content_hash=digest,
    )
    shares.add_share(session, row)
    _add_grants(session, org, caller, request.key_grants, now)
    session.add(org)
    record_for(
        ctx,
        session,
        caller,
        AuditAction.SHARED,
        case_id=request.case_id,
        partner_org_id=partner.id,
        tiers=row.tiers,
        basis=row.basis,
    )
    info = _infos(session, [row], now)[0]
    session.commit()
    return info


def withdraw(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, share_id: str, body: WithdrawShare
) -> RotationDue:
    """End a share at once; the caller's device takes on rotating its tiers' keys."""
    _require_full_member(caller)
    org = lock_organisation(session, caller.org_id)
    now = ctx.now_ms()
    row = _require_share(session, caller, share_id)
    if row.withdrawal_record_id == body.record_id and row.rotation_claimed_by == caller.device_id:
        # The same withdrawal again (its reply was lost): answer as before, so the rotation is done.
        return _due_again(session, row, now)
    if not _is_active(row, now):
        raise Conflict("not_active", "This share has already ended (withdrawn or expired)")
    _require_consent_record(session, caller, row.case_id, body.record_id)
    org.last_seq += 1
    session.add(org)
    row.withdrawn_at_ms = now
    row.withdrawn_by = caller.user_id
    row.withdrawn_seq = org.last_seq
    row.withdrawal_record_id = body.record_id
    row.rotation_claimed_at_ms = now
    row.rotation_claimed_by = caller.device_id
    session.add(row)
    session.flush()
    record_for(
        ctx, session, caller, AuditAction.SHARE_WITHDRAWN, case_id=row.case_id, partner_org_id=row.partner_org_id
    )
    due = _rotation_due(session, row, now)
    session.commit()
    return due


def renew(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, share_id: str, body: RenewShare
) -> ShareInfo:
    """Move an active share's end date and rest it on the new consent record; idempotent per record."""
    _require_full_member(caller)
    lock_organisation(session, caller.org_id)
    now = ctx.now_ms()
    row = _require_share(session, caller, share_id)
    if row.record_id == body.record_id and row.expires_at_ms == body.expires_at_ms:
        info = _infos(session, [row], now)[0]
        session.rollback()
        return info  # renewed with this record before (its answer was lost)
    if not _is_active(row, now):
        raise Conflict("not_active", "This share has ended (withdrawn or past its review date): record consent again")
    _require_consent_record(session, caller, row.case_id, body.record_id)
    if body.expires_at_ms is not None and body.expires_at_ms <= now:
        raise InvalidInput("already_expired", "The new review or expiry date has passed: choose a later one")
    row.record_id = body.record_id
    row.expires_at_ms = body.expires_at_ms
    session.add(row)
    session.flush()
    record_for(
        ctx,
        session,
        caller,
        AuditAction.SHARE_RENEWED,
        case_id=row.case_id,
        partner_org_id=row.partner_org_id,
        expires_at_ms=row.expires_at_ms,
    )
    info = _infos(session, [row], now)[0]
    session.commit()
    return info


def claim_rotation(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, share_id: str) -> RotationDue:
    """Take on rotating the keys of a share that ended (by expiry, usually); once per share."""
    _require_full_member(caller)
    lock_organisation(session, caller.org_id)
    now = ctx.now_ms()
    row = _require_share(session, caller, share_id)
    if _is_active(row, now):
        raise Conflict("still_active", "This share has not ended: its keys are not rotated yet")
    if row.rotation_claimed_by == caller.device_id:
        # Claimed before by this device, whose reply or rotation was lost: the same answer again.
        return _due_again(session, row, now)
    if row.rotation_claimed_at_ms is not None:
        raise Conflict("rotation_claimed", "Another device is rotating this share's keys")
    row.rotation_claimed_at_ms = now
    row.rotation_claimed_by = caller.device_id
    session.add(row)
    session.flush()
    record_for(ctx, session, caller, AuditAction.SHARE_KEYS_ROTATED, case_id=row.case_id)
    due = _rotation_due(session, row, now)
    session.commit()
    return due


def store_grants(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, body: SharingGrants
) -> SharingGrantsResult:
    """Rotated case keys sealed to partners that still share the case; each grant answered apart."""
    _require_full_member(caller)
    org = lock_organisation(session, caller.org_id)
    now = ctx.now_ms()
    existing = sync_storage.get_grants(session, [grant.grant_id for grant in body.key_grants])
    partners = {row.id: row for row in _orgs(session, {grant.recipient_id for grant in body.key_grants})}
    results: list[GrantResult] = []
    accepted: list[KeyGrantIn] = []
    seen: set[str] = set()
    for grant in body.key_grants:
        stored = existing.get(grant.grant_id)
        if stored is not None:
            same = stored.org_id == org.id and stored.content_hash == content_hash(grant)
            results.append(
                GrantResult(grant_id=grant.grant_id, status=ChangeStatus.DUPLICATE, seq=stored.seq)
                if same
                else _refused(grant, RejectReason.CONFLICTING_DUPLICATE, "A different grant with this id exists")
            )
            continue
        if grant.grant_id in seen:
            results.append(_refused(grant, RejectReason.DUPLICATE_IN_BATCH, "This grant_id appears earlier"))
            continue
        seen.add(grant.grant_id)
        partner = partners.get(grant.recipient_id)
        case_id = grant.case_id or ""
        scope = _partner_tiers(session, caller.org_id, case_id, grant.recipient_id, now) if partner else set()
        detail = (
            "The recipient is not an organisation this person's record is shared with"
            if partner is None or not scope
            else _grant_problem(grant, case_id, partner, scope)
        )
        if detail is not None:
            results.append(_refused(grant, RejectReason.NOT_ENTITLED, detail))
            continue
        accepted.append(grant)
        results.append(
            GrantResult(grant_id=grant.grant_id, status=ChangeStatus.ACCEPTED, seq=org.last_seq + len(accepted))
        )
    _add_grants(session, org, caller, accepted, now)
    session.add(org)
    session.commit()
    return SharingGrantsResult(grant_results=results)


# --- the partner's pull ----------------------------------------------------------------------


def shared_pull(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, request: SharedPullRequest
) -> SharedPullResponse:
    """What each owning organisation shares with the caller's organisation now, above its cursor."""
    now = ctx.now_ms()
    if caller.role not in _FULL_MEMBERS:
        return SharedPullResponse(pages=[], server_time_ms=now)  # peer mentors see only their own people
    owner_ids = set(shares.owners_sharing_with(session, caller.org_id))
    owners = {row.id: row for row in _orgs(session, owner_ids)}
    pages = [
        _page(session, owners[owner_id], caller.org_id, request.cursors.get(owner_id, 0), request.limit, now)
        for owner_id in sorted(owners, key=lambda org_id: (owners[org_id].name, org_id))
    ]
    pending = shares.rotations_pending(session, caller.org_id, caller.device_id, now)
    due = [row.id for row in pending if not _rotated(session, row)]
    delivered = [page for page in pages if page.versions or page.key_grants]
    if delivered:
        begin_write(session)
        for page in delivered:
            counts: dict[str, int | str | None] = {
                "versions": len(page.versions),
                "key_grants": len(page.key_grants),
                "owner_org_id": page.owner_org_id,
            }
            record_for(ctx, session, caller, AuditAction.PULLED, **counts)
            # The owner's coordinators see in their trail that a partner's member received their records.
            record(
                ctx,
                session,
                chain=page.owner_org_id,
                action=AuditAction.PARTNER_PULLED,
                actor_user_id=caller.user_id,
                actor_device_id=caller.device_id,
                details={**counts, "partner_org_id": caller.org_id},
            )
        session.commit()
    return SharedPullResponse(pages=pages, server_time_ms=now, rotations_due=due)


def _page(
    session: Session, owner: OrganisationRow, partner_org_id: str, since: int, limit: int, now: int
) -> SharedPage:
    until = owner.last_seq
    fetch = limit + 1
    spells = shares.shares_between(session, owner.id, partner_org_id)
    active = [row for row in spells if _is_active(row, now)]
    scope: dict[str, set[Tier]] = defaultdict(set)
    for row in active:
        scope[row.case_id] |= _parse_tiers(row.tiers)
    versions = _versions_in_scope(session, owner.id, since, until, fetch, scope)
    grants = [
        grant
        for grant in shares.grants_for_partner(session, owner.id, partner_org_id, since, until, fetch)
        if _grant_in_scope(grant, scope)
    ]
    items: list[tuple[int, Row[Any] | KeyGrantRow]] = sorted(
        [(row.seq, row) for row in versions] + [(row.seq, row) for row in grants], key=lambda item: item[0]
    )
    has_more = len(items) > limit
    items = items[:limit]
    next_seq = items[-1][0] if items else since
    bound = next_seq if has_more else until
    fresh = [row for row in active if since < row.created_seq <= bound]
    earlier_versions: Sequence[Row[Any]] = []
    earlier_grants: list[KeyGrantRow] = []
    if fresh and since > 0:
        # A share that began above the cursor brings the case's older versions and keys of its tiers.
        fresh_scope: dict[str, set[Tier]] = defaultdict(set)
        for row in fresh:
            fresh_scope[row.case_id] |= _parse_tiers(row.tiers)
        earlier_versions = _versions_in_scope(session, owner.id, 0, since, MAX_PULL_LIMIT * 100, fresh_scope)
        earlier_grants = [
            grant
            for grant in shares.grants_for_partner(session, owner.id, partner_org_id, 0, since, MAX_PULL_LIMIT * 100)
            if _grant_in_scope(grant, fresh_scope)
        ]
    next_seq = max([next_seq, *(row.created_seq for row in fresh)])
    return SharedPage(
        owner_org_id=owner.id,
        owner_org_name=owner.name,
        versions=_versions([*earlier_versions, *(row for _, row in items if not isinstance(row, KeyGrantRow))]),
        key_grants=[_grant(row) for row in earlier_grants]
        + [_grant(row) for _, row in items if isinstance(row, KeyGrantRow)],
        purges=_purges(spells, scope, now),
        shares=_infos(session, active, now),
        next=next_seq,
        has_more=has_more,
    )


def _versions_in_scope(
    session: Session, owner_id: str, since: int, until: int, limit: int, scope: dict[str, set[Tier]]
) -> list[Row[Any]]:
    by_tiers: dict[str | None, set[str]] = defaultdict(set)
    for case_id, tiers in scope.items():
        by_tiers[None if len(tiers) == len(Tier) else next(iter(tiers)).value].add(case_id)
    rows = [
        row
        for tier, case_ids in by_tiers.items()
        for row in shares.versions_for_partner(session, owner_id, since, until, limit, case_ids, tier)
    ]
    return sorted(rows, key=lambda row: int(row.seq))[:limit]


def _grant_in_scope(grant: KeyGrantRow, scope: dict[str, set[Tier]]) -> bool:
    parsed = parse_case_key_id(grant.key_id)
    return parsed is not None and grant.case_id == parsed[0] and parsed[1] in scope.get(parsed[0], set())


def _purges(spells: Iterable[ShareRow], scope: dict[str, set[Tier]], now: int) -> list[CasePurge]:
    """Every case (or tier) of an ended share that no active share covers; repeated on every pull."""
    ended: dict[str, set[Tier]] = defaultdict(set)
    for row in spells:
        if not _is_active(row, now):
            ended[row.case_id] |= _parse_tiers(row.tiers)
    purges = []
    for case_id, tiers in sorted(ended.items()):
        if case_id not in scope:
            purges.append(CasePurge(case_id=case_id, reason="sharing_ended"))
        elif missing := tiers - scope[case_id]:
            purges.append(CasePurge(case_id=case_id, reason="sharing_ended", tiers=sorted(missing)))
    return purges


# --- helpers ---------------------------------------------------------------------------------


def release_rotations_of(session: Session, org_id: str, device_id: str, now: int) -> None:
    """A device signed out will never finish the rotations it claimed: another device takes them on
    (they are listed as due again). Called in the revocation's transaction."""
    unfinished = [
        row.id
        for row in shares.rotations_pending(session, org_id, device_id, now)
        if row.rotation_claimed_by == device_id and not _rotated(session, row)
    ]
    shares.release_rotation_claims(session, device_id, unfinished)


def _due_again(session: Session, row: ShareRow, now: int) -> RotationDue:
    """The answer to a repeated withdrawal or claim; no tiers are left to rotate once it is done."""
    due = _rotation_due(session, row, now)
    if _rotated(session, row):
        due = due.model_copy(update={"tiers": []})
    session.rollback()  # nothing changed: let go of the organisation's lock
    return due


def _rotated(session: Session, row: ShareRow) -> bool:
    """Whether every tier of an ended, claimed share has a newer case key for the organisation than
    it had when the rotation was claimed (a re-wrap of an old version under a new organisation key
    does not count)."""
    claimed = row.rotation_claimed_at_ms
    if claimed is None:
        return False
    newest_before: dict[Tier, int] = {}
    newest_after: dict[Tier, int] = {}
    for key_id, stored_at in shares.own_case_keys(session, row.org_id, row.case_id):
        parsed = parse_case_key_id(key_id)
        if parsed is None or parsed[0] != row.case_id:
            continue
        _, tier, version = parsed
        into = newest_after if stored_at >= claimed else newest_before
        into[tier] = max(into.get(tier, 0), version)
    return all(newest_after.get(tier, 0) > newest_before.get(tier, 0) for tier in _parse_tiers(row.tiers))


def _is_active(row: ShareRow, now: int) -> bool:
    return row.withdrawn_at_ms is None and (row.expires_at_ms is None or now < row.expires_at_ms)


def _parse_tiers(text: str) -> set[Tier]:
    return {Tier(part) for part in text.split(",") if part}


def _tiers(tiers: Sequence[Tier]) -> set[Tier]:
    unique = set(tiers)
    if len(unique) != len(tiers):
        raise InvalidInput("invalid_tiers", "Name each tier (basic, full) once")
    return unique


def _tiers_text(tiers: set[Tier]) -> str:
    return ",".join(tier.value for tier in sorted(tiers))


def _partner_tiers(session: Session, owner_id: str, case_id: str, partner_id: str, now: int) -> set[Tier]:
    tiers: set[Tier] = set()
    for row in shares.shares_of_case(session, case_id):
        if row.org_id == owner_id and row.partner_org_id == partner_id and _is_active(row, now):
            tiers |= _parse_tiers(row.tiers)
    return tiers


def _grant_problem(grant: KeyGrantIn, case_id: str, partner: OrganisationRow, tiers: set[Tier]) -> str | None:
    """Why ``grant`` is not a key of ``case_id`` in ``tiers`` sealed to ``partner``; None when it is."""
    if grant.recipient_kind != "organisation" or grant.recipient_id != partner.id:
        return "A shared key must be sealed to the partner organisation (recipient_kind 'organisation')"
    sealed_to = org_private_key_id(partner.id, partner.key_version)
    if grant.wrapped_with != sealed_to:
        return f"A shared key must be sealed to the partner's public key: wrapped_with '{sealed_to}'"
    parsed = parse_case_key_id(grant.key_id)
    if grant.case_id != case_id or parsed is None or parsed[0] != case_id:
        return "A shared key must be a key of this person (case:<case_id>:<tier>:vN) with its case_id"
    if parsed[1] not in tiers:
        return f"The {parsed[1]} tier is not shared with this organisation"
    return None


def _refused(grant: KeyGrantIn, reason: RejectReason, detail: str) -> GrantResult:
    return GrantResult(grant_id=grant.grant_id, status=ChangeStatus.REJECTED, reason=reason, detail=detail)


def _add_grants(
    session: Session, org: OrganisationRow, caller: AuthenticatedDevice, grants: Sequence[KeyGrantIn], now: int
) -> None:
    rows = []
    for grant in grants:
        org.last_seq += 1
        rows.append(
            {
                "grant_id": grant.grant_id,
                "seq": org.last_seq,
                "org_id": org.id,
                "key_id": grant.key_id,
                "case_id": grant.case_id,
                "recipient_kind": grant.recipient_kind,
                "recipient_id": grant.recipient_id,
                "wrapped_with": grant.wrapped_with,
                "wrapped": grant.wrapped,
                "created_by_user_id": caller.user_id,
                "content_hash": content_hash(grant),
                "created_at_ms": now,
            }
        )
    sync_storage.insert_rows(session, grants=rows)


def _rotation_due(session: Session, row: ShareRow, now: int) -> RotationDue:
    partners: dict[str, set[Tier]] = defaultdict(set)
    for other in shares.shares_of_case(session, row.case_id):
        if other.id != row.id and other.org_id == row.org_id and _is_active(other, now):
            partners[other.partner_org_id] |= _parse_tiers(other.tiers)
    orgs = {org.id: org for org in _orgs(session, set(partners))}
    return RotationDue(
        share_id=row.id,
        case_id=row.case_id,
        tiers=sorted(_parse_tiers(row.tiers)),
        mentors=[
            MentorInfo(user_id=mentor.id, display_name=mentor.display_name, public_key=mentor.public_key)
            for mentor in assignments.assigned_mentors(session, row.case_id)
        ],
        partners=[
            PartnerScope(
                org_id=org_id,
                name=orgs[org_id].name,
                public_key=orgs[org_id].public_key or "",
                key_version=orgs[org_id].key_version,
                tiers=sorted(tiers),
            )
            for org_id, tiers in sorted(partners.items())
            if org_id in orgs and orgs[org_id].public_key
        ],
    )


def _infos(session: Session, rows: Sequence[ShareRow], now: int) -> list[ShareInfo]:
    orgs = {org.id: org for org in _orgs(session, {row.org_id for row in rows} | {r.partner_org_id for r in rows})}
    users: dict[str, UserRow] = accounts.get_users(session, sorted({row.created_by for row in rows}))
    return [
        ShareInfo(
            share_id=row.id,
            case_id=row.case_id,
            owner_org_id=row.org_id,
            owner_org_name=orgs[row.org_id].name if row.org_id in orgs else "",
            partner_org_id=row.partner_org_id,
            partner_org_name=orgs[row.partner_org_id].name if row.partner_org_id in orgs else "",
            tiers=sorted(_parse_tiers(row.tiers)),
            basis=ShareBasis(row.basis),
            record_id=row.record_id,
            starts_at_ms=row.starts_at_ms,
            expires_at_ms=row.expires_at_ms,
            created_at_ms=row.created_at_ms,
            created_by_name=users[row.created_by].display_name if row.created_by in users else "",
            withdrawn_at_ms=row.withdrawn_at_ms,
            withdrawal_record_id=row.withdrawal_record_id,
            active=_is_active(row, now),
        )
        for row in rows
    ]


def _orgs(session: Session, org_ids: Iterable[str]) -> list[OrganisationRow]:
    found = [organisations.get_organisation(session, org_id) for org_id in sorted(set(org_ids))]
    return [org for org in found if org is not None]


def _directory(session: Session, caller: AuthenticatedDevice) -> list[OrganisationEntry]:
    return [
        OrganisationEntry(org_id=org.id, name=org.name, public_key=org.public_key, key_version=org.key_version)
        for org in shares.directory(session, caller.org_id)
        if org.public_key
    ]


def _require_full_member(caller: AuthenticatedDevice) -> None:
    if caller.role not in _FULL_MEMBERS:
        raise Forbidden("full_members_only", "Only coordinators and link workers can share a person's record")


def _require_partner(session: Session, caller: AuthenticatedDevice, org_id: str) -> OrganisationRow:
    if org_id == caller.org_id:
        raise InvalidInput("own_organisation", "Your own organisation already holds this record")
    partner = organisations.get_organisation(session, org_id)
    if partner is None:
        raise NotFound("unknown_organisation", "There is no such organisation on this server")
    if partner.key_version == 0 or not partner.public_key:
        raise Conflict(
            "partner_not_ready", f"{partner.name} has not set up its keys yet, so nothing can be sealed to it"
        )
    return partner


def _require_consent_record(session: Session, caller: AuthenticatedDevice, case_id: str, record_id: str) -> None:
    found = sync_storage.get_records(session, [record_id]).get(record_id)
    if found is None or found.org_id != caller.org_id or found.kind != _CONSENT or found.case_id != case_id:
        raise Conflict(
            "consent_record_missing",
            "The consent record for this share has not reached the server: sync, then try again",
        )


def _require_share(session: Session, caller: AuthenticatedDevice, share_id: str) -> ShareRow:
    row = shares.get_share(session, share_id)
    if row is None or row.org_id != caller.org_id:
        raise NotFound("share_not_found", "There is no such share in your organisation")
    return row
