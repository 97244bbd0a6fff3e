"""``SharingService``: consent records and sharing a person's record with partner organisations.

Owning side (coordinators and link workers; online, since recipients come from the server):

- ``record_consent`` writes an append-only ``consent`` record (full tier, encrypted like every
  record) with the recipients, tiers, purposes, that the explanation and the likely consequences
  were given, how consent was recorded, its date and review date; pushes it; then for each
  recipient seals every version of the named tiers' case keys to the partner organisation's public
  key and asks the server to share (scope and keys in one transaction). ``share_without_consent``
  does the same on a lawful basis (vital interest, statutory duty) with the reason and who decided.
- ``withdraw`` writes a withdrawal record that amends the consent, ends the share on the server
  (delivery stops at once; the partner's devices purge the person at their next sync) and rotates
  the shared tiers' keys for future writes: a new content key version, wrapped for the
  organisation and sealed to the mentors (basic) and partners still sharing, never to the one that
  left. A share that expires is rotated by the next device of the owner that syncs and claims it.

Partner side: every sync pulls what other organisations share with ours (``pull_shared``, a cursor
per owning organisation), applies the server's purges (a case, or a tier, no longer shared) and
keeps the active shares so the caseload can say who shared whom.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete
from sqlmodel import Session, col, select

from outreach_app.errors import DeviceRevoked, NotReady, ServerRejected, ValidationFailed
from outreach_app.ids import uuid7
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import (
    seal_key_to_organisation,
    seal_key_to_user,
)
from outreach_app.services.records import A_COLLEAGUE, AUTHOR_NAME_KEY
from outreach_app.services.rotation import rotate_case_key
from outreach_app.services.sync import SyncService
from outreach_app.services.versions import Unreadable, decrypt_version, write_entry
from outreach_app.storage import LocalStore, StateKey
from outreach_app.storage.tables import KeyGrantRow, KeyringEntry, LocalVersion, PushRejection
from outreach_app.sync.transport import SyncApi
from shared.crypto import JsonValue, b64decode
from shared.errors import CryptoError
from shared.kinds import CONSENT, CONSENT_RECORDED_HOW, LAWFUL_BASES, Tier, validate_value
from shared.protocol import (
    KeyGrantIn,
    OrganisationEntry,
    PullResponse,
    RenewShare,
    Role,
    RotationDue,
    ShareBasis,
    SharedPullRequest,
    ShareInfo,
    ShareRequest,
    SharingGrants,
    WithdrawShare,
    parse_case_key_id,
)

__all__ = ["CaseSharing", "ConsentEntry", "SharingService", "describe_share"]

T = TypeVar("T")
_DAY_MS = 86_400_000
_TIER_WORDS = {Tier.BASIC: "basic", Tier.FULL: "full"}


@dataclass(frozen=True)
class ConsentEntry:
    """One consent record as its author wrote it (decrypted on this device)."""

    record_id: str
    action: str  # given, withdrawn, without_consent
    recipients: tuple[str, ...]  # organisation names
    tiers: tuple[Tier, ...]
    purposes: str
    explained: bool
    consequences_explained: bool
    recorded_how: str
    consent_date: str
    review_date: str
    lawful_basis: str
    reason: str
    decided_by: str
    author: str
    amends: str | None


@dataclass(frozen=True)
class CaseSharing:
    """Who can see a person's record outside the organisation, and who it could be shared with."""

    case_id: str
    shares: tuple[ShareInfo, ...]  # newest first, active and ended
    statements: tuple[str, ...]  # the active shares in plain words
    records: tuple[ConsentEntry, ...]  # the consent records, newest first
    directory: tuple[OrganisationEntry, ...]  # organisations not sharing this person now

    @property
    def active(self) -> tuple[ShareInfo, ...]:
        return tuple(share for share in self.shares if share.active)


def _date_text(ms: int) -> str:
    day = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return f"{day.day} {day.strftime('%b %Y')}"


