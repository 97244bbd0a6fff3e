"""Queries on users, invitations, devices and refresh tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, Row, Select, bindparam, case, exists, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from sync_server.storage import assignments
from sync_server.storage.tables import DeviceRow, InvitationRow, KeyGrantRow, RefreshTokenRow, UserRow

__all__ = [
    "add",
    "cancel_invitation",
    "consume_invitation",
    "device_summaries",
    "get_caller",
    "get_device",
    "get_devices",
    "get_invitation",
    "get_invitation_by_code_hash",
    "get_refresh_token_by_hash",
    "get_user",
    "get_user_by_email",
    "get_users",
    "list_devices",
    "list_members",
    "mark_refresh_token_used",
    "members_without_grant",
    "mentor_assigned_case_ids",
    "other_active_coordinators",
    "pending_invitations",
    "revoke_device",
    "revoke_refresh_family",
    "revoke_user_sessions",
    "touch_device",
]


def add(session: Session, row: UserRow | DeviceRow | InvitationRow | RefreshTokenRow) -> None:
    session.add(row)
    session.flush()


def get_user(session: Session, user_id: str) -> UserRow | None:
    return session.get(UserRow, user_id)


def get_users(session: Session, user_ids: Sequence[str]) -> dict[str, UserRow]:
    if not user_ids:
        return {}
    rows = session.exec(select(UserRow).where(col(UserRow.id).in_(set(user_ids)))).all()
    return {row.id: row for row in rows}


def get_user_by_email(session: Session, email: str) -> UserRow | None:
    return session.exec(select(UserRow).where(UserRow.email == email.lower())).first()


def get_invitation_by_code_hash(session: Session, code_hash: str) -> InvitationRow | None:
    return session.exec(select(InvitationRow).where(InvitationRow.code_hash == code_hash)).first()


def consume_invitation(session: Session, invitation_id: str, *, user_id: str, now_ms: int) -> bool:
    """Mark an invitation used, only if nobody used (or cancelled) it first; False when someone did."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InvitationRow)
        .where(
            col(InvitationRow.id) == invitation_id,
            col(InvitationRow.used_at_ms).is_(None),
            col(InvitationRow.cancelled_at_ms).is_(None),
        )
        .values(used_at_ms=now_ms, used_by=user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def get_invitation(session: Session, invitation_id: str) -> InvitationRow | None:
    return session.get(InvitationRow, invitation_id, populate_existing=True)


def pending_invitations(session: Session, org_id: str, *, now_ms: int) -> list[InvitationRow]:
    """Invitations of ``org_id`` (not password-reset codes) nobody used or cancelled, unexpired; newest first."""
    statement = (
        select(InvitationRow)
        .where(
            InvitationRow.org_id == org_id,
            col(InvitationRow.reset_user_id).is_(None),
            col(InvitationRow.used_at_ms).is_(None),
            col(InvitationRow.cancelled_at_ms).is_(None),
            col(InvitationRow.expires_at_ms) > now_ms,
        )
        .order_by(col(InvitationRow.created_at_ms).desc(), col(InvitationRow.id))
    )
    return list(session.exec(statement).all())


def cancel_invitation(session: Session, invitation_id: str, *, now_ms: int) -> bool:
    """Mark an unused invitation cancelled; False when it was used or cancelled first."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InvitationRow)
        .where(
            col(InvitationRow.id) == invitation_id,
            col(InvitationRow.used_at_ms).is_(None),
            col(InvitationRow.cancelled_at_ms).is_(None),
        )
        .values(cancelled_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def list_members(session: Session, org_id: str) -> list[UserRow]:
    statement = select(UserRow).where(UserRow.org_id == org_id).order_by(col(UserRow.display_name), col(UserRow.id))
    return list(session.exec(statement).all())


def device_summaries(session: Session, org_id: str) -> dict[str, tuple[int, int]]:
    """Per user of ``org_id``: (devices not signed out, latest last seen of any device)."""
    active = func.sum(case((col(DeviceRow.revoked_at_ms).is_(None), 1), else_=0))
    statement = (
        select(DeviceRow.user_id, active, func.max(DeviceRow.last_seen_at_ms))
        .where(DeviceRow.org_id == org_id)
        .group_by(col(DeviceRow.user_id))
    )
    return {user_id: (int(count or 0), int(seen)) for user_id, count, seen in session.exec(statement).all()}


# Built once: an authenticated request runs it first, whatever it asks for.
_CALLER: Select[*tuple[Any, ...]] = (
    sa_select(
        col(DeviceRow.user_id),
        col(DeviceRow.org_id),
        col(DeviceRow.revoked_at_ms),
        col(DeviceRow.last_seen_at_ms),
        col(UserRow.id).label("user_row_id"),
        col(UserRow.org_id).label("user_org_id"),
        col(UserRow.role),
        col(UserRow.removed_at_ms),
        col(UserRow.keys_reset_at_ms),
    )
    .select_from(DeviceRow)
    .outerjoin(UserRow, col(UserRow.id) == col(DeviceRow.user_id))
    .where(col(DeviceRow.id) == bindparam("device_id"))
)


def get_caller(session: Session, device_id: str) -> Row[*tuple[Any, ...]] | None:
    """A device and its user, read together as plain columns (one query, no ORM objects):
    ``user_id``, ``org_id``, ``revoked_at_ms``, ``last_seen_at_ms`` of the device, and
    ``user_row_id`` (None when the user row is missing), ``user_org_id``, ``role``,
    ``removed_at_ms``, ``keys_reset_at_ms`` of its user. None when there is no such device."""
    return session.connection().execute(_CALLER, {"device_id": device_id}).first()


def get_device(session: Session, device_id: str) -> DeviceRow | None:
    # Always re-read: a device may have been revoked since this session first loaded it.
    return session.get(DeviceRow, device_id, populate_existing=True)


def list_devices(session: Session, org_id: str, user_id: str | None = None) -> list[tuple[DeviceRow, UserRow]]:
    """The organisation's devices with their users (only ``user_id``'s when given), newest first."""
    statement = (
        select(DeviceRow, UserRow)
        .join(UserRow, col(UserRow.id) == col(DeviceRow.user_id))
        .where(DeviceRow.org_id == org_id)
        .order_by(col(DeviceRow.revoked_at_ms).is_not(None), col(DeviceRow.last_seen_at_ms).desc())
    )
    if user_id is not None:
        statement = statement.where(DeviceRow.user_id == user_id)
    return [(device, user) for device, user in session.exec(statement).all()]


def revoke_device(session: Session, device_id: str, *, now_ms: int) -> None:
    """Mark the device revoked and end every refresh token it holds."""
    session.execute(
        update(DeviceRow)
        .where(col(DeviceRow.id) == device_id, col(DeviceRow.revoked_at_ms).is_(None))
        .values(revoked_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(RefreshTokenRow)
        .where(col(RefreshTokenRow.device_id) == device_id, col(RefreshTokenRow.revoked_at_ms).is_(None))
        .values(revoked_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )


def get_devices(session: Session, device_ids: Sequence[str]) -> dict[str, DeviceRow]:
    if not device_ids:
        return {}
    rows = session.exec(select(DeviceRow).where(col(DeviceRow.id).in_(set(device_ids)))).all()
    return {row.id: row for row in rows}


def revoke_user_sessions(session: Session, user_id: str, *, now_ms: int) -> None:
    """End every refresh token of every device of ``user_id`` (the devices stay registered)."""
    device_ids = select(DeviceRow.id).where(DeviceRow.user_id == user_id).scalar_subquery()
    session.execute(
        update(RefreshTokenRow)
        .where(col(RefreshTokenRow.device_id).in_(device_ids), col(RefreshTokenRow.revoked_at_ms).is_(None))
        .values(revoked_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )


def touch_device(session: Session, device_id: str, *, now_ms: int) -> None:
    session.execute(
        update(DeviceRow)
        .where(col(DeviceRow.id) == device_id)
        .values(last_seen_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )


def get_refresh_token_by_hash(session: Session, token_hash: str) -> RefreshTokenRow | None:
    return session.exec(select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash)).first()


def mark_refresh_token_used(session: Session, token_id: str, *, now_ms: int) -> bool:
    """Mark a refresh token used, only if it was not used already; False when it was."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(RefreshTokenRow)
        .where(col(RefreshTokenRow.id) == token_id, col(RefreshTokenRow.used_at_ms).is_(None))
        .values(used_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def revoke_refresh_family(session: Session, family_id: str, *, now_ms: int) -> None:
    session.execute(
        update(RefreshTokenRow)
        .where(col(RefreshTokenRow.family_id) == family_id, col(RefreshTokenRow.revoked_at_ms).is_(None))
        .values(revoked_at_ms=now_ms)
        .execution_options(synchronize_session=False)
    )


def other_active_coordinators(session: Session, org_id: str, user_id: str) -> int:
    """How many coordinators of ``org_id`` other than ``user_id`` are not removed."""
    statement = select(func.count()).where(
        UserRow.org_id == org_id,
        UserRow.role == "coordinator",
        UserRow.id != user_id,
        col(UserRow.removed_at_ms).is_(None),
    )
    return int(session.exec(statement).one())


def members_without_grant(session: Session, org_id: str, roles: Sequence[str], key_id: str) -> list[UserRow]:
    """Members of ``org_id`` with one of ``roles`` to whom no user grant of ``key_id`` is addressed."""
    # A grant counts only if it was made after the member's keys were last replaced (a reset);
    # a removed member waits for nothing.
    granted = exists().where(
        col(KeyGrantRow.org_id) == org_id,
        col(KeyGrantRow.recipient_kind) == "user",
        col(KeyGrantRow.key_id) == key_id,
        col(KeyGrantRow.recipient_id) == col(UserRow.id),
        col(KeyGrantRow.created_at_ms) >= func.coalesce(col(UserRow.keys_reset_at_ms), 0),
    )
    statement = (
        select(UserRow)
        .where(
            UserRow.org_id == org_id,
            col(UserRow.role).in_(list(roles)),
            col(UserRow.removed_at_ms).is_(None),
            ~granted,
        )
        .order_by(col(UserRow.created_at_ms), col(UserRow.id))
    )
    return list(session.exec(statement).all())


def mentor_assigned_case_ids(session: Session, user_id: str) -> frozenset[str]:
    """The cases a peer mentor is assigned to now (see ``storage.assignments``)."""
    return assignments.active_case_ids(session, user_id)
