"""Push and pull: the server's side of the v1 sync protocol.

Push applies a whole batch in one transaction holding the organisation's sequence lock, so each
accepted change or grant gets the next ``seq`` of its organisation in commit order. Grants are
applied before changes (keys before the content they open). Each item gets its own result: a
rejected item never stops the others, and a replayed batch changes nothing (``duplicate``).

The server checks metadata only (membership, authorship, kind, field, tier, key, case, clock);
it cannot read a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row
from sqlmodel import Session

from shared.clock import check_wall_not_ahead, wall_ms_of
from shared.errors import ClockError, ClockSkewError
from shared.kinds import COORDINATORS_ONLY_KINDS, Tier, kind_spec, tier_allowed, wire_fields
from shared.protocol import (
    MAX_PULL_LIMIT,
    VERSION_FIELDS,
    CasePurge,
    ChangeIn,
    ChangeStatus,
    GrantResult,
    KeyGrant,
    KeyGrantIn,
    MemberAwaitingKey,
    PullResponse,
    PushRequest,
    PushResponse,
    RejectReason,
    Role,
    Version,
    org_key_id,
    parse_case_key_id,
    pull_response_json,
    push_response_json,
)
from sync_server.context import ServerContext
from sync_server.errors import SessionRevoked
from sync_server.services.audit import AuditAction, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.content import content_hash
from sync_server.storage import accounts, organisations
from sync_server.storage import assignments as assignment_storage
from sync_server.storage import cases as case_storage
from sync_server.storage import sync as storage
from sync_server.storage.database import begin_write
from sync_server.storage.tables import KeyGrantRow, OrganisationRow, UserRow

__all__ = ["PulledPage", "PushedBatch", "pull", "push"]

_FULL_MEMBERS = (Role.COORDINATOR.value, Role.LINK_WORKER.value)
_PERSON = "person"
_LAST_SEEN_GRANULARITY_MS = 60_000
_EMPTY_SETTLES = "[]"  # how a version that settles nothing stores its (JSON) list
_ERASED = "This person's record was erased by a coordinator: nothing more can be added to it"


class _Rejected(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class _NewRecord:
    """A record this push creates (inserted in bulk at the end, like its versions)."""

    org_id: str
    case_id: str | None
    kind: str


@dataclass
class _Batch:
    """What one push knows: rows fetched up front plus what the batch itself has added."""

    caller: AuthenticatedDevice
    org: OrganisationRow
    now_ms: int
    max_clock_ahead_ms: int
    next_seq: int
    records: dict[str, Row[Any] | _NewRecord]
    versions: dict[str, Row[Any]]
    grants: dict[str, KeyGrantRow]
    taken: set[tuple[str, str]]
    members: dict[str, UserRow]
    mentor_cases: frozenset[str]
    erased_cases: frozenset[str]
    session: Session
    # (key id, wrapped with) of the organisation's own wraps of case keys, stored or in this batch.
    org_wraps: set[tuple[str, str]] = field(default_factory=set)
    seen_changes: set[str] = field(default_factory=set)
    seen_grants: set[str] = field(default_factory=set)
    # Rows to insert, as column values: one bulk insert per table instead of an ORM object per row.
    new_records: list[dict[str, object]] = field(default_factory=list)
    new_versions: list[dict[str, object]] = field(default_factory=list)
    new_grants: list[dict[str, object]] = field(default_factory=list)

    def take_seq(self) -> int:
        self.next_seq += 1
        return self.next_seq


# --- push ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushedBatch:
    """A push's answer: ``response`` without its per-change results, and those results as
    ``ChangeResult``'s fields (``shared.protocol.push_response_json``): up to 500 of them."""

    response: PushResponse
    results: list[dict[str, Any]]

    def to_json(self) -> bytes:
        return push_response_json(self.response, self.results)