def describe_share(share: ShareInfo) -> str:
    """E.g. "Hope Street Probation can see basic and full details since 1 Dec 2026 - the person consented,
    review by 1 Mar 2027"."""
    tiers = " and ".join(_TIER_WORDS[tier] for tier in sorted(share.tiers))
    if share.basis is ShareBasis.CONSENT:
        basis = "the person consented"
    else:
        basis = f"without consent: {LAWFUL_BASES[share.basis.value].split(' (')[0].lower()}"
    text = f"{share.partner_org_name} can see {tiers} details since {_date_text(share.starts_at_ms)} - {basis}"
    if share.expires_at_ms is not None:
        # The share ends at the start of the day after the review date.
        text += f", review by {_date_text(share.expires_at_ms - _DAY_MS)}"
    return text


class SharingService:
    def __init__(self, device: Device, sync: SyncService) -> None:
        self._device = device
        self._sync = sync
        self._due: list[str] = []  # ended shares whose keys this device may rotate (from the last pull)
        sync.partner_step = self

    # --- reading -------------------------------------------------------------------------------

    def case_sharing(self, case_id: str) -> CaseSharing:
        """The person's shares (online) and consent records (from this device)."""
        self._require_full_member()
        listed = self._online(lambda api: api.case_shares(case_id))
        sharing_now = {share.partner_org_id for share in listed.shares if share.active}
        return CaseSharing(
            case_id=case_id,
            shares=tuple(listed.shares),
            statements=tuple(describe_share(share) for share in listed.shares if share.active),
            records=tuple(self.consent_records(case_id)),
            directory=tuple(entry for entry in listed.directory if entry.org_id not in sharing_now),
        )

    def consent_records(self, case_id: str) -> list[ConsentEntry]:
        device = self._device
        keys = device.require_keys()
        with device.store.read() as session:
            rows = session.exec(
                select(LocalVersion).where(LocalVersion.case_id == case_id, LocalVersion.kind == CONSENT.name)
            ).all()
        entries = []
        for row in sorted(rows, key=lambda r: r.hlc, reverse=True):
            try:
                value = decrypt_version(device, keys, row)
            except Unreadable:
                continue
            if isinstance(value, dict):
                entries.append(_consent_entry(row, value))
        return entries

    def shared_with_us(self) -> list[ShareInfo]:
        """The shares other organisations have given ours, as last synced."""
        raw = self._device.store.state().get(StateKey.SHARED_WITH_US)
        return [ShareInfo.model_validate(item) for item in json.loads(raw)] if raw else []

    def shared_by(self) -> dict[str, str]:
        """case id -> the name of the organisation that shares it with ours."""
        return {share.case_id: share.owner_org_name for share in self.shared_with_us()}

    def without_consent(self) -> list[ShareInfo]:
        """The organisation's shares made on a lawful basis (coordinators; online)."""
        if self._device.require_identity().role is not Role.COORDINATOR:
            raise NotReady("Only a coordinator can see the list of shares made without consent.")
        return list(self._online(lambda api: api.shares_without_consent()).shares)

    def without_consent_lines(self, names: dict[str, str]) -> list[str]:
        """Each share made without consent in plain words, with the reason and who decided
        (from the encrypted record on this phone); ``names``: case id -> the person's name."""
        lines = []
        for share in self.without_consent():
            record = next((r for r in self.consent_records(share.case_id) if r.record_id == share.record_id), None)
            text = f"{names.get(share.case_id, 'Someone')}: {describe_share(share)}"
            if not share.active:
                text += " (ended)"
            if record is not None:
                text += f". Reason: {record.reason}. Decided by {record.decided_by}"
            lines.append(text)
        return lines

    # --- giving and withdrawing ----------------------------------------------------------------

    def record_consent(
        self,
        case_id: str,
        *,
        recipients: Sequence[str],
        tiers: Sequence[Tier | str],
        purposes: str,
        explained: bool,
        consequences_explained: bool,
        recorded_how: str,
        consent_date: str,
        review_date: str,
    ) -> CaseSharing:
        """Record the person's consent and share the named tiers with each recipient (online)."""
        problems = _consent_problems(purposes, explained, consequences_explained, recorded_how, review_date)
        entry: dict[str, JsonValue] = {
            "action": "given",
            "purposes": purposes.strip(),
            "explained": explained,
            "consequences_explained": consequences_explained,
            "recorded_how": recorded_how,
        }
        return self._share(case_id, ShareBasis.CONSENT, recipients, tiers, consent_date, review_date, entry, problems)

    def share_without_consent(
        self,
        case_id: str,
        *,
        recipients: Sequence[str],
        tiers: Sequence[Tier | str],
        lawful_basis: str,
        reason: str,
        decided_by: str,
        decision_date: str,
        review_date: str = "",
    ) -> CaseSharing:
        """Share on a recorded lawful basis: vital interest or a statutory duty such as MAPPA (online)."""
        problems: dict[str, str] = {}
        if lawful_basis not in LAWFUL_BASES:
            problems["lawful_basis"] = "Choose the lawful basis: vital interest or a statutory duty."
        if not reason.strip():
            problems["reason"] = "Say why the information is shared without consent."
        if not decided_by.strip():
            problems["decided_by"] = "Say who decided."
        entry: dict[str, JsonValue] = {
            "action": "without_consent",
            "lawful_basis": lawful_basis,
            "reason": reason.strip(),
            "decided_by": decided_by.strip(),
        }
        basis = ShareBasis(lawful_basis) if lawful_basis in LAWFUL_BASES else ShareBasis.VITAL_INTEREST
        return self._share(case_id, basis, recipients, tiers, decision_date, review_date, entry, problems)

    def withdraw(self, case_id: str, share_id: str) -> CaseSharing:
        """Withdraw a share: a withdrawal record, delivery stops, and the shared tiers' keys rotate (online)."""
        self._require_full_member()
        self._sync_or_raise("Withdrawing")
        share = next(
            (s for s in self._online(lambda api: api.case_shares(case_id)).shares if s.share_id == share_id), None
        )
        if share is None or not share.active:
            raise ValidationFailed({"share": "This share has already ended."})
        today = dt.datetime.fromtimestamp(self._device.now_ms() / 1000, tz=dt.UTC).date().isoformat()
        entry: dict[str, JsonValue] = {
            "action": "withdrawn",
            "recipients": [{"org_id": share.partner_org_id, "name": share.partner_org_name}],
            "tiers": [tier.value for tier in share.tiers],
            "consent_date": today,
        }
        record_id = self._write_record(case_id, entry, amends=share.record_id)
        self._sync_or_raise("Withdrawing")
        due = self._online(lambda api: api.withdraw_share(share_id, WithdrawShare(record_id=record_id)))
        self._rotate(due)
        self._sync_or_raise("Withdrawing")
        return self.case_sharing(case_id)

    def renew(
        self,
        case_id: str,
        share_id: str,
        *,
        purposes: str,
        explained: bool,
        consequences_explained: bool,
        recorded_how: str,
        consent_date: str,
        review_date: str,
    ) -> CaseSharing:
        """Renew consent before the share ends: a ``renewed`` record amending the one it rests on
        (with the purposes as now agreed) and the new review date; delivery never stops (online).
        The organisation and tiers stay: to change them, withdraw and record consent again."""
        self._require_full_member()
        problems = _consent_problems(purposes, explained, consequences_explained, recorded_how, review_date)
        start_ms = self._day_ms(consent_date, "consent_date", problems)
        expires_ms = self._end_of_day_ms(review_date, problems)
        if start_ms is not None and start_ms > self._device.now_ms() + _DAY_MS:
            problems["consent_date"] = "The date cannot be in the future."
        if expires_ms is not None and expires_ms <= self._device.now_ms():
            problems["review_date"] = "The review or expiry date must be after today."
        if problems:
            raise ValidationFailed(problems)
        self._sync_or_raise("Renewing consent")
        share = next(
            (s for s in self._online(lambda api: api.case_shares(case_id)).shares if s.share_id == share_id), None
        )
        if share is None or not share.active:
            raise ValidationFailed({"share": "This share has ended: record consent again to share."})
        if share.basis is not ShareBasis.CONSENT:
            raise ValidationFailed({"share": "This was shared without consent: record the decision again instead."})
        entry: dict[str, JsonValue] = {
            "action": "renewed",
            "recipients": [{"org_id": share.partner_org_id, "name": share.partner_org_name}],
            "tiers": [tier.value for tier in share.tiers],
            "purposes": purposes.strip(),
            "explained": explained,
            "consequences_explained": consequences_explained,
            "recorded_how": recorded_how,
            "consent_date": consent_date,
            "review_date": review_date,
        }
        record_id = self._write_record(case_id, entry, amends=share.record_id)
        self._sync_or_raise("Renewing consent")
        request = RenewShare(record_id=record_id, expires_at_ms=expires_ms)
        try:
            self._online(lambda api: api.renew_share(share_id, request))
        except ServerRejected as error:
            raise ValidationFailed({"share": error.problem.detail}) from error
        return self.case_sharing(case_id)

    # --- the sync step -------------------------------------------------------------------------

    def pull_shared(self, api: SyncApi, identity: Identity) -> int:
        """Pull what partner organisations share with ours; returns how many people were purged."""
        if identity.role is Role.PEER_MENTOR:
            return 0
        device = self._device
        purged = 0
        while True:
            cursors: dict[str, int] = json.loads(device.store.state().get(StateKey.SHARED_CURSORS) or "{}")
            reply = api.shared_pull(SharedPullRequest(cursors=cursors))
            self._due = list(reply.rotations_due)
            more = False
            with device.store.write() as session:
                active: list[ShareInfo] = []
                for page in reply.pages:
                    for purge in page.purges:
                        purged += self._purge(session, purge.case_id, purge.tiers)
                    self._sync.apply_page(
                        session,
                        PullResponse(
                            versions=page.versions,
                            key_grants=page.key_grants,
                            next=page.next,
                            has_more=page.has_more,
                            server_time_ms=reply.server_time_ms,
                        ),
                    )
                    before = cursors.get(page.owner_org_id, 0)
                    cursors[page.owner_org_id] = max(before, page.next)
                    active.extend(page.shares)
                    more = more or (page.has_more and page.next > before)
                LocalStore.put(
                    session,
                    {
                        StateKey.SHARED_CURSORS: json.dumps(cursors, sort_keys=True),
                        StateKey.SHARED_WITH_US: json.dumps([share.model_dump(mode="json") for share in active]),
                    },
                )
            if not more:
                return purged

    def rotate_due(self, api: SyncApi, identity: Identity) -> bool:
        """Claim and rotate the keys of shares that ended by expiry; True when there is something to push."""
        if identity.role is Role.PEER_MENTOR:
            return False
        rotated = False
        for share_id in self._due:
            try:
                due = api.claim_rotation(share_id)
            except ServerRejected:
                continue  # another device claimed it first
            self._rotate(due, api)
            rotated = True
        self._due = []
        return rotated

    def seal_newest_to_partners(self, case_id: str, tiers: Sequence[Tier]) -> None:
        """After a key rotation made elsewhere (a mentor unassigned), give the partners still sharing
        the new keys of the tiers they hold (online)."""
        listed = self._online(lambda api: api.case_shares(case_id))
        directory = {entry.org_id: entry for entry in listed.directory}
        grants: list[KeyGrantIn] = []
        for share in listed.shares:
            if not share.active:
                continue
            entry = self._partner_entry(share.partner_org_id, directory)
            if entry is None:
                continue
            for tier in share.tiers:
                if tier in tiers:
                    grants.extend(self._seal_tier(case_id, tier, entry, newest_only=True))
        if grants:
            self._online(lambda api: api.sharing_grants(SharingGrants(key_grants=grants)))

    # --- internals -----------------------------------------------------------------------------

    def _share(
        self,
        case_id: str,
        basis: ShareBasis,
        recipients: Sequence[str],
        tiers: Sequence[Tier | str],
        start_date: str,
        review_date: str,
        entry: dict[str, JsonValue],
        problems: dict[str, str],
    ) -> CaseSharing:
        self._require_full_member()
        chosen_tiers: list[Tier] = []
        for tier in tiers:
            try:
                chosen_tiers.append(Tier(tier))
            except ValueError:
                problems["tiers"] = "Choose basic details, full details or both."
        if not chosen_tiers:
            problems["tiers"] = "Choose which details may be shared: basic, full or both."
        if not recipients:
            problems["recipients"] = "Choose at least one organisation to share with."
        start_ms = self._day_ms(start_date, "consent_date", problems)
        expires_ms = self._end_of_day_ms(review_date, problems)
        if start_ms is not None and start_ms > self._device.now_ms() + _DAY_MS:  # "today" anywhere on earth
            problems["consent_date"] = "The date cannot be in the future."
        if expires_ms is not None and expires_ms <= self._device.now_ms():
            problems["review_date"] = "The review or expiry date must be after today."
        if problems:
            raise ValidationFailed(problems)
        assert start_ms is not None
        chosen_tiers = sorted(set(chosen_tiers))
        self._sync_or_raise("Sharing")  # the server must hold the person before they can be shared
        directory = {entry.org_id: entry for entry in self._online(lambda api: api.organisations()).organisations}
        partners = [directory.get(org_id) for org_id in recipients]
        if any(partner is None for partner in partners):
            raise ValidationFailed({"recipients": "One of these organisations is not on the server any more."})
        keys = self._device.require_keys()
        for tier in chosen_tiers:
            if keys.newest_case_keys(case_id, tier) is None:
                raise NotReady("This phone does not hold this person's keys yet. Sync and try again.")
        entry = {
            **entry,
            "recipients": [{"org_id": p.org_id, "name": p.name} for p in partners if p is not None],
            "tiers": [tier.value for tier in chosen_tiers],
            "consent_date": start_date,
            "review_date": review_date,
        }
        record_id = self._write_record(case_id, entry)
        self._sync_or_raise("Sharing")
        for partner in partners:
            assert partner is not None
            grants = [g for tier in chosen_tiers for g in self._seal_tier(case_id, tier, partner, newest_only=False)]
            request = ShareRequest(
                share_id=uuid7(self._device.now_ms()),
                case_id=case_id,
                partner_org_id=partner.org_id,
                tiers=chosen_tiers,
                basis=basis,
                record_id=record_id,
                starts_at_ms=start_ms,
                expires_at_ms=expires_ms,
                key_grants=grants,
            )
            try:
                self._online(lambda api, request=request: api.create_share(request))  # type: ignore[misc]
            except ServerRejected as error:
                raise ValidationFailed({"recipients": f"{partner.name}: {error.problem.detail}"}) from error
        return self.case_sharing(case_id)

    def _write_record(self, case_id: str, entry: dict[str, JsonValue], amends: str | None = None) -> str:
        device = self._device
        identity = device.require_identity()
        keys = device.require_keys()
        case_keys = keys.newest_case_keys(case_id, Tier.FULL)
        if case_keys is None:
            raise NotReady("This phone does not hold this person's full details key. Sync and try again.")
        value: dict[str, JsonValue] = {**entry, AUTHOR_NAME_KEY: identity.display_name}
        with device.store.write() as session:
            return write_entry(
                device,
                session,
                case_keys,
                case_id=case_id,
                kind=CONSENT.name,
                tier=Tier.FULL,
                value=value,
                amends=amends,
            )

    def _seal_tier(
        self, case_id: str, tier: Tier, partner: OrganisationEntry, *, newest_only: bool
    ) -> list[KeyGrantIn]:
        """Grants sealing this tier's case keys (every version held, or the newest) to a partner."""
        device = self._device
        keys = device.require_keys()
        held = sorted(
            (parsed[2], key_id)
            for key_id in keys.keys
            if (parsed := parse_case_key_id(key_id)) is not None and parsed[0] == case_id and parsed[1] is tier
        )
        if newest_only:
            held = held[-1:]
        try:
            public_key = b64decode(partner.public_key)
            return [
                seal_key_to_organisation(
                    uuid7(device.now_ms()),
                    key_id,
                    keys.keys[key_id],
                    partner.org_id,
                    partner.key_version,
                    public_key,
                    case_id,
                )
                for _, key_id in held
            ]
        except (CryptoError, ValueError):
            raise NotReady(f"{partner.name}'s key is not usable: nothing can be shared with it.") from None

    def _rotate(self, due: RotationDue, api: SyncApi | None = None) -> None:
        """New key versions of the ended tiers, for the organisation, its mentors and remaining
        partners. A tier another phone rotated at the same moment keeps that phone's new version
        (it came first; see ``services.rotation``)."""
        device = self._device
        keys = device.require_keys()
        if keys.newest_org_key(device.require_identity().org_id) is None:
            return

        def work(server: SyncApi) -> None:
            partner_grants: list[KeyGrantIn] = []
            for tier in due.tiers:
                if keys.newest_case_keys(due.case_id, tier) is None:
                    continue
                rotated = rotate_case_key(device, server, due.case_id, tier)
                if rotated is None:
                    continue
                key_id, bundle = rotated.key_id, rotated.bundle
                with device.store.write() as session:
                    for mentor in due.mentors if tier is Tier.BASIC else ():
                        try:
                            grant = seal_key_to_user(
                                uuid7(device.now_ms()),
                                key_id,
                                bundle,
                                mentor.user_id,
                                b64decode(mentor.public_key),
                                due.case_id,
                            )
                        except (CryptoError, ValueError):
                            continue
                        session.add(KeyGrantRow.outgoing(grant))
                for partner in due.partners:
                    if tier in partner.tiers:
                        try:
                            partner_grants.append(
                                seal_key_to_organisation(
                                    uuid7(device.now_ms()),
                                    key_id,
                                    bundle,
                                    partner.org_id,
                                    partner.key_version,
                                    b64decode(partner.public_key),
                                    due.case_id,
                                )
                            )
                        except (CryptoError, ValueError):
                            continue
            if partner_grants:
                server.sharing_grants(SharingGrants(key_grants=partner_grants))

        if api is not None:
            work(api)
        else:
            self._online(work)

    def _purge(self, session: Session, case_id: str, tiers: Sequence[Tier] | None) -> int:
        """Delete a case (or some of its tiers) that another organisation no longer shares with ours."""
        device = self._device
        identity = device.require_identity()
        owned = session.exec(
            select(LocalVersion.change_id).where(
                LocalVersion.case_id == case_id, LocalVersion.org_id == identity.org_id
            )
        ).first()
        if owned is not None:
            return 0  # never delete a case of our own organisation
        held = session.exec(select(LocalVersion.change_id).where(LocalVersion.case_id == case_id)).first()
        if tiers is None:
            self._sync.purge_case(session, case_id)
            return 1 if held is not None else 0
        for tier in tiers:
            change_ids = list(
                session.exec(
                    select(LocalVersion.change_id).where(
                        LocalVersion.case_id == case_id, LocalVersion.tier == tier.value
                    )
                )
            )
            session.exec(
                delete(LocalVersion).where(col(LocalVersion.case_id) == case_id, col(LocalVersion.tier) == tier.value)
            )
            prefix = f"case:{case_id}:{tier.value}:"
            grant_ids = list(
                session.exec(select(KeyGrantRow.grant_id).where(col(KeyGrantRow.key_id).startswith(prefix)))
            )
            session.exec(delete(KeyGrantRow).where(col(KeyGrantRow.key_id).startswith(prefix)))
            if change_ids or grant_ids:
                session.exec(delete(PushRejection).where(col(PushRejection.item_id).in_([*change_ids, *grant_ids])))
            session.exec(delete(KeyringEntry).where(col(KeyringEntry.key_id).startswith(prefix)))
            keys = device.require_keys()
            for key_id in [key_id for key_id in keys.keys if key_id.startswith(prefix)]:
                del keys.keys[key_id]
        device.forget_plaintext()
        return 0

    def _partner_entry(self, org_id: str, directory: dict[str, OrganisationEntry]) -> OrganisationEntry | None:
        if org_id in directory:
            return directory[org_id]
        listed = self._online(lambda api: api.organisations()).organisations
        return next((entry for entry in listed if entry.org_id == org_id), None)

    def _end_of_day_ms(self, review_date: str, problems: dict[str, str]) -> int | None:
        """The end of the review date (sharing stops then); None when there is none or it is wrong."""
        if not review_date:
            return None
        day = self._day_ms(review_date, "review_date", problems)
        return None if day is None else day + _DAY_MS

    def _day_ms(self, text: str, field: str, problems: dict[str, str]) -> int | None:
        spec = CONSENT.fields["consent_date"]
        if not text or validate_value(spec, text) is not None:
            problems.setdefault(field, "Give a date like 2026-12-01.")
            return None
        day = dt.date.fromisoformat(text)
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)

    def _require_full_member(self) -> None:
        if self._device.require_identity().role is Role.PEER_MENTOR:
            raise NotReady("Only coordinators and link workers can share a person's record.")

    def _sync_or_raise(self, doing: str) -> None:
        report = self._sync.sync_now()
        if report.offline:
            raise NotReady(f"{report.message} {doing} needs a connection.")

    def _online(self, work: Callable[[SyncApi], T]) -> T:
        with self._device.net_lock:
            try:
                return work(self._device.api())
            except DeviceRevoked:
                self._device.erase_after_revocation()
                raise


