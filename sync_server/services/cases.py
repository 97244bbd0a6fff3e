"""Closing a person's case, retention, and erasure.

A coordinator closes a case (and may reopen it); the server records when, which is all it needs
to enforce the organisation's retention period. Erasing a case deletes its ciphertext from the
server (versions, records, key grants, mentor assignments) and ends its shares with partner
organisations (whose phones then purge it) in one transaction holding the organisation's
sequence lock, and leaves a tombstone whose ``erased_seq`` sits in the organisation's sequence:
every device of the organisation is told to purge the case, with its keys, at its next pull,
however long it was offline (``services.sync.pull``), and pushes to it are refused
(``case_erased``). ``purge_due`` erases every case whose retention has run out
(``outreach-server purge``). Audit entries hold ids and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from shared.protocol import CaseErased, CaseStatus, EraseCase, RetentionPolicy, Role
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, NotFound
from sync_server.services.audit import AuditAction, record, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.guards import lock_organisation
from sync_server.storage import cases as storage
from sync_server.storage import organisations
from sync_server.storage import shares as share_storage
from sync_server.storage import sync as sync_storage
from sync_server.storage.tables import CaseStateRow, OrganisationRow

__all__ = [
    "DueCase",
    "age_out_case_views",
    "case_status",
    "check_erasable",
    "close_case",
    "due_cases",
    "erase_case",
    "erase_case_as_admin",
    "reopen_case",
    "retention",
    "set_retention",
    "set_retention_by_org_name",
]

_PERSON = "person"
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class DueCase:
    """A closed case whose organisation's retention period has run out."""

    case_id: str
    org_id: str
    closed_at_ms: int


# --- coordinators ----------------------------------------------------------------------------


def case_status(session: Session, caller: AuthenticatedDevice, case_id: str) -> CaseStatus:
    """Link workers are told too (a closed case is one they should not be working on); peer
    mentors are not: their phone drops a person when they are unassigned."""
    if caller.role not in (Role.COORDINATOR, Role.LINK_WORKER):
        raise Forbidden("full_members_only", "Only coordinators and link workers are told whether a case is closed")
    org = _organisation(session, caller.org_id)
    state = _require_live_case(session, caller.org_id, case_id)
    return _status(org, case_id, state)


def close_case(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str) -> CaseStatus:
    """Close a case: its retention period starts now. Closing a closed case changes nothing."""
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    state = _require_live_case(session, caller.org_id, case_id) or CaseStateRow(case_id=case_id, org_id=org.id)
    if state.closed_at_ms is None:
        state.closed_at_ms = ctx.now_ms()
        state.closed_by = caller.user_id
        storage.save_case_state(session, state)
        record_for(ctx, session, caller, AuditAction.CASE_CLOSED, case_id=case_id)
    result = _status(org, case_id, state)
    session.commit()
    return result


def reopen_case(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str) -> CaseStatus:
    """Reopen a closed case: it is kept again until it is next closed."""
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    state = _require_live_case(session, caller.org_id, case_id)
    if state is None or state.closed_at_ms is None:
        raise Conflict("case_not_closed", "This person's case is open: there is nothing to reopen")
    state.closed_at_ms = None
    state.closed_by = None
    storage.save_case_state(session, state)
    record_for(ctx, session, caller, AuditAction.CASE_REOPENED, case_id=case_id)
    result = _status(org, case_id, state)
    session.commit()
    return result