def push(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, request: PushRequest) -> PushedBatch:
    # Hashed before the organisation's lock is taken, which other pushes are waiting for.
    change_hashes = [content_hash(change) for change in request.changes]
    grant_hashes = [content_hash(grant) for grant in request.key_grants]
    org = organisations.lock_organisation(session, caller.org_id)
    device = accounts.get_device(session, caller.device_id)
    if org is None or device is None or device.revoked_at_ms is not None:
        raise SessionRevoked("This device was signed out: sign in again")
    now = ctx.now_ms()
    record_ids = {change.record_id for change in request.changes}
    append_only_ids = {change.record_id for change in request.changes if _append_only(change.kind)}
    case_ids = {change.case_id for change in request.changes if change.case_id is not None}
    case_ids |= {grant.case_id for grant in request.key_grants if grant.case_id is not None}
    recipients = {grant.recipient_id for grant in request.key_grants if grant.recipient_kind == "user"}
    batch = _Batch(
        caller=caller,
        org=org,
        now_ms=now,
        max_clock_ahead_ms=ctx.settings.max_clock_ahead_ms,
        next_seq=org.last_seq,
        records=dict(storage.get_records(session, record_ids | case_ids)),
        versions=storage.get_versions(session, [change.change_id for change in request.changes]),
        grants=storage.get_grants(session, [grant.grant_id for grant in request.key_grants]),
        taken=storage.taken_entries(session, append_only_ids),
        members=accounts.get_users(session, sorted(recipients)),
        mentor_cases=(
            accounts.mentor_assigned_case_ids(session, caller.user_id)
            if caller.role is Role.PEER_MENTOR
            else frozenset()
        ),
        erased_cases=case_storage.erased_among(session, case_ids),
        session=session,
        org_wraps=storage.keys_wrapped_for_organisation(
            session,
            caller.org_id,
            {
                grant.key_id
                for grant in request.key_grants
                if grant.recipient_kind == "organisation" and grant.recipient_id == caller.org_id
            },
        ),
    )
    grant_results = [
        _push_grant(batch, grant, digest) for grant, digest in zip(request.key_grants, grant_hashes, strict=True)
    ]
    results = [
        _push_change(batch, change, digest) for change, digest in zip(request.changes, change_hashes, strict=True)
    ]
    storage.insert_rows(session, records=batch.new_records, versions=batch.new_versions, grants=batch.new_grants)
    org.last_seq = batch.next_seq
    session.add(org)
    if now - device.last_seen_at_ms >= _LAST_SEEN_GRANULARITY_MS:  # as a pull does: to the minute
        accounts.touch_device(session, caller.device_id, now_ms=now)
    _audit_push(ctx, session, caller, results, grant_results)
    session.commit()
    return PushedBatch(PushResponse(results=[], grant_results=grant_results, server_time_ms=now), results)


def _change_result(
    change_id: str, status: ChangeStatus, seq: int | None = None, rejected: _Rejected | None = None
) -> dict[str, Any]:
    """A ``ChangeResult``'s fields, in its order (``CHANGE_RESULT_FIELDS``), as JSON values."""
    reason = rejected.reason.value if rejected is not None else None
    detail = rejected.detail if rejected is not None else None
    return {"change_id": change_id, "status": status.value, "seq": seq, "reason": reason, "detail": detail}


