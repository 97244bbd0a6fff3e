"""``SyncService``: push the outbox, pull what others changed, open and hand out keys.

- The outbox is pushed in batches (at most ``MAX_PUSH_CHANGES`` versions and ``MAX_PUSH_GRANTS``
  grants each; a case's key grant travels in the same batch as, or before, its versions).
  Accepted and duplicate versions are marked acknowledged with their ``seq``; refused ones stay on
  the device with the server's reason, visible to the worker. A version refused because the phone's
  clock is ahead is re-stamped from the server's time, re-encrypted and pushed once more.
- Both directions are pipelined one request deep: the next batch is read (or the next page is on
  its way) while the server works, but requests go one at a time and in order.
- Pull pages are applied one local transaction each, together with the cursor. A pending local
  version is never overwritten by a server copy; an identical server copy acknowledges it.
  Every received stamp advances the device clock.
- Grants received are kept and opened when the device can; a coordinator's device seals the
  organisation key to each member who is waiting for it.
- A purge in a pull page (a peer mentor unassigned, or a person's record erased) deletes the case
  from the device with its keys and any unsent work about it, and the report says how much unsent
  work was dropped.
- Offline never raises (the report says so); ``SessionExpired`` and ``UpgradeRequired`` do.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from sqlalchemy import delete, insert
from sqlmodel import Session, col, func, select

from outreach_app.errors import AppError, DeviceRevoked, NotReady, OfflineError, ServerRejected, SessionExpired
from outreach_app.ids import uuid7
from outreach_app.services.account import ensure_organisation_key
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import seal_key_to_user
from outreach_app.services.versions import Unreadable, decrypt_version, restamp_pending
from outreach_app.storage import LocalStore, StateKey, outbox
from outreach_app.storage.tables import KeyGrantRow, KeyringEntry, LocalVersion, PushRejection
from outreach_app.sync.transport import SyncApi, encode_push
from shared.clock import Hlc
from shared.crypto import b64decode
from shared.errors import CryptoError
from shared.kinds import CASE_VIEW, PERSON
from shared.protocol import (
    MAX_PULL_LIMIT,
    MAX_PUSH_CHANGES,
    MAX_PUSH_GRANTS,
    ChangeIn,
    ChangeStatus,
    EraseCase,
    KeyGrantIn,
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

# Pull pages as large as the server allows (about 1.3 MB of 400-character notes): every page costs
# a durable commit on each side and an audit entry, and a fresh phone's first sync is all pages.
# The server's cap bounds a page (the client's timeout bounds each read, not the whole download).
PULL_PAGE = MAX_PULL_LIMIT


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
    purged: int = 0  # people deleted from this phone (a peer mentor unassigned, or the record erased)
    erased: int = 0  # of those, people whose record a coordinator erased and this phone held
    dropped: int = 0  # unsent changes about purged people, deleted with them
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
    purged: int = 0
    erased: int = 0
    dropped: int = 0
    members: dict[str, MemberAwaitingKey] = field(default_factory=dict)
    # The server said whether anything is (or was) shared by our organisation or with it.
    sharing: bool = True

    def report(self, *, offline: bool = False, message: str = "") -> SyncReport:
        return SyncReport(
            sent=self.sent,
            already_on_server=self.duplicates,
            not_accepted=tuple(self.not_accepted),
            received=self.received,
            keys_opened=self.keys_opened,
            members_given_key=self.members_given_key,
            restamped=self.restamped,
            purged=self.purged,
            erased=self.erased,
            dropped=self.dropped,
            offline=offline,
            message=message,
        )


class PartnerStep(Protocol):
    """What other organisations share with ours, pulled after our own pull (``SharingService``)."""

    def pull_shared(self, api: SyncApi, identity: Identity) -> int: ...

    def rotate_due(self, api: SyncApi, identity: Identity) -> bool: ...


class MentorStep(Protocol):
    """Unassignments whose key rotation an earlier attempt left undone (``MentorService``)."""

    def finish_unassignments(self, api: SyncApi, identity: Identity) -> bool: ...


class SyncService:
    def __init__(self, device: Device) -> None:
        self._device = device
        self.mentor_step: MentorStep | None = None
        # What this service last wrote to the sync status: (offline, error, last synced at), so
        # a sync that changes nothing else does not make a durable write just to move the time.
        self._recorded: tuple[bool, str | None, int | None] | None = None
        self._last_synced_at_ms: int | None = None
        # The store's generation when the outbox was last found empty: until the store commits a
        # write (the only way anything enters the outbox) a push round has nothing to read.
        self._outbox_empty_at: int | None = None
        self.partner_step: PartnerStep | None = None

    def status(self) -> SyncStatus:
        with self._device.store.read() as session:
            state = LocalStore.state_of(session)
            outbox = select(func.count()).select_from(LocalVersion).where(col(LocalVersion.pending).is_(True))
            pending = session.exec(outbox).one()
            refused = session.exec(
                select(func.count())
                .select_from(LocalVersion)
                .where(col(LocalVersion.pending).is_(False), col(LocalVersion.acknowledged).is_(False))
            ).one()
        last = state.get(StateKey.LAST_SYNCED_AT_MS)
        stored = int(last) if last else None
        return SyncStatus(
            pending=int(pending),
            last_synced_at_ms=max(stored or 0, self._last_synced_at_ms or 0) or None,
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
            # The device state is read once here; the pull reuses it while nothing has been written.
            state_generation = device.store.generation
            state = device.store.state()
            identity = Identity.from_state(state)
            if identity is None:
                raise NotReady("Sign in first.")
            device.require_keys()
            tally = _Tally()
            try:
                api = device.api()
                say(0.05, "Connecting to the server")
                ensure_organisation_key(device, api, identity=identity)
                say(0.1, "Sending your changes")
                self._push_outbox(api, tally)
                say(0.4, "Fetching changes from your team")
                self._pull(api, identity, tally, say, known_state=(state_generation, state))
                if identity.role is Role.COORDINATOR:
                    self._erase_case_views(api)
                if self.partner_step is not None and tally.sharing:  # else one request fewer
                    tally.purged += self.partner_step.pull_shared(api, identity)
                if device.has_grants_to_open():
                    with device.store.write() as session:
                        tally.keys_opened += device.open_grants(session, identity)
                if self.partner_step is not None and self.partner_step.rotate_due(api, identity):
                    self._push_outbox(api, tally)
                if self.mentor_step is not None and self.mentor_step.finish_unassignments(api, identity):
                    self._push_outbox(api, tally)
                if self._grant_members(identity, tally):
                    say(0.9, "Sharing the organisation key with new members")
                    self._push_outbox(api, tally)
            except OfflineError as error:
                self._record(offline=True, error=str(error))
                say(1.0, "Offline: your work is kept on this phone")
                return tally.report(offline=True, message=str(error))
            except DeviceRevoked:
                device.erase_after_revocation()
                raise
            except SessionExpired as error:
                with device.store.write() as session:
                    device.save_refresh_token(session, None)
                self._record(offline=False, error=str(error))
                device.install_api(None)
                raise
            except AppError as error:
                self._record(offline=False, error=str(error))
                raise
            # Refusals of work about an erased person were dropped with it (and are counted there).
            tally.not_accepted = [item for item in tally.not_accepted if item.reason != RejectReason.CASE_ERASED.value]
            message = "Up to date"
            if tally.not_accepted:
                message = f"Up to date, but the server did not accept {len(tally.not_accepted)} change(s)"
            if tally.dropped:
                message += (
                    f". {tally.dropped} unsent change(s) about a person no longer on this phone were deleted with them"
                )
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
        """Push everything pending once; returns the versions refused because the clock was ahead.

        Pipelined, two batches deep: while the server stores one batch this phone reads the next
        and then applies the answer to the one before, so phone and server work at the same time.
        Batches still reach the server one after another, in order (a batch is sent only once the
        one before it is answered), so a person and their key always arrive before what needs them.
        """
        tried: set[str] = set()
        clock_ahead: set[str] = set()
        stuck: set[str] = set()  # pushed in this round and still pending (refused for the clock, or unanswered)
        store = self._device.store
        identity = self._device.require_identity()
        in_flight: Future[PushResponse] | None = None
        sending: list[str] = []  # the change ids and grant ids of the push in flight
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatepost-push") as sender:
            try:
                while True:
                    generation = store.generation  # taken before the read
                    if not tried and generation == self._outbox_empty_at:
                        return clock_ahead
                    batch_grants, batch_changes = self._next_batch(tried, stuck.union(sending))
                    # Encoded while the push before is on its way, so this one leaves once that is answered.
                    body = None
                    if batch_grants or batch_changes:
                        body = encode_push(PushRequest(changes=batch_changes, key_grants=batch_grants))
                    answered_batch = sending
                    response = in_flight.result() if in_flight is not None else None
                    in_flight, sending = None, []
                    if body is not None:
                        sending = [row.grant_id for row in batch_grants] + [row.change_id for row in batch_changes]
                        tried.update(sending)
                        in_flight = sender.submit(api.push_encoded, body)
                    if response is not None:
                        refused_for_clock = self._apply_push(response, identity, tally)
                        clock_ahead |= refused_for_clock
                        answered = {result.change_id for result in response.results}
                        answered.update(result.grant_id for result in response.grant_results)
                        stuck |= refused_for_clock | {item for item in answered_batch if item not in answered}
                    if in_flight is None:
                        if not tried:
                            self._outbox_empty_at = generation
                        return clock_ahead
            finally:
                if in_flight is not None:  # an error on this side: the request still ends before we go on
                    with contextlib.suppress(Exception):
                        in_flight.result()

    def _next_batch(self, tried: set[str], skip: set[str]) -> tuple[list[KeyGrantIn], list[ChangeIn]]:
        """The grants and versions of the next push: pending and not yet tried in this round.

        ``skip`` (what is stuck, or on its way in the push before) is left out by the queries
        themselves, so that only what one push can carry is read.
        """
        with self._device.store.read() as session:
            grants = [
                KeyGrantIn.model_validate(row)
                for row in outbox.pending_grants(session, skip, MAX_PUSH_GRANTS)
                if row["grant_id"] not in tried
            ]
            # A version whose key's grant waits for a later push waits with it.
            later_keys = outbox.grant_keys_after(session, skip, MAX_PUSH_GRANTS)
            changes = [
                ChangeIn.model_validate(row)
                for row in outbox.pending_versions(session, skip, MAX_PUSH_CHANGES)
                if row["change_id"] not in tried
            ]
        return grants, _within_budget([row for row in changes if row.key_id not in later_keys])

    def _apply_push(self, response: PushResponse, identity: Identity, tally: _Tally) -> set[str]:
        device = self._device
        now = device.now_ms()
        clock_ahead: set[str] = set()
        with device.store.write() as session:
            device.learn_server_time(session, response.server_time_ms)
            held = outbox.held_seqs(session, [result.change_id for result in response.results])
            refused_before = _rejected_ids(session, [*held, *(result.grant_id for result in response.grant_results)])
            waiting = _waiting_for_their_person(session, response)
            # Acknowledged versions are updated in one statement (no ORM object each).
            acknowledged: list[tuple[str, int | None]] = []
            for result in response.results:
                if result.change_id not in held:
                    continue
                if result.status is not ChangeStatus.REJECTED:
                    seq = result.seq if result.seq is not None else held[result.change_id]
                    acknowledged.append((result.change_id, seq))
                    if result.change_id in refused_before:
                        _clear_rejection(session, result.change_id)
                    if result.status is ChangeStatus.ACCEPTED:
                        tally.sent += 1
                    else:
                        tally.duplicates += 1
                    continue
                reason = result.reason.value if result.reason else "rejected"
                _note_rejection(session, result.change_id, reason, result.detail, now)
                if result.reason is RejectReason.CLOCK_AHEAD or result.change_id in waiting:
                    clock_ahead.add(result.change_id)
                    continue
                row = session.get(LocalVersion, result.change_id)
                if row is not None:
                    row.pending = False
                    session.add(row)
                tally.not_accepted.append(NotAccepted(result.change_id, "version", reason, result.detail))
            if acknowledged:
                outbox.acknowledge_versions(
                    session, acknowledged, org_id=identity.org_id, author_user_id=identity.user_id
                )
                LocalStore.left_outbox(session, [change_id for change_id, _ in acknowledged])
            grants = _rows_by_id(session, KeyGrantRow, [result.grant_id for result in response.grant_results])
            for grant_result in response.grant_results:
                grant = grants.get(grant_result.grant_id)
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
                    if grant.grant_id in refused_before:
                        _clear_rejection(session, grant.grant_id)
                session.add(grant)
        return clock_ahead

    # --- pull ----------------------------------------------------------------------------------

    def _pull(
        self,
        api: SyncApi,
        identity: Identity,
        tally: _Tally,
        say: Callable[[float, str], None],
        *,
        known_state: tuple[int, dict[str, str]] | None = None,
    ) -> None:
        """Pull every page. ``known_state`` is (store generation, device state) as read earlier:
        used for the first page when the store has committed no write since (else read again)."""
        device = self._device
        pages = 0
        ahead: Future[PullResponse] | None = None  # the next page, fetched while this one is applied
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatepost-pull") as fetcher:
            try:
                while True:
                    if known_state is not None and known_state[0] == device.store.generation:
                        state = known_state[1]
                    else:
                        state = device.store.state()
                    known_state = None
                    cursor = int(state.get(StateKey.PULL_CURSOR, "0"))
                    page = ahead.result() if ahead is not None else api.pull(cursor, limit=PULL_PAGE)
                    ahead = None
                    if page.has_more and page.next > cursor:
                        # The server's answer does not depend on what this phone does with this page.
                        ahead = fetcher.submit(api.pull, page.next, PULL_PAGE)
                    self._take_page(page, cursor, state, identity, tally)
                    pages += 1
                    say(min(0.85, 0.4 + 0.05 * pages), f"Fetched {tally.received} change(s)")
                    if ahead is None:
                        return
            finally:
                if ahead is not None:  # an error on this side: the request still ends before we go on
                    with contextlib.suppress(Exception):
                        ahead.result()

    def _take_page(
        self, page: PullResponse, cursor: int, state: dict[str, str], identity: Identity, tally: _Tally
    ) -> None:
        """Apply one pulled page together with the cursor after it (one transaction)."""
        device = self._device
        if not _changes_nothing(page, cursor, state, device.now_ms()):
            with device.store.write() as session:
                purged = [(purge.reason, *self._purge_case(session, purge.case_id)) for purge in page.purges]
                tally.received += self._apply_page(session, page)
                self._forget_views_of_erased(session, page, identity)
                LocalStore.put(session, {StateKey.PULL_CURSOR: max(cursor, page.next)})
            tally.purged += len(page.purges)
            tally.erased += sum(1 for reason, held, _ in purged if reason == "erased" and held)
            tally.dropped += sum(dropped for _, _, dropped in purged)
        tally.sharing = page.sharing
        for member in page.members_awaiting_key:
            tally.members[member.user_id] = member

    def _apply_page(self, session: Session, page: PullResponse) -> int:
        device = self._device
        device.learn_server_time(session, page.server_time_ms)
        clock = device.clock(session)
        physical = device.physical_ms(session)
        # Usually none of a page is here already (a fresh phone, a colleague's work), or what is here
        # is this phone's own work, pushed and acknowledged: ask first, and load as rows only those
        # that still need something done.
        present, unsettled = outbox.held_unsettled(session, [version.change_id for version in page.versions])
        held = _rows_by_id(session, LocalVersion, sorted(unsettled)) if unsettled else {}
        fresh: dict[str, Version] = {}  # inserted in one statement at the end (no ORM object each)
        for version in page.versions:
            if version.change_id in present and version.change_id not in unsettled:
                continue  # settled here already; a server copy never overwrites what this device holds
            row = held.get(version.change_id)
            if row is None:
                fresh.setdefault(version.change_id, version)
            elif (row.pending or not row.acknowledged or row.seq is None) and row.same_content(version):
                # Our own version came back: the server holds it, so it is acknowledged.
                row.pending, row.acknowledged = False, True
                row.seq, row.org_id, row.author_user_id = version.seq, version.org_id, version.author_user_id
                _clear_rejection(session, row.change_id)
                session.add(row)
            elif not row.acknowledged and _same_write(row, version):
                _adopt_earlier_stamp(session, row, version)
            # Any other server copy never overwrites what this device holds.
        if page.versions:
            # Stamps are fixed-width text, so the greatest sorts last; passing it passes them all.
            clock.observe(Hlc.parse(max(version.hlc for version in page.versions)), physical)
        outbox.insert_received(session, list(fresh.values()))
        new = len(fresh)
        Device.save_clock(session, clock)
        held_grants = _rows_by_id(session, KeyGrantRow, [grant.grant_id for grant in page.key_grants])
        fresh_grants: dict[str, dict[str, object]] = {}  # inserted in one statement too
        for grant in page.key_grants:
            existing = held_grants.get(grant.grant_id)
            if existing is None:
                fresh_grants.setdefault(grant.grant_id, {**grant.model_dump(), "pending": False, "acknowledged": True})
            elif existing.key_id == grant.key_id and existing.wrapped == grant.wrapped:
                existing.pending, existing.acknowledged = False, True
                existing.seq, existing.org_id = grant.seq, grant.org_id
                existing.created_by_user_id = grant.created_by_user_id
                session.add(existing)
        if fresh_grants:
            session.connection().execute(insert(KeyGrantRow), list(fresh_grants.values()))
        return new

    def apply_page(self, session: Session, page: PullResponse) -> int:
        """Apply a page of versions and grants pulled some other way (what partners share with us)."""
        return self._apply_page(session, page)

    def purge_case(self, session: Session, case_id: str) -> None:
        """Delete a case another organisation no longer shares with ours (see ``_purge_case``)."""
        self._purge_case(session, case_id)

    def case_views_about(self, session: Session, case_id: str) -> list[str]:
        """Record ids of the ``case_view`` records on this device (a coordinator's) that say someone
        opened ``case_id``'s record: they name the person only inside their ciphertext."""
        return [row.record_id for row, _ in self._case_views_naming(session, {case_id}, None)]

    def _case_views_naming(
        self, session: Session, case_ids: set[str], among_records: Sequence[str] | None
    ) -> list[tuple[LocalVersion, str]]:
        """The ``case_view`` rows (all, or among these records) naming one of ``case_ids``, with it."""
        device = self._device
        keys = device.require_keys()
        query = select(LocalVersion).where(LocalVersion.kind == CASE_VIEW.name)
        rows: list[LocalVersion] = []
        if among_records is None:
            rows = list(session.exec(query).all())
        else:
            for start in range(0, len(among_records), _ID_CHUNK):
                chunk = list(among_records[start : start + _ID_CHUNK])
                rows.extend(session.exec(query.where(col(LocalVersion.record_id).in_(chunk))).all())
        found = []
        for row in rows:
            try:
                value = decrypt_version(device, keys, row)
            except Unreadable:
                continue
            named = value.get("case_id") if isinstance(value, dict) else None
            if isinstance(named, str) and named in case_ids:
                found.append((row, named))
        return found

    def _forget_views_of_erased(self, session: Session, page: PullResponse, identity: Identity) -> None:
        """The records of who opened an erased person's record go with them: those on this phone
        when the erasure arrives, and any that arrive later (written on a phone that was offline).
        Unsent ones leave the outbox; a coordinator's phone names those the server holds to it."""
        erased: set[str] = set(json.loads(LocalStore.get(session, StateKey.ERASED_CASES) or "[]"))
        newly = {purge.case_id for purge in page.purges if purge.reason == "erased"} - erased
        arrived = [version.record_id for version in page.versions if version.kind == CASE_VIEW.name]
        if not newly and not (erased and arrived):
            return
        erased |= newly
        rows = self._case_views_naming(session, erased, None if newly else arrived)
        if not rows and not newly:
            return
        to_erase: dict[str, list[str]] = json.loads(LocalStore.get(session, StateKey.CASE_VIEWS_TO_ERASE) or "{}")
        for row, case_id in rows:
            if row.acknowledged and identity.role is Role.COORDINATOR:
                to_erase.setdefault(case_id, []).append(row.record_id)
            if row.pending:
                LocalStore.left_outbox(session, [row.change_id])
            session.delete(row)
        LocalStore.put(
            session,
            {
                StateKey.ERASED_CASES: json.dumps(sorted(erased)),
                StateKey.CASE_VIEWS_TO_ERASE: json.dumps(to_erase, sort_keys=True),
            },
        )

    def _erase_case_views(self, api: SyncApi) -> None:
        """Name to the server the records of who opened an erased person's record that it still holds."""
        device = self._device
        to_erase: dict[str, list[str]] = json.loads(device.store.state().get(StateKey.CASE_VIEWS_TO_ERASE) or "{}")
        for case_id, record_ids in sorted(to_erase.items()):
            # A refusal is nothing the phone can mend; the retention period deletes them in the end.
            with contextlib.suppress(ServerRejected):
                api.erase_case(case_id, EraseCase(case_view_records=record_ids))
            with device.store.write() as session:
                left = json.loads(LocalStore.get(session, StateKey.CASE_VIEWS_TO_ERASE) or "{}")
                left.pop(case_id, None)
                LocalStore.put(session, {StateKey.CASE_VIEWS_TO_ERASE: json.dumps(left, sort_keys=True)})

    def _purge_case(self, session: Session, case_id: str) -> tuple[bool, int]:
        """Delete a case this device may no longer hold (a peer mentor unassigned from it, or its
        record erased): its versions, grants, keys and refusals, and any unsent note about it (the
        server would refuse it). Destroying the keys leaves any stray copy of its ciphertext unreadable.

        Returns whether the device held anything of the case, and how many of its versions had not
        reached the server (unsent, or refused) and are dropped."""
        device = self._device
        dropped = session.exec(
            select(func.count())
            .select_from(LocalVersion)
            .where(LocalVersion.case_id == case_id, col(LocalVersion.acknowledged).is_(False))
        ).one()
        outbox = [
            *session.exec(select(LocalVersion.change_id).where(LocalVersion.case_id == case_id, LocalVersion.pending)),
            *session.exec(select(KeyGrantRow.grant_id).where(KeyGrantRow.case_id == case_id, KeyGrantRow.pending)),
        ]
        change_ids = list(session.exec(select(LocalVersion.change_id).where(LocalVersion.case_id == case_id)))
        grant_ids = list(session.exec(select(KeyGrantRow.grant_id).where(KeyGrantRow.case_id == case_id)))
        session.exec(delete(LocalVersion).where(col(LocalVersion.case_id) == case_id))
        session.exec(delete(KeyGrantRow).where(col(KeyGrantRow.case_id) == case_id))
        for start in range(0, len(change_ids) + len(grant_ids), _ID_CHUNK):
            chunk = [*change_ids, *grant_ids][start : start + _ID_CHUNK]
            session.exec(delete(PushRejection).where(col(PushRejection.item_id).in_(chunk)))
        prefix = f"case:{case_id}:"
        session.exec(delete(KeyringEntry).where(col(KeyringEntry.key_id).startswith(prefix)))
        keys = device.require_keys()
        held_keys = [key_id for key_id in keys.keys if key_id.startswith(prefix)]
        for key_id in held_keys:
            del keys.keys[key_id]
        device.forget_plaintext()
        # Bulk deletes bypass the journal's bookkeeping: tell it these left the outbox.
        LocalStore.left_outbox(session, outbox)
        return bool(change_ids or grant_ids or held_keys), int(dropped)

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
            # The server lists only members without a grant that counts (one made since their keys
            # last changed), so only grants not sent yet are skipped: a reset member is sealed again.
            already = set(
                session.exec(
                    select(KeyGrantRow.recipient_id).where(
                        KeyGrantRow.key_id == key_id,
                        KeyGrantRow.recipient_kind == "user",
                        col(KeyGrantRow.pending),
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
        now = self._device.now_ms()
        if synced:
            self._last_synced_at_ms = now
        recorded = self._recorded
        if (
            synced
            and recorded is not None
            and recorded[:2] == (offline, error)
            and recorded[2] is not None
            and 0 <= now - recorded[2] < _LAST_SYNCED_GRANULARITY_MS
        ):
            return  # only the time moved, and by less than the granularity: kept in memory
        with self._device.store.write() as session:
            values: dict[StateKey, str | int | None] = {
                StateKey.SYNC_OFFLINE: "1" if offline else None,
                StateKey.SYNC_LAST_ERROR: error,
            }
            if synced:
                values[StateKey.LAST_SYNCED_AT_MS] = now
            LocalStore.put(session, values)
        self._recorded = (offline, error, now if synced else (recorded[2] if recorded else None))


# The stored "last synced" time is written again after this long (the status shows the exact time
# from memory): a sync with nothing new then writes nothing at all, as the server does for last_seen.
_LAST_SYNCED_GRANULARITY_MS = 60_000


# A clock offset that moved less than this since it was stored is not written again.
_OFFSET_TOLERANCE_MS = 1_000


def _changes_nothing(page: PullResponse, cursor: int, state: dict[str, str], now_ms: int) -> bool:
    """An empty page that would write nothing new (the usual no-change pull): no write transaction."""
    if page.versions or page.key_grants or page.purges or page.next > cursor:
        return False
    stored_offset = int(state.get(StateKey.CLOCK_OFFSET_MS) or 0)
    return abs(page.server_time_ms - now_ms - stored_offset) < _OFFSET_TOLERANCE_MS


def _within_budget(rows: list[ChangeIn]) -> list[ChangeIn]:
    """The first versions that fit one push (at least one, at most ``MAX_PUSH_CHANGES``)."""
    batch: list[ChangeIn] = []
    size = 0
    for row in rows[:MAX_PUSH_CHANGES]:
        size += len(row.ciphertext) + _CHANGE_OVERHEAD_BYTES
        if batch and size > MAX_PUSH_BYTES:
            break
        batch.append(row)
    return batch


_Row = TypeVar("_Row", LocalVersion, KeyGrantRow)
_ID_CHUNK = 500


def _rows_by_id(session: Session, model: type[_Row], ids: Sequence[str]) -> dict[str, _Row]:
    """The rows of ``model`` with these ids (change ids or grant ids), fetched in a few queries."""
    key = col(LocalVersion.change_id) if model is LocalVersion else col(KeyGrantRow.grant_id)
    found: dict[str, _Row] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _ID_CHUNK):
        for row in session.exec(select(model).where(key.in_(unique[start : start + _ID_CHUNK]))).all():
            found[row.change_id if isinstance(row, LocalVersion) else row.grant_id] = row
    return found


def _rejected_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """Which of these items have a refusal on record (so most acknowledgements need no lookup).

    The table holds only what the server refused and the phone still shows, usually nothing:
    reading it whole is cheaper than asking about a batch's 500 ids."""
    return set(session.exec(select(PushRejection.item_id)).all()).intersection(ids)


def _waiting_for_their_person(session: Session, response: PushResponse) -> set[str]:
    """Versions refused because the server holds no such person yet, whose person this phone has
    not sent yet (refused in the same push for its clock, say, or still on its way).

    They are not wrong: they wait for their person and are re-stamped and sent with it. Refused
    for good, a note logged about a person added on a phone whose clock was ahead would be lost.
    """
    wrong_case = {r.change_id for r in response.results if r.reason is RejectReason.WRONG_CASE}
    if not wrong_case:
        return set()
    # A person version this push refused for another reason than the clock is not coming.
    refused_for_good = {
        r.change_id
        for r in response.results
        if r.status is ChangeStatus.REJECTED and r.reason is not RejectReason.CLOCK_AHEAD
    }
    rows = _rows_by_id(session, LocalVersion, sorted(wrong_case))
    case_ids = {row.case_id for row in rows.values() if row.case_id is not None and row.kind != PERSON.name}
    unsent = {
        case_id
        for change_id, case_id in session.exec(
            select(LocalVersion.change_id, LocalVersion.record_id).where(
                LocalVersion.kind == PERSON.name,
                col(LocalVersion.record_id).in_(case_ids),
                col(LocalVersion.pending),
            )
        ).all()
        if change_id not in refused_for_good
    }
    return {change_id for change_id, row in rows.items() if row.case_id in unsent and row.kind != PERSON.name}


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
