"""Registered devices: who sees which, and signing one out (revocation).

Everyone sees their own devices; coordinators see every device in their organisation. A user may
sign out their own devices; a coordinator any device of the organisation. A revoked device's access
tokens stop working at once (``authenticate`` re-reads the device on every request) and its refresh
tokens are revoked; at its next contact the app is told ``device_revoked`` and erases itself.
"""

from __future__ import annotations

from sqlmodel import Session

from shared.protocol import DeviceInfo, DeviceList, Role
from sync_server.context import ServerContext
from sync_server.errors import NotFound
from sync_server.services import sharing
from sync_server.services.audit import AuditAction, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.storage import accounts
from sync_server.storage.database import begin_write
from sync_server.storage.tables import DeviceRow, UserRow

__all__ = ["list_devices", "revoke_device"]


def _info(device: DeviceRow, user: UserRow, caller: AuthenticatedDevice) -> DeviceInfo:
    return DeviceInfo(
        device_id=device.id,
        name=device.name,
        user_id=user.id,
        user_display_name=user.display_name,
        role=Role(user.role),
        created_at_ms=device.created_at_ms,
        last_seen_at_ms=device.last_seen_at_ms,
        revoked_at_ms=device.revoked_at_ms,
        this_device=device.id == caller.device_id,
    )


def _visible(session: Session, caller: AuthenticatedDevice) -> list[tuple[DeviceRow, UserRow]]:
    only_user = None if caller.role is Role.COORDINATOR else caller.user_id
    return accounts.list_devices(session, caller.org_id, only_user)


def list_devices(session: Session, caller: AuthenticatedDevice) -> DeviceList:
    return DeviceList(devices=[_info(device, user, caller) for device, user in _visible(session, caller)])


def revoke_device(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, device_id: str) -> DeviceInfo:
    """Sign a device out. Revoking one already revoked changes nothing and answers the same."""
    begin_write(session)
    device = accounts.get_device(session, device_id)
    user = accounts.get_user(session, device.user_id) if device is not None else None
    allowed = (
        device is not None
        and user is not None
        and device.org_id == caller.org_id
        and (caller.role is Role.COORDINATOR or device.user_id == caller.user_id)
    )
    if not allowed or device is None or user is None:
        # Another organisation's device and one you may not manage look the same: not found.
        raise NotFound("device_not_found", "There is no such device among the ones you can manage")
    if device.revoked_at_ms is None:
        accounts.revoke_device(session, device.id, now_ms=ctx.now_ms())
        sharing.release_rotations_of(session, device.org_id, device.id, ctx.now_ms())
        record_for(ctx, session, caller, AuditAction.DEVICE_SIGNED_OUT, device_id=device.id)
    session.commit()
    refreshed = accounts.get_device(session, device.id)
    assert refreshed is not None
    return _info(refreshed, user, caller)