def _push_change(batch: _Batch, change: ChangeIn, digest: str) -> dict[str, Any]:
    try:
        duplicate_seq = _check_change(batch, change, digest)
    except _Rejected as rejected:
        return _change_result(change.change_id, ChangeStatus.REJECTED, rejected=rejected)
    if duplicate_seq is not None:
        return _change_result(change.change_id, ChangeStatus.DUPLICATE, duplicate_seq)
    seq = batch.take_seq()
    caller = batch.caller
    if change.record_id not in batch.records:
        batch.records[change.record_id] = _NewRecord(org_id=caller.org_id, case_id=change.case_id, kind=change.kind)
        batch.new_records.append(
            {
                "record_id": change.record_id,
                "org_id": caller.org_id,
                "case_id": change.case_id,
                "kind": change.kind,
                "created_by_user_id": caller.user_id,
            }
        )
    batch.taken.add((change.record_id, change.field))
    batch.new_versions.append(
        {
            "change_id": change.change_id,
            "seq": seq,
            "org_id": caller.org_id,
            "record_id": change.record_id,
            "case_id": change.case_id,
            "kind": change.kind,
            "field": change.field,
            "tier": change.tier.value,
            "key_id": change.key_id,
            "hlc": change.hlc,
            "base_hlc": change.base_hlc,
            "author_user_id": caller.user_id,
            "author_device_id": change.author_device_id,
            "nonce": change.nonce,
            "ciphertext": change.ciphertext,
            "tag": change.tag,
            "amends": change.amends,
            "settles": json.dumps(list(change.settles)) if change.settles else _EMPTY_SETTLES,
            "content_hash": digest,
            "received_at_ms": batch.now_ms,
        }
    )
    return _change_result(change.change_id, ChangeStatus.ACCEPTED, seq)


def _check_change(batch: _Batch, change: ChangeIn, digest: str) -> int | None:
    """Raise ``_Rejected`` for a change that may not be stored; return the seq of a duplicate."""
    caller = batch.caller
    if change.change_id in batch.seen_changes:
        raise _Rejected(RejectReason.DUPLICATE_IN_BATCH, "This change_id appears earlier in the same push")
    batch.seen_changes.add(change.change_id)
    existing = batch.versions.get(change.change_id)
    if existing is not None:
        if existing.org_id != caller.org_id:
            raise _Rejected(RejectReason.WRONG_ORGANISATION, "This change_id belongs to another organisation")
        if existing.content_hash == digest:
            return int(existing.seq)
        raise _Rejected(RejectReason.CONFLICTING_DUPLICATE, "A different change with this change_id was stored before")
    if change.case_id is not None and change.case_id in batch.erased_cases:
        raise _Rejected(RejectReason.CASE_ERASED, _ERASED)
    if change.author_device_id != caller.device_id:
        raise _Rejected(RejectReason.FORGED_AUTHOR, "author_device_id must be the device that pushes")
    spec = kind_spec(change.kind)
    if spec is None:
        raise _Rejected(RejectReason.UNKNOWN_KIND, f"There is no record kind {change.kind!r}")
    if change.field not in wire_fields(spec):
        raise _Rejected(RejectReason.UNKNOWN_FIELD, f"A {spec.name} record has no field {change.field!r}")
    if not tier_allowed(change.kind, change.field, change.tier):
        raise _Rejected(
            RejectReason.WRONG_TIER, f"{spec.name}.{change.field} may not be written under the {change.tier} tier"
        )
    record = batch.records.get(change.record_id)
    if record is not None:
        if record.org_id != caller.org_id:
            raise _Rejected(RejectReason.WRONG_ORGANISATION, "This record belongs to another organisation")
        if record.case_id != change.case_id or record.kind != change.kind:
            raise _Rejected(RejectReason.WRONG_CASE, "This record was stored with another case or kind")
    if spec.case_scoped:
        _check_case(batch, change)
        parsed = parse_case_key_id(change.key_id)
        if parsed is None or parsed[0] != change.case_id or parsed[1] != change.tier:
            raise _Rejected(
                RejectReason.WRONG_KEY, f"key_id must be a {change.tier} key of this case (case:<case_id>:<tier>:vN)"
            )
    else:
        if change.case_id is not None:
            raise _Rejected(RejectReason.WRONG_CASE, f"A {spec.name} record belongs to no case")
        if _org_key_version(change.key_id, caller.org_id) is None:
            raise _Rejected(RejectReason.WRONG_KEY, "key_id must be a key of your organisation (org:<org_id>:vN)")
    if spec.append_only and (change.record_id, change.field) in batch.taken:
        raise _Rejected(RejectReason.APPEND_ONLY, f"A {spec.name} is written once: record a new one that amends it")
    try:
        check_wall_not_ahead(wall_ms_of(change.hlc), batch.now_ms, batch.max_clock_ahead_ms)
    except ClockSkewError as error:
        raise _Rejected(RejectReason.CLOCK_AHEAD, f"{error}: set the phone's clock and try again") from None
    except ClockError:  # the protocol model already checked the format
        raise _Rejected(RejectReason.CLOCK_AHEAD, "The clock stamp is not usable") from None
    if caller.role is Role.PEER_MENTOR and (change.tier is not Tier.BASIC or change.case_id not in batch.mentor_cases):
        raise _Rejected(
            RejectReason.NOT_ENTITLED, "A peer mentor may write only basic details of people assigned to them"
        )
    return None


