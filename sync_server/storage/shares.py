"""Queries on shares (a case shared with a partner organisation) and the rows they deliver."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, or_
from sqlmodel import Session, col, select

from sync_server.storage.tables import KeyGrantRow, OrganisationRow, ShareRow, VersionRow

__all__ = [
    "add_share",
    "directory",
    "end_shares_of_erased_case",
    "get_share",
    "grants_for_partner",
    "own_case_keys",
    "owners_sharing_with",
    "release_rotation_claims",
    "rotations_pending",
    "shares_between",
    "shares_of_case",
    "shares_of_org",
    "versions_for_partner",
]


def add_share(session: Session, row: ShareRow) -> None:
    session.add(row)
    session.flush()


def end_shares_of_erased_case(session: Session, case_id: str, now_ms: int, seq: int, by_user_id: str | None) -> int:
    """End every share of an erased case: active ones are withdrawn at ``seq`` (so partners' phones
    purge it), and no ended share waits for a key rotation (the keys are gone). Returns how many
    were still active."""
    active = 0
    for row in shares_of_case(session, case_id):
        if row.withdrawn_at_ms is None and (row.expires_at_ms is None or now_ms < row.expires_at_ms):
            row.withdrawn_at_ms, row.withdrawn_by, row.withdrawn_seq = now_ms, by_user_id, seq
            active += 1
        if row.rotation_claimed_at_ms is None:
            row.rotation_claimed_at_ms = now_ms
        session.add(row)
    session.flush()
    return active


def get_share(session: Session, share_id: str) -> ShareRow | None:
    return session.get(ShareRow, share_id)


def shares_of_case(session: Session, case_id: str) -> list[ShareRow]:
    statement = select(ShareRow).where(ShareRow.case_id == case_id).order_by(col(ShareRow.created_seq).desc())
    return list(session.exec(statement).all())


def shares_of_org(session: Session, org_id: str, bases: Collection[str]) -> list[ShareRow]:
    statement = (
        select(ShareRow)
        .where(ShareRow.org_id == org_id, col(ShareRow.basis).in_(sorted(bases)))
        .order_by(col(ShareRow.created_seq).desc())
    )
    return list(session.exec(statement).all())


def shares_between(session: Session, owner_org_id: str, partner_org_id: str) -> list[ShareRow]:
    """Every share, active or ended, of ``owner_org_id``'s cases with ``partner_org_id``."""
    statement = (
        select(ShareRow)
        .where(ShareRow.org_id == owner_org_id, ShareRow.partner_org_id == partner_org_id)
        .order_by(col(ShareRow.created_seq))
    )
    return list(session.exec(statement).all())


def owners_sharing_with(session: Session, partner_org_id: str) -> list[str]:
    """The organisations that have ever shared a case with ``partner_org_id``."""
    statement = select(ShareRow.org_id).where(ShareRow.partner_org_id == partner_org_id).distinct()
    return sorted(session.exec(statement).all())


def rotations_pending(session: Session, org_id: str, device_id: str, now_ms: int) -> list[ShareRow]:
    """The organisation's ended shares (withdrawn or expired) whose keys ``device_id`` may rotate:
    claimed by nobody, or claimed by this device (whose reply or work may have been lost)."""
    statement = (
        select(ShareRow)
        .where(
            ShareRow.org_id == org_id,
            or_(col(ShareRow.rotation_claimed_at_ms).is_(None), col(ShareRow.rotation_claimed_by) == device_id),
            or_(col(ShareRow.withdrawn_at_ms).is_not(None), col(ShareRow.expires_at_ms) <= now_ms),
        )
        .order_by(col(ShareRow.id))
    )
    return list(session.exec(statement).all())


def own_case_keys(session: Session, org_id: str, case_id: str) -> list[tuple[str, int]]:
    """``(key id, stored at)`` of every key of the case that the organisation wrapped for itself."""
    statement = select(KeyGrantRow.key_id, KeyGrantRow.created_at_ms).where(
        KeyGrantRow.org_id == org_id,
        KeyGrantRow.case_id == case_id,
        KeyGrantRow.recipient_kind == "organisation",
        KeyGrantRow.recipient_id == org_id,
    )
    return [(key_id, int(at)) for key_id, at in session.exec(statement).all()]


def release_rotation_claims(session: Session, device_id: str, share_ids: Collection[str]) -> None:
    """A revoked device will never finish these rotations: let another device of the organisation take them."""
    for row in session.exec(select(ShareRow).where(col(ShareRow.id).in_(list(share_ids)))).all():
        if row.rotation_claimed_by == device_id:
            row.rotation_claimed_at_ms = None
            row.rotation_claimed_by = None
            session.add(row)


def directory(session: Session, exclude_org_id: str) -> list[OrganisationRow]:
    """Organisations with a key pair (so keys can be sealed to them), by name; not ``exclude_org_id``."""
    statement = (
        select(OrganisationRow)
        .where(OrganisationRow.id != exclude_org_id, OrganisationRow.key_version > 0)
        .order_by(col(OrganisationRow.name))
    )
    return list(session.exec(statement).all())


def versions_for_partner(
    session: Session,
    owner_org_id: str,
    since: int,
    until: int,
    limit: int,
    case_ids: Collection[str],
    tier: str | None,
) -> Sequence[Row[Any]]:
    """Up to ``limit`` versions of these cases (one tier, or every tier) with ``since < seq <= until``."""
    if not case_ids:
        return []
    statement = select(VersionRow).where(
        VersionRow.org_id == owner_org_id,
        VersionRow.seq > since,
        VersionRow.seq <= until,
        col(VersionRow.case_id).in_(sorted(case_ids)),
    )
    if tier is not None:
        statement = statement.where(VersionRow.tier == tier)
    return session.connection().execute(statement.order_by(col(VersionRow.seq)).limit(limit)).all()


def grants_for_partner(
    session: Session, owner_org_id: str, partner_org_id: str, since: int, until: int, limit: int
) -> list[KeyGrantRow]:
    """Up to ``limit`` grants of ``owner_org_id`` sealed to ``partner_org_id``, ``since < seq <= until``."""
    statement = (
        select(KeyGrantRow)
        .where(
            KeyGrantRow.recipient_kind == "organisation",
            KeyGrantRow.recipient_id == partner_org_id,
            KeyGrantRow.org_id == owner_org_id,
            KeyGrantRow.seq > since,
            KeyGrantRow.seq <= until,
        )
        .order_by(col(KeyGrantRow.seq))
        .limit(limit)
    )
    return list(session.exec(statement).all())
