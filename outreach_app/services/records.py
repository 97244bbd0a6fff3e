"""``CaseloadService``: the people on the caseload, their details, contacts and conflicts.

Works fully offline: every change is encrypted on the device and waits in the outbox. Reading
runs the shared merge rule over the versions this device holds, so every device that holds the
same versions shows the same values and the same open conflicts. A version this device cannot
decrypt or validate is shown as unreadable (author and time), never breaking the record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import col, select

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.ids import uuid7
from outreach_app.services.casework import CASEWORK_KINDS, write_field
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import KeyChain, new_case_bundle, wrap_case_bundle_for_organisation
from outreach_app.services.versions import (
    AUTHOR_NAME_KEY,
    Unreadable,
    counts_in_merge,
    decrypt_version,
    new_version,
    stamp_of,
    write_entry,
)
from outreach_app.storage import StateKey
from outreach_app.storage.tables import KeyGrantRow, LocalVersion, PushRejection
from shared.clock import Hlc
from shared.crypto import JsonValue
from shared.kinds import (
    CASE_VIEW,
    CONSENT,
    CONTACT,
    ENTRY_FIELD,
    PERSON,
    PLAN_ACTION,
    FieldSpec,
    Tier,
    entry_problems,
    validate_value,
)
from shared.merge import FieldState, field_state
from shared.protocol import Role, case_key_id

__all__ = [
    "AUTHOR_NAME_KEY",
    "Author",
    "CaseloadService",
    "ConflictView",
    "ContactEntry",
    "FieldValue",
    "FieldView",
    "FollowUp",
    "PersonRecord",
    "PersonSummary",
    "SyncState",
    "UnreadableEntry",
]

A_COLLEAGUE = "a colleague"
SyncState = Literal["pending", "synced", "not_accepted"]


# --- what the screens show ---------------------------------------------------------------------


@dataclass(frozen=True)
class Author:
    user_id: str | None  # None until the server has acknowledged the version
    device_id: str
    name: str  # "You", the author's display name, or "a colleague"
    is_me: bool


@dataclass(frozen=True)
class FieldValue:
    """One version of one field, decrypted."""

    change_id: str
    value: str | None  # None when unreadable
    readable: bool
    author: Author
    written_at_ms: int  # the wall time of its clock stamp
    sync_state: SyncState


@dataclass(frozen=True)
class ConflictView:
    """Two people changed ``field`` from the same starting point; ``later`` currently stands."""

    conflict_id: str
    field: str
    label: str
    safety_critical: bool
    earlier: FieldValue
    later: FieldValue


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    tier: Tier
    safety_critical: bool
    help: str
    value: str | None  # the current value (None when never set or unreadable)
    current: FieldValue | None
    conflicts: tuple[ConflictView, ...]
    history: tuple[FieldValue, ...] = ()  # every version, oldest first (what a subject access shows)


@dataclass(frozen=True)
class FollowUp:
    """The next step, planned while logging a contact: what, by when, and who (default: you)."""

    due_on: str  # YYYY-MM-DD
    action: str = ""
    owner: str = ""


@dataclass(frozen=True)
class ContactEntry:
    record_id: str
    change_id: str
    occurred_at: str
    setting: str
    setting_label: str
    contact_type: str
    contact_type_label: str
    note: str
    basis: str
    basis_label: str
    tier: Tier
    author: Author
    written_at_ms: int
    sync_state: SyncState
    not_accepted_reason: str | None  # why the server refused it (kept, never dropped)
    amends: str | None
    duration_label: str | None = None  # "About an hour"
    need_area_labels: tuple[str, ...] = ()  # the needs talked about or worked on


@dataclass(frozen=True)
class UnreadableEntry:
    change_id: str
    record_id: str
    kind: str
    field: str
    author: Author
    written_at_ms: int
    reason: str


@dataclass(frozen=True)
class PersonRecord:
    case_id: str
    name: str | None
    fields: tuple[FieldView, ...]  # in the order of shared.kinds.PERSON
    contacts: tuple[ContactEntry, ...]  # newest first
    unreadable: tuple[UnreadableEntry, ...]
    open_conflicts: tuple[ConflictView, ...]
    pending: int  # versions of this case waiting in the outbox
    shared_by: str | None = None  # another organisation that shares this person with ours (read only)

    def field(self, name: str) -> FieldView:
        for view in self.fields:
            if view.name == name:
                return view
        raise KeyError(name)


@dataclass(frozen=True)
class PersonSummary:
    case_id: str
    name: str | None  # None when this device cannot read it
    release_at: str | None
    establishment: str | None
    last_contact_at: str | None
    pending: int
    open_conflicts: int
    shared_by: str | None = None  # another organisation that shares this person with ours


# --- the service -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseViewEntry:
    """Someone opened a person's record (for the coordinators' audit trail)."""

    viewer: str
    person: str
    case_id: str
    at_ms: int


# Opening the same person's record again within this time is one visit.
_VIEW_EVERY_MS = 10 * 60 * 1000


class CaseloadService:
    def __init__(self, device: Device) -> None:
        self._device = device
        self._viewed: dict[str, int] = {}

    # --- writing -------------------------------------------------------------------------------

    def add_person(self, values: Mapping[str, str]) -> str:
        """A new person (a new case) from form values; returns the case id. Works offline."""
        cleaned = _clean_person_values(values, require_name=True)
        device = self._device
        keys = device.require_keys()
        identity = device.require_identity()
        org_key = keys.newest_org_key(identity.org_id)
        if org_key is None:
            raise NotReady(
                "This phone cannot add people yet: a coordinator's device has to share the organisation key "
                "with you. Sync again in a little while."
            )
        org_key_id, org_key_material = org_key
        case_id = uuid7(device.now_ms())
        with device.store.write() as session:
            for tier in Tier:
                key_id = case_key_id(case_id, tier, 1)
                bundle = new_case_bundle()
                grant = wrap_case_bundle_for_organisation(
                    uuid7(device.now_ms()), key_id, case_id, bundle, identity.org_id, org_key_id, org_key_material
                )
                device.put_key(session, key_id, bundle)
                session.add(KeyGrantRow.outgoing(grant))
            for name, value in cleaned.items():
                if value == "":
                    continue
                spec = PERSON.fields[name]
                tier = spec.tier or Tier.FULL
                case_keys = keys.case_keys(case_key_id(case_id, tier, 1))
                assert case_keys is not None
                new_version(
                    device,
                    session,
                    case_keys,
                    record_id=case_id,
                    case_id=case_id,
                    kind=PERSON.name,
                    field=name,
                    tier=tier,
                    value=value,
                )
        return case_id

    def update_person(self, case_id: str, field: str, value: str, *, settles: Sequence[str] = ()) -> str | None:
        """A new version of one of the person's details; returns its change id (None if unchanged).

        ``settles`` names open conflicts on this field that this value settles.
        """
        self._require_own_case(case_id)
        cleaned = _clean_person_values({field: value}, require_name=False)
        value = cleaned[field]
        spec = PERSON.fields[field]
        tier = spec.tier or Tier.FULL
        device = self._device
        keys = device.require_keys()
        case_keys = keys.newest_case_keys(case_id, tier)
        if case_keys is None:
            raise NotReady("This phone does not hold the key to change that detail.")
        with device.store.write() as session:
            row = write_field(
                device,
                session,
                case_keys,
                spec=PERSON,
                record_id=case_id,
                case_id=case_id,
                field=field,
                value=value,
                settles=settles,
            )
            return row.change_id if row is not None else None

    def settle_conflict(self, case_id: str, field: str, conflict_id: str, value: str) -> str | None:
        """Settle an open conflict by writing the value that should stand."""
        return self.update_person(case_id, field, value, settles=[conflict_id])

    def log_contact(
        self,
        case_id: str,
        *,
        occurred_at: str | dt.datetime,
        setting: str,
        contact_type: str,
        note: str,
        basis: str,
        tier: Tier | str,
        duration: str = "",
        need_areas: Sequence[str] = (),
        follow_up: FollowUp | None = None,
    ) -> str:
        """Log a contact (append-only: one version, field ``entry``); returns its record id.

        ``follow_up``, when given, is added to the person's plan in the same transaction: the
        contact and its next step are saved together or not at all.
        """
        self._require_own_case(case_id)
        if isinstance(occurred_at, dt.datetime):
            occurred_at = occurred_at.replace(tzinfo=None).isoformat(timespec="minutes")
        entry: dict[str, JsonValue] = {
            "occurred_at": occurred_at,
            "setting": setting,
            "contact_type": contact_type,
            "note": note.strip(),
            "basis": basis,
        }
        if duration:
            entry["duration"] = duration
        if need_areas:
            entry["need_areas"] = list(need_areas)
        problems = entry_problems(CONTACT, entry)
        try:
            tier = Tier(tier)
        except ValueError:
            problems["tier"] = "Choose who may read this note."
            tier = Tier.BASIC
        identity = self._device.require_identity()
        if identity.role is Role.PEER_MENTOR and tier is not Tier.BASIC:
            problems["tier"] = "Peer mentors write notes that the whole team, including mentors, can read."
        next_step: dict[str, JsonValue] = {}
        if follow_up is not None:
            if identity.role is Role.PEER_MENTOR:
                problems["follow_up_on"] = "A link worker plans follow-ups; say in the note what should happen next."
            next_step = {
                "action": follow_up.action.strip() or "Follow up",
                "owner": follow_up.owner.strip() or identity.display_name,
                "due_on": follow_up.due_on,
                "follow_up": True,
                "done": False,
            }
            problems.update(
                {
                    f"follow_up_{name}" if name != "due_on" else "follow_up_on": problem
                    for name, problem in entry_problems(PLAN_ACTION, next_step).items()
                }
            )
        if problems:
            raise ValidationFailed(problems)
        device = self._device
        keys = device.require_keys()
        case_keys = keys.newest_case_keys(case_id, tier)
        full_keys = keys.newest_case_keys(case_id, Tier.FULL) if next_step else None
        if case_keys is None or (next_step and full_keys is None):
            raise NotReady("This phone does not hold the key for this person's notes yet. Sync and try again.")
        value: dict[str, JsonValue] = {**entry, AUTHOR_NAME_KEY: identity.display_name}
        with device.store.write() as session:
            record_id = write_entry(
                device, session, case_keys, case_id=case_id, kind=CONTACT.name, tier=tier, value=value
            )
            if next_step and full_keys is not None:
                action_id = uuid7(device.now_ms())
                for name, field_value in next_step.items():
                    write_field(
                        device,
                        session,
                        full_keys,
                        spec=PLAN_ACTION,
                        record_id=action_id,
                        case_id=case_id,
                        field=name,
                        value=field_value,
                    )
        return record_id

    def note_case_viewed(self, case_id: str) -> bool:
        """Record, for the coordinators' audit trail, that this user opened ``case_id``'s record.

        Encrypted under keys derived from the organisation key and belonging to no case, so the server
        learns only that someone opened some record. Once per person per ``_VIEW_EVERY_MS`` on this
        device (opening a record again and again is one visit). Peer mentors, who do not hold the
        organisation key, are not recorded this way. Returns whether a record was written.
        """
        device = self._device
        identity = device.require_identity()
        keys = device.require_keys()
        org_key = keys.newest_org_key(identity.org_id)
        now = device.now_ms()
        last = self._viewed.get(case_id)
        if org_key is None or identity.role is Role.PEER_MENTOR or (last is not None and now - last < _VIEW_EVERY_MS):
            return False
        record_keys = keys.case_keys(org_key[0])
        assert record_keys is not None
        viewed_at = dt.datetime.fromtimestamp(now / 1000).strftime("%Y-%m-%dT%H:%M:%S")
        value: dict[str, JsonValue] = {
            "case_id": case_id,
            "viewed_at": viewed_at,
            AUTHOR_NAME_KEY: identity.display_name,
        }
        with device.store.write() as session:
            new_version(
                device,
                session,
                record_keys,
                record_id=uuid7(now),
                case_id=None,
                kind=CASE_VIEW.name,
                field=ENTRY_FIELD,
                tier=Tier.FULL,
                value=value,
            )
        self._viewed[case_id] = now
        return True

    def case_views(self, limit: int = 200) -> list[CaseViewEntry]:
        """Who opened whose record, newest first, as far as this (coordinator's) device can read."""
        device = self._device
        keys = device.require_keys()
        with device.store.read() as session:
            rows = session.exec(select(LocalVersion).where(LocalVersion.kind == CASE_VIEW.name)).all()
            people = session.exec(select(LocalVersion).where(LocalVersion.kind == PERSON.name)).all()
        names: dict[str, str] = {}
        by_case: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in people:
            if row.case_id is not None and counts_in_merge(row):
                by_case[row.case_id].append(row)
        views: list[CaseViewEntry] = []
        for row in sorted(rows, key=lambda r: r.hlc, reverse=True)[:limit]:
            value = self._value_or_none(keys, row)
            if not isinstance(value, dict) or not isinstance(case_id := value.get("case_id"), str):
                continue
            if case_id not in names:
                state = _states(by_case.get(case_id, [])).get("name")
                names[case_id] = (self._current_text(keys, state, by_case[case_id]) if state else None) or "someone"
            viewer = value.get(AUTHOR_NAME_KEY)
            views.append(
                CaseViewEntry(
                    viewer=viewer if isinstance(viewer, str) and viewer.strip() else A_COLLEAGUE,
                    person=names[case_id],
                    case_id=case_id,
                    at_ms=_wall(row.hlc),
                )
            )
        return views

    # --- reading -------------------------------------------------------------------------------

    def list_people(self, search: str = "") -> list[PersonSummary]:
        """Everyone on the caseload, soonest release first (unknown dates last), then by name."""
        device = self._device
        keys = device.require_keys()
        needle = search.strip().casefold()
        with device.store.read() as session:
            rows = session.exec(
                select(LocalVersion).where(col(LocalVersion.kind).in_([PERSON.name, CONTACT.name]))
            ).all()
        by_case: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if row.case_id is not None:
                by_case[row.case_id].append(row)
        people: list[PersonSummary] = []
        shared_by = self.shared_by()
        for case_id, case_rows in by_case.items():
            person_rows = [row for row in case_rows if row.kind == PERSON.name and counts_in_merge(row)]
            if not person_rows:
                continue
            states = _states(person_rows)
            values = {name: self._current_text(keys, state, person_rows) for name, state in states.items()}
            if needle and not any(
                needle in (values.get(name) or "").casefold() for name in ("name", "other_names", "establishment")
            ):
                continue
            last_contact = max(
                (
                    str(entry.get("occurred_at"))
                    for row in case_rows
                    if row.kind == CONTACT.name and isinstance(entry := self._value_or_none(keys, row), dict)
                ),
                default=None,
            )
            people.append(
                PersonSummary(
                    case_id=case_id,
                    name=values.get("name"),
                    release_at=values.get("release_at") or None,
                    establishment=values.get("establishment") or None,
                    last_contact_at=last_contact,
                    pending=sum(1 for row in case_rows if row.pending),
                    open_conflicts=sum(len(state.conflicts) for state in states.values()),
                    shared_by=shared_by.get(case_id),
                )
            )
        people.sort(key=lambda p: (p.release_at is None, p.release_at or "", (p.name or "").casefold(), p.case_id))
        return people

    def person_record(self, case_id: str) -> PersonRecord:
        """Everything this device holds about one person, merged."""
        device = self._device
        keys = device.require_keys()
        identity = device.require_identity()
        with device.store.read() as session:
            rows = session.exec(select(LocalVersion).where(LocalVersion.case_id == case_id)).all()
            rejected_ids = [row.change_id for row in rows if not row.pending and not row.acknowledged]
            reasons = {
                rejection.item_id: rejection.detail or rejection.reason
                for rejection in session.exec(
                    select(PushRejection).where(col(PushRejection.item_id).in_(rejected_ids))
                ).all()
            }
        if not rows:
            raise NotReady("This person is not on this phone.")
        by_id = {row.change_id: row for row in rows}
        unreadable: list[UnreadableEntry] = []
        names = self._known_names(keys, identity, rows)

        def author(row: LocalVersion) -> Author:
            is_me = row.author_device_id == identity.device_id or row.author_user_id == identity.user_id
            name = "You" if is_me else names.get(row.author_user_id or "", A_COLLEAGUE)
            return Author(row.author_user_id, row.author_device_id, name, is_me)

        def field_value(row: LocalVersion) -> FieldValue:
            text: str | None = None
            try:
                value = decrypt_version(device, keys, row)
                spec = PERSON.fields.get(row.field)
                if spec is None or validate_value(spec, value) is not None:
                    raise Unreadable("Its content is not valid for this field.")
                text = str(value)
            except Unreadable as error:
                unreadable.append(_unreadable(row, author(row), error.reason))
            return FieldValue(row.change_id, text, text is not None, author(row), _wall(row.hlc), _sync_state(row))

        person_rows = [row for row in rows if row.kind == PERSON.name and counts_in_merge(row)]
        states = _states(person_rows)
        fields: list[FieldView] = []
        conflicts: list[ConflictView] = []
        for name, spec in PERSON.fields.items():
            state = states.get(name)
            current = field_value(by_id[state.current.change_id]) if state else None
            views = tuple(
                ConflictView(
                    conflict_id=conflict.conflict_id,
                    field=name,
                    label=spec.label,
                    safety_critical=spec.safety_critical,
                    earlier=field_value(by_id[conflict.earlier]),
                    later=field_value(by_id[conflict.later]),
                )
                for conflict in (state.conflicts if state else ())
            )
            conflicts.extend(views)
            fields.append(
                FieldView(
                    name=name,
                    label=spec.label,
                    tier=spec.tier or Tier.FULL,
                    safety_critical=spec.safety_critical,
                    help=spec.help,
                    value=current.value if current else None,
                    current=current,
                    conflicts=views,
                    history=tuple(
                        field_value(row)
                        for row in sorted(
                            (row for row in person_rows if row.field == name), key=lambda row: stamp_of(row).order_key
                        )
                    ),
                )
            )

        contacts: list[ContactEntry] = []
        for row in rows:
            if row.kind != CONTACT.name:
                # Consents: see SharingService; the day's work: see CaseworkService.
                if row.kind not in (PERSON.name, CONSENT.name) and row.kind not in CASEWORK_KINDS:
                    unreadable.append(_unreadable(row, author(row), "This app does not know this kind of record."))
                continue
            try:
                entry = _valid_entry(decrypt_version(device, keys, row))
            except Unreadable as error:
                unreadable.append(_unreadable(row, author(row), error.reason))
                continue
            contacts.append(
                ContactEntry(
                    record_id=row.record_id,
                    change_id=row.change_id,
                    occurred_at=str(entry["occurred_at"]),
                    setting=str(entry["setting"]),
                    setting_label=CONTACT.fields["setting"].choices[str(entry["setting"])],
                    contact_type=str(entry["contact_type"]),
                    contact_type_label=CONTACT.fields["contact_type"].choices[str(entry["contact_type"])],
                    note=str(entry["note"]),
                    basis=str(entry["basis"]),
                    basis_label=CONTACT.fields["basis"].choices[str(entry["basis"])],
                    tier=Tier(row.tier),
                    author=author(row),
                    written_at_ms=_wall(row.hlc),
                    sync_state=_sync_state(row),
                    not_accepted_reason=reasons.get(row.change_id),
                    amends=row.amends,
                    duration_label=CONTACT.fields["duration"].choices.get(str(entry.get("duration"))),
                    need_area_labels=tuple(
                        CONTACT.fields["need_areas"].choices[area] for area in _listed(entry.get("need_areas"))
                    ),
                )
            )
        contacts.sort(key=lambda c: (c.occurred_at, c.written_at_ms, c.change_id), reverse=True)
        unique = {entry.change_id: entry for entry in unreadable}
        ordered = sorted(unique.values(), key=lambda u: u.written_at_ms, reverse=True)
        name_view = next(view for view in fields if view.name == "name")
        return PersonRecord(
            case_id=case_id,
            name=name_view.value,
            fields=tuple(fields),
            contacts=tuple(contacts),
            unreadable=tuple(ordered),
            open_conflicts=tuple(conflicts),
            pending=sum(1 for row in rows if row.pending),
            shared_by=self.shared_by().get(case_id),
        )

    # --- helpers -------------------------------------------------------------------------------

    def shared_by(self) -> dict[str, str]:
        """case id -> the organisation that shares this person with ours (as last synced)."""
        raw = self._device.store.state().get(StateKey.SHARED_WITH_US)
        items = json.loads(raw) if raw else []
        return {str(item["case_id"]): str(item["owner_org_name"]) for item in items if isinstance(item, dict)}

    def _require_own_case(self, case_id: str) -> None:
        owner = self.shared_by().get(case_id)
        if owner is not None:
            raise NotReady(f"{owner} shares this person's record with you to read: only {owner} can add to it.")

    def _value_or_none(self, keys: KeyChain, row: LocalVersion) -> object:
        try:
            return decrypt_version(self._device, keys, row)
        except Unreadable:
            return None

    def _current_text(self, keys: KeyChain, state: FieldState, rows: Sequence[LocalVersion]) -> str | None:
        row = next(row for row in rows if row.change_id == state.current.change_id)
        value = self._value_or_none(keys, row)
        return value if isinstance(value, str) else None

    def _known_names(self, keys: KeyChain, identity: Identity, rows: Sequence[LocalVersion]) -> dict[str, str]:
        """Colleagues' names as their own contact entries give them (user id -> name)."""
        names: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: r.hlc):
            if row.kind != CONTACT.name or row.author_user_id is None:
                continue
            value = self._value_or_none(keys, row)
            if isinstance(value, dict) and isinstance(name := value.get(AUTHOR_NAME_KEY), str) and name.strip():
                names[row.author_user_id] = name.strip()[:80]
        names[identity.user_id] = identity.display_name
        return names