def _check_case(batch: _Batch, change: ChangeIn) -> None:
    if change.case_id is None:
        raise _Rejected(RejectReason.WRONG_CASE, f"A {change.kind} record needs a case_id")
    if change.kind == _PERSON:
        if change.case_id != change.record_id:
            raise _Rejected(RejectReason.WRONG_CASE, "A person record is its own case: case_id must equal record_id")
        return
    case = batch.records.get(change.case_id)
    if case is None or case.kind != _PERSON or case.org_id != batch.caller.org_id:
        raise _Rejected(RejectReason.WRONG_CASE, "case_id must be a person already recorded in your organisation")


def _append_only(kind: str) -> bool:
    spec = kind_spec(kind)
    return spec is not None and spec.append_only


_ORG_KEY = re.compile(r"^org:(?P<org>[0-9a-f-]{36}):v(?P<version>[0-9]+)$")


def _org_key_version(key_id: str, org_id: str) -> int | None:
    """The version of an ``org:<org_id>:vN`` key id of this organisation, else None."""
    match = _ORG_KEY.fullmatch(key_id)
    if match is None or match["org"] != org_id:
        return None
    return int(match["version"])


def _push_grant(batch: _Batch, grant: KeyGrantIn, digest: str) -> GrantResult:
    try:
        duplicate_seq = _check_grant(batch, grant, digest)
    except _Rejected as rejected:
        return GrantResult(
            grant_id=grant.grant_id, status=ChangeStatus.REJECTED, reason=rejected.reason, detail=rejected.detail
        )
    if duplicate_seq is not None:
        return GrantResult(grant_id=grant.grant_id, status=ChangeStatus.DUPLICATE, seq=duplicate_seq)
    seq = batch.take_seq()
    batch.new_grants.append(
        {
            "grant_id": grant.grant_id,
            "seq": seq,
            "org_id": batch.caller.org_id,
            "key_id": grant.key_id,
            "case_id": grant.case_id,
            "recipient_kind": grant.recipient_kind,
            "recipient_id": grant.recipient_id,
            "wrapped_with": grant.wrapped_with,
            "wrapped": grant.wrapped,
            "created_by_user_id": batch.caller.user_id,
            "content_hash": digest,
            "created_at_ms": batch.now_ms,
        }
    )
    return GrantResult(grant_id=grant.grant_id, status=ChangeStatus.ACCEPTED, seq=seq)