def erase_case(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, case_id: str, request: EraseCase | None = None
) -> CaseErased:
    """Erase one case now (coordinators), whether or not it is closed, with the records of who
    opened it that the coordinator's phone names. Cannot be undone."""
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    tombstone = storage.get_case_state(session, case_id)
    if tombstone is not None and tombstone.org_id == org.id and tombstone.erased_at_ms is not None:
        # Erased before: what is left to do is deleting the records of who opened it that a
        # coordinator's phone found since (written offline, pushed after the erasure).
        views = storage.delete_case_views(session, org.id, request.case_view_records if request else [])
        again = CaseErased(
            case_id=case_id, erased_at_ms=tombstone.erased_at_ms, versions=0, records=0, key_grants=0, assignments=0
        )
        again = again.model_copy(update={"case_views": views})
        if views:
            record_for(
                ctx, session, caller, AuditAction.CASE_ERASED, case_id=case_id, by="coordinator", **_counts(again)
            )
        session.commit()
        return again
    state = _require_live_case(session, caller.org_id, case_id)
    erased = _erase(ctx, session, org, case_id, state, by_user_id=caller.user_id)
    if request is not None and request.case_view_records:
        views = storage.delete_case_views(session, org.id, request.case_view_records)
        erased = erased.model_copy(update={"case_views": views})
    record_for(ctx, session, caller, AuditAction.CASE_ERASED, case_id=case_id, by="coordinator", **_counts(erased))
    session.commit()
    return erased


def retention(session: Session, caller: AuthenticatedDevice) -> RetentionPolicy:
    _require_coordinator(caller)
    return RetentionPolicy(retention_days=_organisation(session, caller.org_id).retention_days)


def set_retention(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, policy: RetentionPolicy
) -> RetentionPolicy:
    _require_coordinator(caller)
    org = lock_organisation(session, caller.org_id)
    _set_retention(ctx, session, org, policy.retention_days, actor=caller)
    session.commit()
    return RetentionPolicy(retention_days=org.retention_days)


# --- the server admin (CLI) ------------------------------------------------------------------


def due_cases(ctx: ServerContext, session: Session) -> list[DueCase]:
    """Every closed case whose retention period has run out, oldest closure first."""
    return [
        DueCase(case_id, org_id, closed) for case_id, org_id, closed in storage.due_for_erasure(session, ctx.now_ms())
    ]


def check_erasable(session: Session, case_id: str) -> None:
    """Raise the problem ``erase_case_as_admin`` would raise for this case, if any (a dry run)."""
    located = _locate(session, case_id)
    if located is None:
        raise NotFound("case_not_found", f"There is no person with the id {case_id} on this server")
    _require_live_case(session, located, case_id)


def erase_case_as_admin(ctx: ServerContext, session: Session, case_id: str, *, reason: str) -> CaseErased:
    """Erase one case in its own transaction (``outreach-server purge``). ``reason`` goes in the
    audit entry: ``retention`` (its period ran out) or ``admin`` (``--case``, on request)."""
    located = _locate(session, case_id)
    if located is None:
        raise NotFound("case_not_found", f"There is no person with the id {case_id} on this server")
    org = lock_organisation(session, located)
    state = _require_live_case(session, org.id, case_id)
    if reason == "retention" and not _retention_over(ctx, org, state):
        raise Conflict("retention_not_over", "This case was reopened or its retention was extended meanwhile")
    erased = _erase(ctx, session, org, case_id, state, by_user_id=None)
    record(
        ctx,
        session,
        chain=org.id,
        action=AuditAction.CASE_ERASED,
        details={"case_id": case_id, "by": reason, **_counts(erased)},
    )
    session.commit()
    return erased


def age_out_case_views(ctx: ServerContext, session: Session) -> int:
    """Delete, in every organisation, the records of who opened which record once they are older
    than its retention period (``outreach-server purge``). The server cannot tell whose record
    each one names, so an erasure deletes only those the coordinator's phone named; the rest go
    here. One transaction per organisation; returns how many were deleted."""
    deleted = 0
    for org_id in organisations.organisation_ids(session):
        org = lock_organisation(session, org_id)
        count = storage.delete_case_views_before(session, org.id, ctx.now_ms() - org.retention_days * _DAY_MS)
        if count:
            record(ctx, session, chain=org.id, action=AuditAction.CASE_VIEWS_AGED_OUT, details={"case_views": count})
        session.commit()
        deleted += count
    return deleted


def set_retention_by_org_name(ctx: ServerContext, session: Session, org_name: str, days: int | None) -> int:
    """Show (``days`` None) or set an organisation's retention period in days."""
    found = organisations.get_organisation_by_name(session, org_name)
    if found is None:
        raise NotFound("organisation_not_found", f"There is no organisation called {org_name!r}")
    if days is None:
        return found.retention_days
    RetentionPolicy(retention_days=days)  # the same bounds as the API
    org = lock_organisation(session, found.id)
    _set_retention(ctx, session, org, days, actor=None)
    session.commit()
    return org.retention_days