def _clean_person_values(values: Mapping[str, str], *, require_name: bool) -> dict[str, str]:
    problems: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for name, raw in values.items():
        spec = PERSON.fields.get(name)
        if spec is None:
            problems[name] = "This detail cannot be recorded here."
            continue
        value = _normalise(spec, raw)
        problem = None if (value == "" and not spec.required) else validate_value(spec, value)
        if problem is not None:
            problems[name] = problem
        cleaned[name] = value
    if require_name and not cleaned.get("name"):
        problems["name"] = "Name is needed."
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def _normalise(spec: FieldSpec, raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raw = str(raw)
    return raw.strip() if spec.value_type.value not in ("long_text",) else raw.strip("\n ")


def _states(rows: Sequence[LocalVersion]) -> dict[str, FieldState]:
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.field].append(row)
    return {name: field_state([stamp_of(row) for row in group]) for name, group in grouped.items()}


def _sync_state(row: LocalVersion) -> SyncState:
    if row.pending:
        return "pending"
    return "synced" if row.acknowledged else "not_accepted"


def _wall(hlc: str) -> int:
    return Hlc.parse(hlc).wall_ms


def _unreadable(row: LocalVersion, author: Author, reason: str) -> UnreadableEntry:
    return UnreadableEntry(row.change_id, row.record_id, row.kind, row.field, author, _wall(row.hlc), reason)


def _valid_entry(value: object) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        raise Unreadable("Its content is not a contact note.")
    for name, spec in CONTACT.fields.items():
        if validate_value(spec, value.get(name)) is not None:
            raise Unreadable("Its content is not a valid contact note.")
    return {name: value[name] for name in CONTACT.fields if name in value}


def _listed(value: JsonValue | None) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