def _check_grant(batch: _Batch, grant: KeyGrantIn, digest: str) -> int | None:
    caller, org = batch.caller, batch.org
    if grant.grant_id in batch.seen_grants:
        raise _Rejected(RejectReason.DUPLICATE_IN_BATCH, "This grant_id appears earlier in the same push")
    batch.seen_grants.add(grant.grant_id)
    existing = batch.grants.get(grant.grant_id)
    if existing is not None:
        if existing.org_id != caller.org_id:
            raise _Rejected(RejectReason.WRONG_ORGANISATION, "This grant_id belongs to another organisation")
        if existing.content_hash == digest:
            return existing.seq
        raise _Rejected(RejectReason.CONFLICTING_DUPLICATE, "A different grant with this grant_id was stored before")
    if grant.case_id is not None and grant.case_id in batch.erased_cases:
        raise _Rejected(RejectReason.CASE_ERASED, _ERASED)
    if grant.recipient_kind == "organisation":
        _check_organisation_grant(batch, grant)
        return None
    # A link worker who withdraws a consent rotates the person's keys and seals the new basic key to
    # the person's mentors; every other key a member receives comes from a coordinator.
    case_key_to_mentor = caller.role is Role.LINK_WORKER and parse_case_key_id(grant.key_id) is not None
    if caller.role is not Role.COORDINATOR and not case_key_to_mentor:
        raise _Rejected(RejectReason.NOT_ENTITLED, "Only a coordinator can give a key to a member")
    recipient = batch.members.get(grant.recipient_id)
    if recipient is None or recipient.org_id != caller.org_id:
        raise _Rejected(RejectReason.WRONG_ORGANISATION, "The recipient is not a member of your organisation")
    if recipient.removed_at_ms is not None:
        raise _Rejected(RejectReason.NOT_ENTITLED, "The recipient was removed from your organisation")
    if grant.wrapped_with != f"user:{recipient.id}":
        raise _Rejected(RejectReason.WRONG_KEY, "A key for a member must be sealed to them: wrapped_with 'user:<id>'")
    version = _org_key_version(grant.key_id, org.id)
    if version is not None:
        if not 1 <= version <= org.key_version or grant.case_id is not None:
            raise _Rejected(RejectReason.WRONG_KEY, "key_id is not a current organisation key, or has a case_id")
        if recipient.role not in _FULL_MEMBERS:
            raise _Rejected(RejectReason.NOT_ENTITLED, "Only coordinators and link workers hold the organisation key")
        return None
    parsed = parse_case_key_id(grant.key_id)
    if parsed is None or parsed[0] != grant.case_id:
        raise _Rejected(RejectReason.WRONG_KEY, "key_id must be an organisation key or a key of the grant's case")
    _check_case_of_grant(batch, grant)
    if case_key_to_mentor and recipient.role != Role.PEER_MENTOR.value:
        raise _Rejected(RejectReason.NOT_ENTITLED, "A link worker can seal a person's keys to their peer mentors only")
    if recipient.role == Role.PEER_MENTOR.value:
        assigned = accounts.mentor_assigned_case_ids(batch.session, recipient.id)
        if parsed[1] is not Tier.BASIC or grant.case_id not in assigned:
            raise _Rejected(
                RejectReason.NOT_ENTITLED, "A peer mentor may hold only the basic key of a case assigned to them"
            )
    return None


def _check_organisation_grant(batch: _Batch, grant: KeyGrantIn) -> None:
    caller, org = batch.caller, batch.org
    if caller.role.value not in _FULL_MEMBERS:
        raise _Rejected(RejectReason.NOT_ENTITLED, "Only coordinators and link workers can add case keys")
    if grant.recipient_id != caller.org_id:
        raise _Rejected(RejectReason.WRONG_ORGANISATION, "A key can only be wrapped for your own organisation")
    parsed = parse_case_key_id(grant.key_id)
    if parsed is None or grant.case_id is None or parsed[0] != grant.case_id:
        raise _Rejected(RejectReason.WRONG_KEY, "key_id must be a key of the grant's case (case:<case_id>:<tier>:vN)")
    _check_case_of_grant(batch, grant)
    version = _org_key_version(grant.wrapped_with, org.id)
    if version is None or not 1 <= version <= org.key_version:
        raise _Rejected(
            RejectReason.WRONG_KEY, "wrapped_with must be a current key of your organisation (org:<org_id>:vN)"
        )
    # One content per key version: a second device rotating the same key at the same moment is
    # refused, and takes the first one's key at its next pull (a re-wrap under a newer
    # organisation key has another wrapped_with, and is allowed).
    if (grant.key_id, grant.wrapped_with) in batch.org_wraps:
        raise _Rejected(
            RejectReason.KEY_VERSION_TAKEN, "Another device made this key version first: sync to receive it"
        )
    batch.org_wraps.add((grant.key_id, grant.wrapped_with))


