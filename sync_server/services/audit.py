"""The audit log: every sign-in, push, delivering pull, key grant, invitation, device sign-out,
case closure, reopening, erasure and purge is appended, in the same transaction as what it
records, to a hash chain — one per organisation and one (``server``) for events of no organisation.

Each entry's hash is an HMAC, under a key derived from the server secret, of the entry and the
previous entry's hash; the chain head (newest position and hash) is kept apart. ``verify`` detects
an altered entry (its HMAC no longer matches), a removed one (a gap in positions or a broken
link) and removed newest entries (the head points past the last entry). Someone who can write the
database but does not hold the server secret cannot forge a matching entry.

Entries hold only what the server already knows: ids, counts, clock values. Never content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import Session

from shared.protocol import AuditEntry, AuditPage
from sync_server.context import ServerContext
from sync_server.services.caller import AuthenticatedDevice
from sync_server.storage import accounts
from sync_server.storage import audit as storage

__all__ = ["SERVER_CHAIN", "AuditAction", "VerifyReport", "record", "trail", "verify"]

SERVER_CHAIN = "server"
_KEY_DOMAIN = b"gatepost/v1/audit-key"
Details = dict[str, int | str | None]


class AuditAction(StrEnum):
    ORGANISATION_CREATED = "organisation_created"
    REGISTERED = "registered"
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SESSION_REUSED = "session_reused"
    ORGANISATION_KEY_SET_UP = "organisation_key_set_up"
    INVITATION_CREATED = "invitation_created"
    INVITATION_CANCELLED = "invitation_cancelled"
    PUSHED = "pushed"
    PULLED = "pulled"
    DEVICE_SIGNED_OUT = "device_signed_out"
    MEMBER_REMOVED = "member_removed"
    PASSWORD_RESET_CREATED = "password_reset_created"  # noqa: S105 - an action's name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an action's name
    MENTOR_ASSIGNED = "mentor_assigned"
    MENTOR_UNASSIGNED = "mentor_unassigned"
    CASE_PURGED = "case_purged"
    SHARED = "shared"
    SHARE_WITHDRAWN = "share_withdrawn"
    SHARE_RENEWED = "share_renewed"
    SHARE_KEYS_ROTATED = "share_keys_rotated"
    PARTNER_PULLED = "partner_pulled"
    CASE_CLOSED = "case_closed"
    CASE_REOPENED = "case_reopened"
    CASE_ERASED = "case_erased"
    CASE_VIEWS_AGED_OUT = "case_views_aged_out"
    RETENTION_CHANGED = "retention_changed"


def _key(ctx: ServerContext) -> bytes:
    secret = ctx.settings.server_secret.get_secret_value().encode("utf-8")
    return hmac.new(secret, _KEY_DOMAIN, hashlib.sha256).digest()


def _entry_hash(key: bytes, entry: Mapping[str, object]) -> str:
    canonical = json.dumps([entry[name] for name in _HASHED], separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


# What an entry's hash covers, in this order (stored hashes depend on it).
_HASHED = ("chain", "position", "at_ms", "action", "actor_user_id", "actor_device_id", "details", "prev_hash")


def record(
    ctx: ServerContext,
    session: Session,
    *,
    chain: str,
    action: AuditAction,
    actor_user_id: str | None = None,
    actor_device_id: str | None = None,
    details: Details | None = None,
) -> None:
    """Append one entry to ``chain``; it commits (or rolls back) with the caller's transaction."""
    position, head_hash = storage.lock_head(session, chain)
    entry: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "chain": chain,
        "position": position + 1,
        "at_ms": ctx.now_ms(),
        "action": action.value,
        "actor_user_id": actor_user_id,
        "actor_device_id": actor_device_id,
        "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
        "prev_hash": head_hash,
    }
    entry["entry_hash"] = _entry_hash(_key(ctx), entry)
    storage.add_entry(session, entry)


def record_for(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, action: AuditAction, **details: int | str | None
) -> None:
    """``record`` on the caller's organisation chain, with the caller as actor."""
    record(
        ctx,
        session,
        chain=caller.org_id,
        action=action,
        actor_user_id=caller.user_id,
        actor_device_id=caller.device_id,
        details=details,
    )


# --- verifying -------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    chains: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(ctx: ServerContext, session: Session) -> VerifyReport:
    """Walk every chain from its first entry and check each link and HMAC, and the head."""
    key = _key(ctx)
    report = VerifyReport()
    heads = {head.chain: head for head in storage.chains(session)}
    for chain in sorted(set(heads) | set(storage.chain_names(session))):
        report.chains += 1
        expected_position, expected_prev = 1, storage.GENESIS_HASH
        for entry in storage.entries(session, chain):
            report.entries += 1
            if entry.position != expected_position:
                missing = (
                    f"{expected_position}"
                    if entry.position == expected_position + 1
                    else (f"{expected_position} to {entry.position - 1}")
                )
                report.problems.append(f"chain {chain}: entry {missing} was removed")
            elif entry.prev_hash != expected_prev:
                report.problems.append(f"chain {chain}: entry {entry.position} does not follow the one before it")
            if _entry_hash(key, {name: getattr(entry, name) for name in _HASHED}) != entry.entry_hash:
                report.problems.append(f"chain {chain}: entry {entry.position} was altered")
            expected_position, expected_prev = entry.position + 1, entry.entry_hash
        head = heads.get(chain)
        last_position = expected_position - 1
        if head is None:
            report.problems.append(f"chain {chain}: its head record was removed")
        elif head.position != last_position or head.entry_hash != expected_prev:
            report.problems.append(
                f"chain {chain}: the newest entries were removed (the head is at {head.position}, "
                f"the last entry at {last_position})"
            )
    return report


# --- reading (coordinators) ------------------------------------------------------------------


def trail(session: Session, caller: AuthenticatedDevice, before: int | None, limit: int) -> AuditPage:
    """The newest entries of the caller's organisation before ``before``, with names to show."""
    rows = storage.entries_before(session, caller.org_id, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    users = accounts.get_users(session, sorted({row.actor_user_id for row in rows if row.actor_user_id}))
    device_ids = {row.actor_device_id for row in rows if row.actor_device_id}
    for row in rows:
        target = json.loads(row.details).get("device_id")
        if isinstance(target, str):
            device_ids.add(target)
    devices = accounts.get_devices(session, sorted(device_ids))
    entries = []
    for row in rows:
        details = json.loads(row.details)
        target = devices.get(details.get("device_id", "")) if isinstance(details.get("device_id"), str) else None
        actor = users.get(row.actor_user_id or "")
        device = devices.get(row.actor_device_id or "")
        entries.append(
            AuditEntry(
                position=row.position,
                at_ms=row.at_ms,
                action=row.action,
                actor_name=actor.display_name if actor else None,
                device_name=device.name if device else None,
                target_device_name=target.name if target else None,
                details={
                    key: value
                    for key, value in details.items()
                    if isinstance(value, int | str) and not isinstance(value, bool) and key != "device_id"
                },
            )
        )
    return AuditPage(entries=entries, next_before=rows[-1].position if more and rows else None)