# --- plumbing --------------------------------------------------------------------------------


def _erase(
    ctx: ServerContext,
    session: Session,
    org: OrganisationRow,
    case_id: str,
    state: CaseStateRow | None,
    *,
    by_user_id: str | None,
) -> CaseErased:
    now = ctx.now_ms()
    deleted = storage.delete_case_content(session, org.id, case_id)
    org.last_seq += 1
    session.add(org)
    tombstone = state or CaseStateRow(case_id=case_id, org_id=org.id)
    tombstone.erased_at_ms = now
    tombstone.erased_by = by_user_id
    tombstone.erased_seq = org.last_seq
    storage.save_case_state(session, tombstone)
    # Partners stop receiving it and purge it at their next sync, like a withdrawal.
    share_storage.end_shares_of_erased_case(session, case_id, now, org.last_seq, by_user_id)
    return CaseErased(
        case_id=case_id,
        erased_at_ms=now,
        versions=deleted.versions,
        records=deleted.records,
        key_grants=deleted.key_grants,
        assignments=deleted.assignments,
    )


def _counts(erased: CaseErased) -> dict[str, int | str | None]:
    return {
        "versions": erased.versions,
        "records": erased.records,
        "key_grants": erased.key_grants,
        "assignments": erased.assignments,
        "case_views": erased.case_views,
    }


def _set_retention(
    ctx: ServerContext, session: Session, org: OrganisationRow, days: int, *, actor: AuthenticatedDevice | None
) -> None:
    if org.retention_days == days:
        return
    before = org.retention_days
    org.retention_days = days
    session.add(org)
    session.flush()
    if actor is not None:
        record_for(ctx, session, actor, AuditAction.RETENTION_CHANGED, days=days, before=before)
    else:
        record(
            ctx, session, chain=org.id, action=AuditAction.RETENTION_CHANGED, details={"days": days, "before": before}
        )


def _status(org: OrganisationRow, case_id: str, state: CaseStateRow | None) -> CaseStatus:
    closed = state.closed_at_ms if state is not None else None
    return CaseStatus(
        case_id=case_id,
        closed_at_ms=closed,
        retention_days=org.retention_days,
        erase_after_ms=closed + org.retention_days * _DAY_MS if closed is not None else None,
    )


def _retention_over(ctx: ServerContext, org: OrganisationRow, state: CaseStateRow | None) -> bool:
    if state is None or state.closed_at_ms is None:
        return False
    return state.closed_at_ms + org.retention_days * _DAY_MS <= ctx.now_ms()


def _require_coordinator(caller: AuthenticatedDevice) -> None:
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can close, reopen or erase a person's record")


def _organisation(session: Session, org_id: str) -> OrganisationRow:
    org = organisations.get_organisation(session, org_id)
    if org is None:
        raise NotFound("organisation_not_found", "Your organisation no longer exists")
    return org


def _locate(session: Session, case_id: str) -> str | None:
    """The organisation of a case, from its tombstone or its person record."""
    state = storage.get_case_state(session, case_id)
    if state is not None:
        return state.org_id
    person = sync_storage.get_records(session, [case_id]).get(case_id)
    return person.org_id if person is not None and person.kind == _PERSON else None


def _require_live_case(session: Session, org_id: str, case_id: str) -> CaseStateRow | None:
    """The case's state row (None if it has none yet); 404 unless it is a person of ``org_id``,
    409 if it was erased."""
    state = storage.get_case_state(session, case_id)
    if state is not None and state.org_id == org_id and state.erased_seq is not None:
        raise Conflict("case_erased", "This person's record was erased: nothing of it is left on the server")
    record_row = sync_storage.get_records(session, [case_id]).get(case_id)
    if record_row is None or record_row.org_id != org_id or record_row.kind != _PERSON:
        raise NotFound(
            "case_not_found", "There is no such person in your organisation (or their record has not synced yet)"
        )
    return state