def _check_case_of_grant(batch: _Batch, grant: KeyGrantIn) -> None:
    case = batch.records.get(grant.case_id) if grant.case_id is not None else None
    if case is not None and case.org_id != batch.caller.org_id:
        raise _Rejected(RejectReason.WRONG_ORGANISATION, "This case belongs to another organisation")


# --- pull ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PulledPage:
    """A pull's answer: ``response`` without its versions, and the page's versions as stored.

    Every stored version was validated as a ``ChangeIn`` when it was pushed, so the page is written
    from the rows in one pass (``shared.protocol.pull_response_json``) instead of being built as up
    to 1,000 models and dumped."""

    response: PullResponse
    versions: list[dict[str, Any]]

    def to_json(self) -> bytes:
        return pull_response_json(self.response, self.versions)


def pull(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, since: int, limit: int) -> PulledPage:
    """What the caller may receive above ``since``, in seq order, at most ``limit`` items.

    A peer mentor receives basic versions of the cases assigned to them now, and the grants sealed
    to them for those cases. Two things follow the assignment table rather than ``since`` alone:

    - a case assigned at a seq above ``since`` brings its older basic versions too (they were
      written before the mentor could receive them, so the cursor is already past them);
    - a spell that ended (unassigned) at a seq above ``since`` comes as a ``CasePurge``, unless
      the case is assigned again. Purges are computed from the assignment rows, not queued: the
      unassigned seq sits in the organisation's sequence, so a device that was offline for days
      still gets the purge on its next pull (its cursor is below that seq), every device of the
      mentor gets it, and ``next`` moves past it only in a response that carries it. A repeated
      purge is harmless (deleting what is gone).

    Every device of the organisation, mentors' included, gets a ``CasePurge`` (reason ``erased``)
    for a case erased at a seq above ``since``, the same way, from the case's tombstone.
    """
    now = ctx.now_ms()
    org = organisations.sequence_state(session, caller.org_id)
    if org is None:
        raise SessionRevoked("Your organisation no longer exists: sign in again")
    # Every seq up to the organisation's committed last_seq is committed (sequence numbers are
    # handed out under the organisation lock and committed with it). Bounding every query by it
    # keeps the result gap-free even when the queries below see different snapshots.
    until = org.last_seq
    # Everything a pull sends (versions, grants, assignments, unassignments, erasures) has a seq in
    # (since, until]: a cursor already there (the usual no-change pull) needs none of the queries.
    news = since < until
    fetch = limit + 1
    versions: Sequence[Row[Any]] = []
    mentor = caller.role is Role.PEER_MENTOR
    assigned: frozenset[str] = frozenset()
    grants: Sequence[Row[Any]] = []
    if news and mentor:
        assigned = accounts.mentor_assigned_case_ids(session, caller.user_id)
        if assigned:
            versions = storage.versions_after(
                session, org.id, since, until, fetch, tier=Tier.BASIC.value, case_ids=assigned
            )
        # A case key sealed to a mentor of a case they no longer hold stays on the server, unsent.
        grants = [
            grant
            for grant in storage.grants_after(session, org.id, "user", caller.user_id, since, until, fetch)
            if grant.case_id is None or grant.case_id in assigned
        ]
    elif news:
        hidden = () if caller.role is Role.COORDINATOR else COORDINATORS_ONLY_KINDS
        versions = storage.versions_after(session, org.id, since, until, fetch, exclude_kinds=hidden)
        grants = [
            *storage.grants_after(session, org.id, "user", caller.user_id, since, until, fetch),
            *storage.grants_after(session, org.id, "organisation", org.id, since, until, fetch),
        ]
    page_versions, page_grants, has_more, last_seq = _first_in_seq_order(versions, grants, limit)
    next_seq = last_seq if last_seq is not None else since
    earlier: Sequence[Row[Any]] = []
    # Assignments and erasures in (since, bound] are answered by this page.
    bound = next_seq if has_more else until
    purges: list[CasePurge] = []
    if news and mentor:
        fresh = assignment_storage.fresh_assignments(session, caller.user_id, since, bound)
        if fresh and since > 0:
            # Bounded only as a guard: one person's basic history is far smaller than this.
            earlier = storage.versions_after(
                session,
                org.id,
                0,
                since,
                MAX_PULL_LIMIT * 100,
                tier=Tier.BASIC.value,
                case_ids={case_id for case_id, _ in fresh},
            )
        # The cursor passes an assignment once it has been answered, so the back-fill is sent once.
        next_seq = max([next_seq, *(seq for _, seq in fresh)])
        for case_id, seq in assignment_storage.purged_after(session, caller.user_id, since, bound):
            next_seq = max(next_seq, seq)
            if case_id not in assigned and all(purge.case_id != case_id for purge in purges):
                purges.append(CasePurge(case_id=case_id))
    if news:
        next_seq = _erasure_purges(session, org.id, since, bound, next_seq, purges)
    awaiting = _members_awaiting_key(session, caller, org.id, org.key_version)
    page = _stored_versions([*earlier, *page_versions])
    response = PullResponse.model_construct(
        versions=[],  # sent as stored: see PulledPage
        key_grants=[_grant(row) for row in page_grants],
        next=next_seq,
        has_more=has_more,
        server_time_ms=now,
        members_awaiting_key=awaiting,
        purges=purges,
        # Whether any share (active or ended) was made by the organisation or with it: if not, the
        # sharing pull has nothing for its members (no shared people, purges or key rotations).
        sharing=not mentor and bool(org.made_shares or org.shared_with),
    )
    _note_seen(session, caller, now)
    if page_versions or page_grants or earlier or purges:
        # Only a pull that delivered something is access worth auditing; a no-change pull is not.
        begin_write(session)
        record_for(
            ctx,
            session,
            caller,
            AuditAction.PULLED,
            versions=len(page),
            key_grants=len(response.key_grants),
            since=since,
            next=response.next,
        )
        for purge in purges:
            record_for(ctx, session, caller, AuditAction.CASE_PURGED, case_id=purge.case_id)
        session.commit()
    return PulledPage(response, page)