def _consent_problems(
    purposes: str, explained: bool, consequences_explained: bool, recorded_how: str, review_date: str
) -> dict[str, str]:
    """What makes consent not free and informed, or not recorded, as the worker is told it."""
    problems: dict[str, str] = {}
    if not purposes.strip():
        problems["purposes"] = "Say what the information will be used for."
    if not explained:
        problems["explained"] = "Consent is informed only once what is shared, why and with whom was explained."
    if not consequences_explained:
        problems["consequences_explained"] = "Explain the likely consequences of sharing (and of not sharing)."
    if recorded_how not in CONSENT_RECORDED_HOW:
        problems["recorded_how"] = "Choose how the consent was recorded."
    if not review_date:
        problems["review_date"] = "Consent needs a review or expiry date."
    return problems


def _consent_entry(row: LocalVersion, value: dict[str, object]) -> ConsentEntry:
    def text(name: str) -> str:
        item = value.get(name)
        return item if isinstance(item, str) else ""

    recipients = value.get("recipients")
    names = (
        tuple(str(item.get("name", "")) for item in recipients if isinstance(item, dict))
        if isinstance(recipients, list)
        else ()
    )
    tiers_value = value.get("tiers")
    tiers = tuple(Tier(t) for t in tiers_value if t in ("basic", "full")) if isinstance(tiers_value, list) else ()
    author = value.get(AUTHOR_NAME_KEY)
    return ConsentEntry(
        record_id=row.record_id,
        action=text("action"),
        recipients=names,
        tiers=tiers,
        purposes=text("purposes"),
        explained=value.get("explained") is True,
        consequences_explained=value.get("consequences_explained") is True,
        recorded_how=text("recorded_how"),
        consent_date=text("consent_date"),
        review_date=text("review_date"),
        lawful_basis=text("lawful_basis"),
        reason=text("reason"),
        decided_by=text("decided_by"),
        author=author if isinstance(author, str) and author.strip() else A_COLLEAGUE,
        amends=row.amends,
    )
