"""``SyncService``: push the outbox, pull what others changed, open and hand out keys.

- The outbox is pushed in batches (at most ``MAX_PUSH_CHANGES`` versions and ``MAX_PUSH_GRANTS``
  grants each; a case's key grant travels in the same batch as, or before, its versions).
  Accepted and duplicate versions are marked acknowledged with their ``seq``; refused ones stay on
  the device with the server's reason, visible to the worker. A version refused because the phone's
  clock is ahead is re-stamped from the server's time, re-encrypted and pushed once more.
- Pull pages are applied one local transaction each, together with the cursor. A pending local
  version is never overwritten by a server copy; an identical server copy acknowledges it.
  Every received stamp advances the device clock.
- Grants received are kept and opened when the device can; a coordinator's device seals the
  organisation key to each member who is waiting for it.
- Offline never raises (the report says so); ``SessionExpired`` and ``UpgradeRequired`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session, col, func, select

from outreach_app.errors import AppError, OfflineError, SessionExpired
from outreach_app.ids import uuid7
from outreach_app.services.account import ensure_organisation_key
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import seal_key_to_user
from outreach_app.services.versions import restamp_pending
from outreach_app.storage import LocalStore, StateKey
from outreach_app.storage.tables import KeyGrantRow, LocalVersion, PushRejection
from outreach_app.sync.transport import SyncApi
from shared.clock import Hlc
from shared.crypto import b64decode
from shared.errors import CryptoError
from shared.protocol import (
    MAX_PUSH_CHANGES,
    MAX_PUSH_GRANTS,
    ChangeStatus,
    MemberAwaitingKey,
    PullResponse,
    PushRequest,
    PushResponse,
    RejectReason,
    Role,
    Version,
)

__all__ = ["NotAccepted", "Progress", "SyncReport", "SyncService", "SyncStatus"]

Progress = Callable[[float, str], None]

# Keep each push well inside the server's request limit (8 MiB by default): the protocol allows
# MAX_PUSH_CHANGES versions of up to MAX_CIPHERTEXT_CHARS each, far more than that.
MAX_PUSH_BYTES = 4_000_000
_CHANGE_OVERHEAD_BYTES = 1_000


@dataclass(frozen=True)
class NotAccepted:
    """Something the server refused; it stays on the device."""

    item_id: str
    item: Literal["version", "grant"]
    reason: str
    detail: str | None


@dataclass(frozen=True)
class SyncReport:
    sent: int = 0  # versions the server accepted
    already_on_server: int = 0  # versions it already had (a replay after a lost reply)
    not_accepted: tuple[NotAccepted, ...] = ()
    received: int = 0  # versions pulled that were new to this device
    keys_opened: int = 0
    members_given_key: int = 0
    restamped: int = 0  # versions re-stamped because this phone's clock was ahead
    offline: bool = False
    message: str = ""


@dataclass(frozen=True)
class SyncStatus:
    pending: int  # versions waiting in the outbox
    last_synced_at_ms: int | None
    offline: bool
    last_error: str | None
    not_accepted: int = 0  # versions the server refused (kept and shown on the record)


@dataclass
class _Tally:
    sent: int = 0
    duplicates: int = 0
    not_accepted: list[NotAccepted] = field(default_factory=list)
    received: int = 0
    keys_opened: int = 0
    members_given_key: int = 0
    restamped: int = 0
    members: dict[str, MemberAwaitingKey] = field(default_factory=dict)

    def report(self, *, offline: bool = False, message: str = "") -> SyncReport:
        return SyncReport(
            sent=self.sent,
            already_on_server=self.duplicates,
            not_accepted=tuple(self.not_accepted),
            received=self.received,
            keys_opened=self.keys_opened,
            members_given_key=self.members_given_key,
            restamped=self.restamped,
            offline=offline,
            message=message,
        )


class SyncService:
    def __init__(self, device: Device) -> None:
        self._device = device

    def status(self) -> SyncStatus:
        with self._device.store.read() as session:
            state = LocalStore.state_of(session)
            pending = session.exec(select(func.count()).select_from(LocalVersion).where(LocalVersion.pending)).one()
            refused = session.exec(
                select(func.count())
                .select_from(LocalVersion)
                .where(col(LocalVersion.pending).is_(False), col(LocalVersion.acknowledged).is_(False))
            ).one()
        last = state.get(StateKey.LAST_SYNCED_AT_MS)
        return SyncStatus(
            pending=int(pending),
            last_synced_at_ms=int(last) if last else None,
            offline=StateKey.SYNC_OFFLINE in state,
            last_error=state.get(StateKey.SYNC_LAST_ERROR),
            not_accepted=int(refused),
        )

    def sync_now(self, progress: Progress | None = None) -> SyncReport:
        """Push the outbox and pull everything new. Returns a report; offline is reported, not raised."""
        device = self._device

        def say(fraction: float, message: str) -> None:
            if progress is not None:
                progress(fraction, message)

        with device.net_lock:
            identity = device.require_identity()
            device.require_keys()
            tally = _Tally()
            try:
                api = device.api()
                say(0.05, "Connecting to the server")
                ensure_organisation_key(device, api)
                say(0.1, "Sending your changes")
                self._push_outbox(api, tally)
                say(0.4, "Fetching changes from your team")
                self._pull(api, identity, tally, say)
                with device.store.write() as session:
                    tally.keys_opened += device.open_grants(session, identity)
                if self._grant_members(identity, tally):
                    say(0.9, "Sharing the organisation key with new members")
                    self._push_outbox(api, tally)
            except OfflineError as error:
                self._record(offline=True, error=str(error))
                say(1.0, "Offline: your work is kept on this phone")
                return tally.report(offline=True, message=str(error))
            except SessionExpired as error:
                with device.store.write() as session:
                    device.save_refresh_token(session, None)
                self._record(offline=False, error=str(error))
                device.install_api(None)
                raise
            except AppError as error:
                self._record(offline=False, error=str(error))
                raise
            message = "Up to date"
            if tally.not_accepted:
                message = f"Up to date, but the server did not accept {len(tally.not_accepted)} change(s)"
            self._record(offline=False, error=None, synced=True)
            say(1.0, message)
            return tally.report(message=message)

    # --- push ----------------------------------------------------------------------------------

    def _push_outbox(self, api: SyncApi, tally: _Tally) -> None:
        clock_ahead = self._push_round(api, tally)
        if clock_ahead:
            with self._device.store.write() as session:
                tally.restamped += restamp_pending(self._device, session, clock_ahead)
            self._push_round(api, tally)

    def _push_round(self, api: SyncApi, tally: _Tally) -> set[str]:
        """Push everything pending once; returns the versions refused because the clock was ahead."""
        tried: set[str] = set()
        clock_ahead: set[str] = set()
        while True:
            with self._device.store.read() as session:
                grants = [
                    row
                    for row in session.exec(
                        select(KeyGrantRow).where(KeyGrantRow.pending).order_by(col(KeyGrantRow.grant_id))
                    ).all()
                    if row.grant_id not in tried
                ]
                changes = [
                    row
                    for row in session.exec(
                        select(LocalVersion).where(LocalVersion.pending).order_by(col(LocalVersion.hlc))
                    ).all()
                    if row.change_id not in tried
                ]
            batch_grants = grants[:MAX_PUSH_GRANTS]
            later_keys = {row.key_id for row in grants[MAX_PUSH_GRANTS:]}
            batch_changes = _within_budget([row for row in changes if row.key_id not in later_keys])
            if not batch_grants and not batch_changes:
                return clock_ahead
            tried.update(row.grant_id for row in batch_grants)
            tried.update(row.change_id for row in batch_changes)
            response = api.push(
                PushRequest(
                    changes=[row.to_change() for row in batch_changes],
                    key_grants=[row.to_grant_in() for row in batch_grants],
                )
            )
            clock_ahead |= self._apply_push(response, tally)

    def _apply_push(self, response: PushResponse, tally: _Tally) -> set[str]:
        device = self._device
        identity = device.require_identity()
        now = device.now_ms()
        clock_ahead: set[str] = set()
        with device.store.write() as session:
            device.learn_server_time(session, response.server_time_ms)
            for result in response.results:
                row = session.get(LocalVersion, result.change_id)
                if row is None:
                    continue
                if result.status is ChangeStatus.REJECTED:
                    reason = result.reason.value if result.reason else "rejected"
                    _note_rejection(session, row.change_id, reason, result.detail, now)
                    if result.reason is RejectReason.CLOCK_AHEAD:
                        clock_ahead.add(row.change_id)
                        continue
                    row.pending = False
                    tally.not_accepted.append(NotAccepted(row.change_id, "version", reason, result.detail))
                else:
                    row.pending, row.acknowledged = False, True
                    row.seq = result.seq if result.seq is not None else row.seq
                    row.org_id, row.author_user_id = identity.org_id, identity.user_id
                    _clear_rejection(session, row.change_id)
                    if result.status is ChangeStatus.ACCEPTED:
                        tally.sent += 1
                    else:
                        tally.duplicates += 1
                session.add(row)
            for grant_result in response.grant_results:
                grant = session.get(KeyGrantRow, grant_result.grant_id)
                if grant is None:
                    continue
                grant.pending = False
                if grant_result.status is ChangeStatus.REJECTED:
                    reason = grant_result.reason.value if grant_result.reason else "rejected"
                    _note_rejection(session, grant.grant_id, reason, grant_result.detail, now)
                    tally.not_accepted.append(NotAccepted(grant.grant_id, "grant", reason, grant_result.detail))
                else:
                    grant.acknowledged = True
                    grant.seq = grant_result.seq if grant_result.seq is not None else grant.seq
                    grant.org_id, grant.created_by_user_id = identity.org_id, identity.user_id
                    _clear_rejection(session, grant.grant_id)
                session.add(grant)
        return clock_ahead

    # --- pull ----------------------------------------------------------------------------------

    def _pull(self, api: SyncApi, identity: Identity, tally: _Tally, say: Callable[[float, str], None]) -> None:
        device = self._device
        pages = 0
        while True:
            cursor = int(device.store.state().get(StateKey.PULL_CURSOR, "0"))
            page = api.pull(cursor)
            with device.store.write() as session:
                tally.received += self._apply_page(session, page)
                LocalStore.put(session, {StateKey.PULL_CURSOR: max(cursor, page.next)})
            for member in page.members_awaiting_key:
                tally.members[member.user_id] = member
            pages += 1
            say(min(0.85, 0.4 + 0.05 * pages), f"Fetched {tally.received} change(s)")
            if not page.has_more or page.next <= cursor:
                return

    def _apply_page(self, session: Session, page: PullResponse) -> int:
        device = self._device
        device.learn_server_time(session, page.server_time_ms)
        clock = device.clock(session)
        physical = device.physical_ms(session)
        new = 0
        for version in page.versions:
            row = session.get(LocalVersion, version.change_id)
            if row is None:
                session.add(LocalVersion.from_version(version))
                new += 1
            elif row.same_content(version) and (row.pending or not row.acknowledged or row.seq is None):
                # Our own version came back: the server holds it, so it is acknowledged.
                row.pending, row.acknowledged = False, True
                row.seq, row.org_id, row.author_user_id = version.seq, version.org_id, version.author_user_id
                _clear_rejection(session, row.change_id)
                session.add(row)
            elif not row.acknowledged and _same_write(row, version):
                _adopt_earlier_stamp(session, row, version)
            # Any other server copy never overwrites what this device holds.
            clock.observe(Hlc.parse(version.hlc), physical)
        Device.save_clock(session, clock)
        for grant in page.key_grants:
            existing = session.get(KeyGrantRow, grant.grant_id)
            if existing is None:
                session.add(KeyGrantRow.from_grant(grant))
            elif existing.key_id == grant.key_id and existing.wrapped == grant.wrapped:
                existing.pending, existing.acknowledged = False, True
                existing.seq, existing.org_id = grant.seq, grant.org_id
                existing.created_by_user_id = grant.created_by_user_id
                session.add(existing)
        return new

    # --- coordinators --------------------------------------------------------------------------

    def _grant_members(self, identity: Identity, tally: _Tally) -> bool:
        """Seal the organisation key to members waiting for it; True when there is something to push."""
        if identity.role is not Role.COORDINATOR or not tally.members:
            return False
        device = self._device
        keys = device.require_keys()
        org_key = keys.newest_org_key(identity.org_id)
        if org_key is None:
            return False
        key_id, material = org_key
        added = 0
        with device.store.write() as session:
            already = set(
                session.exec(
                    select(KeyGrantRow.recipient_id).where(
                        KeyGrantRow.key_id == key_id,
                        KeyGrantRow.recipient_kind == "user",
                        col(KeyGrantRow.pending) | col(KeyGrantRow.acknowledged),
                    )
                ).all()
            )
            for member in tally.members.values():
                if member.user_id in already:
                    continue
                try:
                    grant = seal_key_to_user(
                        uuid7(device.now_ms()), key_id, material, member.user_id, b64decode(member.public_key)
                    )
                except CryptoError:
                    continue  # an unusable public key: leave this member waiting
                session.add(KeyGrantRow.outgoing(grant))
                added += 1
        tally.members_given_key += added
        return added > 0

    def _record(self, *, offline: bool, error: str | None, synced: bool = False) -> None:
        with self._device.store.write() as session:
            values: dict[StateKey, str | int | None] = {
                StateKey.SYNC_OFFLINE: "1" if offline else None,
                StateKey.SYNC_LAST_ERROR: error,
            }
            if synced:
                values[StateKey.LAST_SYNCED_AT_MS] = self._device.now_ms()
            LocalStore.put(session, values)


def _within_budget(rows: list[LocalVersion]) -> list[LocalVersion]:
    """The first versions that fit one push (at least one, at most ``MAX_PUSH_CHANGES``)."""
    batch: list[LocalVersion] = []
    size = 0
    for row in rows[:MAX_PUSH_CHANGES]:
        size += len(row.ciphertext) + _CHANGE_OVERHEAD_BYTES
        if batch and size > MAX_PUSH_BYTES:
            break
        batch.append(row)
    return batch


def _same_write(row: LocalVersion, version: Version) -> bool:
    """Whether ``version`` is this unacknowledged row under another clock stamp (same change, same value)."""
    return (row.record_id, row.kind, row.field, row.tag) == (
        version.record_id,
        version.kind,
        version.field,
        version.tag,
    )


def _adopt_earlier_stamp(session: Session, row: LocalVersion, version: Version) -> None:
    """Take the server's copy of a write this phone re-stamped after a copy with the old stamp got through.

    Re-stamping (clock ahead) keeps the change id and value; if a copy sent before it was still on
    its way and the server stored that one, the re-stamped row is refused as a conflicting
    duplicate and, kept as it was, would stay out of this phone's merge while every other replica
    holds the server's copy. Equal tags mean equal values, so nothing the worker wrote is lost.
    """
    old_hlc = row.hlc
    for name, value in version.model_dump().items():
        setattr(row, name, value)
    row.pending, row.acknowledged = False, True
    session.add(row)
    _clear_rejection(session, row.change_id)
    for later in session.exec(select(LocalVersion).where(LocalVersion.pending, LocalVersion.base_hlc == old_hlc)):
        later.base_hlc = version.hlc  # undo the re-stamp's renaming of this version as a base
        session.add(later)


def _note_rejection(session: Session, item_id: str, reason: str, detail: str | None, now_ms: int) -> None:
    rejection = session.get(PushRejection, item_id) or PushRejection(item_id=item_id, reason=reason, at_ms=now_ms)
    rejection.reason, rejection.detail, rejection.at_ms = reason, detail, now_ms
    session.add(rejection)


def _clear_rejection(session: Session, item_id: str) -> None:
    rejection = session.get(PushRejection, item_id)
    if rejection is not None:
        session.delete(rejection)