def _first_in_seq_order(
    versions: Sequence[Row[Any]], grants: Sequence[Row[Any]], limit: int
) -> tuple[Sequence[Row[Any]], list[Row[Any]], bool, int | None]:
    """The first ``limit`` of ``versions`` and ``grants`` together by seq (each list is in seq order;
    seqs are unique across both): those versions, those grants, whether more were left, and the
    last seq taken (``None``: none)."""
    if not grants:  # most pages
        taken = versions[:limit]
        return taken, [], len(versions) > limit, int(taken[-1].seq) if taken else None
    items = sorted(
        [(int(row.seq), False, row) for row in versions] + [(int(row.seq), True, row) for row in grants],
        key=itemgetter(0),
    )
    page = items[:limit]
    return (
        [row for _, is_grant, row in page if not is_grant],
        [row for _, is_grant, row in page if is_grant],
        len(items) > limit,
        page[-1][0] if page else None,
    )


def _erasure_purges(
    session: Session, org_id: str, since: int, bound: int, next_seq: int, purges: list[CasePurge]
) -> int:
    """Add a purge for every case of the organisation erased at a seq in ``(since, bound]`` (every
    device gets it, like a mentor's unassignment: computed from the tombstones, not queued) and
    return the cursor moved past them."""
    for case_id, seq in case_storage.erased_after(session, org_id, since, bound):
        next_seq = max(next_seq, seq)
        purges[:] = [purge for purge in purges if purge.case_id != case_id]
        purges.append(CasePurge(case_id=case_id, reason="erased"))
    return next_seq


def _audit_push(
    ctx: ServerContext,
    session: Session,
    caller: AuthenticatedDevice,
    results: Sequence[dict[str, Any]],
    grant_results: Sequence[GrantResult],
) -> None:
    counts = {status: 0 for status in ChangeStatus}
    for result in results:
        counts[ChangeStatus(result["status"])] += 1
    record_for(
        ctx,
        session,
        caller,
        AuditAction.PUSHED,
        accepted=counts[ChangeStatus.ACCEPTED],
        duplicate=counts[ChangeStatus.DUPLICATE],
        rejected=counts[ChangeStatus.REJECTED],
        key_grants=sum(1 for result in grant_results if result.status is ChangeStatus.ACCEPTED),
    )


def _members_awaiting_key(
    session: Session, caller: AuthenticatedDevice, org_id: str, key_version: int
) -> list[MemberAwaitingKey]:
    if caller.role is not Role.COORDINATOR or key_version == 0:
        return []
    rows = accounts.members_without_grant(session, org_id, _FULL_MEMBERS, org_key_id(org_id, key_version))
    return [
        MemberAwaitingKey(user_id=row.id, display_name=row.display_name, role=Role(row.role), public_key=row.public_key)
        for row in rows
    ]


def _note_seen(session: Session, caller: AuthenticatedDevice, now: int) -> None:
    last_seen = caller.last_seen_at_ms
    if last_seen is None:  # not read while authenticating
        device = accounts.get_device(session, caller.device_id)
        if device is None:
            return
        last_seen = device.last_seen_at_ms
    if now - last_seen < _LAST_SEEN_GRANULARITY_MS:
        return
    begin_write(session)
    accounts.touch_device(session, caller.device_id, now_ms=now)
    session.commit()


# Validating a page of rows at once (pydantic-core, from dicts) costs half of building each
# version with ``model_construct``, which loops over the fields in Python; it is kept for rows an
# older rule let in.
_VERSION_LIST = TypeAdapter(list[Version])


def _stored_versions(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Rows of the version table as ``Version``'s fields, in its order, as JSON values."""
    if not rows:
        return []
    columns = rows[0]._fields
    pick = itemgetter(*(columns.index(name) for name in VERSION_FIELDS))
    values = []
    for row in rows:
        value = dict(zip(VERSION_FIELDS, pick(row), strict=True))
        settles = value["settles"]
        value["settles"] = json.loads(settles) if settles != _EMPTY_SETTLES else []
        values.append(value)
    return values


def _versions(rows: Sequence[Row[Any]]) -> list[Version]:
    """Versions as the protocol sends them, from rows of the version table."""
    values = _stored_versions(rows)
    try:
        return _VERSION_LIST.validate_python(values)
    except ValidationError:
        # Stored under an older, looser rule: sent as stored (each was validated when pushed).
        return [Version.model_construct(**{**value, "tier": Tier(value["tier"])}) for value in values]


def _grant(row: KeyGrantRow | Row[Any]) -> KeyGrant:
    """A grant as the protocol sends it; like ``_version``, stored only after validation."""
    return KeyGrant.model_construct(
        grant_id=row.grant_id,
        key_id=row.key_id,
        case_id=row.case_id,
        recipient_kind="user" if row.recipient_kind == "user" else "organisation",
        recipient_id=row.recipient_id,
        wrapped_with=row.wrapped_with,
        wrapped=row.wrapped,
        seq=row.seq,
        org_id=row.org_id,
        created_by_user_id=row.created_by_user_id,
    )
