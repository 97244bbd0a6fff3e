"""``DirectoryService``: the service directory, the organisation's list of local provision (housing
options, hostels, DIP, GPs, ...), kept current by everyone who uses it.

An entry belongs to the organisation, not to a person: ``case_id`` is None, and its fields are
encrypted under keys derived from the organisation key (as the record views of the audit trail
are), so every full member (link workers, coordinators) reads it and the server cannot. Peer mentors
never hold the organisation key, and the server never sends them the directory: their phones have
none, and ``unavailable_reason`` says so in plain words.

Entries are mutable records merged field by field (``write_field``, as a person's details): two
members who change the same field from the same starting point see a conflict, on both phones,
until someone settles it. Everything works offline; writes wait in the outbox and colleagues'
entries arrive with the normal pull.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import select

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.ids import uuid7
from outreach_app.services.casework import write_field
from outreach_app.services.device import Device
from outreach_app.services.keys import CaseKeys, KeyChain
from outreach_app.services.records import (
    A_COLLEAGUE,
    Author,
    ConflictView,
    FieldValue,
    SyncState,
)
from outreach_app.services.versions import Unreadable, colleague_names, counts_in_merge, decrypt_version, stamp_of
from outreach_app.storage.tables import LocalVersion
from shared.clock import Hlc
from shared.crypto import JsonValue
from shared.kinds import CONTACT, DIRECTORY_ENTRY, REFERRAL_SERVICES, validate_value
from shared.merge import FieldState, field_state
from shared.protocol import Role

__all__ = ["DIRECTORY_FIELDS", "DirectoryEntry", "DirectoryService"]

DIRECTORY_FIELDS = tuple(DIRECTORY_ENTRY.fields)
# What a search looks in, besides the kind of service's name.
_SEARCHED = ("name", "area", "address", "phone", "opening_hours", "notes")

MENTOR_MESSAGE = (
    "The service directory is kept by link workers and coordinators. Peer mentors' phones do not hold "
    "it: ask your link worker for a service's details."
)
NO_KEY_MESSAGE = (
    "The service directory opens once a coordinator has given this account access. It happens when a "
    "coordinator's phone next syncs; then press Sync now."
)


@dataclass(frozen=True)
class DirectoryEntry:
    record_id: str
    name: str
    service: str
    service_label: str  # "Housing options"
    values: Mapping[str, str]  # the current value of every field this phone can read
    conflicts: tuple[ConflictView, ...]  # fields two people changed differently, still to settle
    pending: int  # versions of this entry waiting in the outbox
    updated_at_ms: int  # when the latest change to it was written

    @property
    def closed(self) -> bool:
        """No longer running: kept, but not offered for a referral or listed unless asked for."""
        return self.values.get("status") == "closed"

    def value(self, name: str) -> str | None:
        return self.values.get(name) or None


class DirectoryService:
    def __init__(self, device: Device) -> None:
        self._device = device

    # --- who has it -----------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        """Why this phone shows no directory (a peer mentor; no organisation key yet), or None."""
        identity = self._device.require_identity()
        if identity.role is Role.PEER_MENTOR:
            return MENTOR_MESSAGE
        if self._device.require_keys().newest_org_key(identity.org_id) is None:
            return NO_KEY_MESSAGE
        return None

    def _require_available(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise NotReady(reason)

    def _writing_keys(self) -> CaseKeys:
        self._require_available()
        identity = self._device.require_identity()
        keys = self._device.require_keys()
        org_key = keys.newest_org_key(identity.org_id)
        assert org_key is not None  # checked by _require_available
        record_keys = keys.case_keys(org_key[0])
        assert record_keys is not None
        return record_keys

    # --- writing --------------------------------------------------------------------------------

    def add_entry(self, values: Mapping[str, object]) -> str:
        """A new entry from form values (name and kind of service needed); returns its id. Offline."""
        cleaned = _clean(values, partial=False)
        record_keys = self._writing_keys()
        record_id = uuid7(self._device.now_ms())
        self._write(record_keys, record_id, {name: value for name, value in cleaned.items() if value != ""})
        return record_id

    def update_entry(
        self, record_id: str, values: Mapping[str, object], *, settles: Mapping[str, Sequence[str]] | None = None
    ) -> int:
        """Write the fields that changed (an emptied field is cleared); returns how many were written.

        ``settles`` maps a field to open conflicts on it that its new value settles.
        """
        cleaned = _clean(values, partial=True)
        record_keys = self._writing_keys()
        with self._device.store.read() as session:
            known = session.exec(
                select(LocalVersion.change_id).where(
                    LocalVersion.record_id == record_id, LocalVersion.kind == DIRECTORY_ENTRY.name
                )
            ).first()
        if known is None:
            raise NotReady("That service is not in the directory on this phone.")
        return self._write(record_keys, record_id, cleaned, settles or {})

    def settle_conflict(self, record_id: str, field: str, conflict_id: str, value: str) -> int:
        """Settle an open conflict on one field by writing the value that should stand."""
        return self.update_entry(record_id, {field: value}, settles={field: [conflict_id]})

    def _write(
        self,
        record_keys: CaseKeys,
        record_id: str,
        values: Mapping[str, JsonValue],
        settles: Mapping[str, Sequence[str]] | None = None,
    ) -> int:
        device = self._device
        written = 0
        with device.store.write() as session:
            for name, value in values.items():
                row = write_field(
                    device,
                    session,
                    record_keys,
                    spec=DIRECTORY_ENTRY,
                    record_id=record_id,
                    case_id=None,
                    field=name,
                    value=value,
                    settles=(settles or {}).get(name, ()),
                )
                written += row is not None
        return written

    # --- reading --------------------------------------------------------------------------------

    def entries(
        self, search: str = "", service: str | None = None, *, include_closed: bool = False
    ) -> list[DirectoryEntry]:
        """The directory by name; ``search`` looks in every field, ``service`` keeps one kind;
        services no longer running only with ``include_closed``."""
        self._require_available()
        needle = search.strip().casefold()
        found = []
        for entry in self._all():
            if service and entry.service != service:
                continue
            if entry.closed and not include_closed:
                continue
            if needle:
                haystack = [entry.service_label, *(entry.values.get(name, "") for name in _SEARCHED)]
                if not any(needle in text.casefold() for text in haystack):
                    continue
            found.append(entry)
        found.sort(key=lambda entry: (entry.name.casefold(), entry.record_id))
        return found

    def entry(self, record_id: str) -> DirectoryEntry:
        """One entry with all its details and open conflicts."""
        self._require_available()
        for entry in self._all(record_id):
            return entry
        raise NotReady("That service is not in the directory on this phone, or not readable here yet.")

    def _all(self, record_id: str | None = None) -> list[DirectoryEntry]:
        device = self._device
        keys = device.require_keys()
        identity = device.require_identity()
        statement = select(LocalVersion).where(LocalVersion.kind == DIRECTORY_ENTRY.name)
        if record_id is not None:
            statement = statement.where(LocalVersion.record_id == record_id)
        with device.store.read() as session:
            rows = [row for row in session.exec(statement).all() if counts_in_merge(row) and row.case_id is None]
        by_record: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            by_record[row.record_id].append(row)
        names: dict[str, str] | None = None
        entries = []
        for entry_id, entry_rows in by_record.items():
            by_id = {row.change_id: row for row in entry_rows}
            states = _states(entry_rows)
            values: dict[str, str] = {}
            for name, state in states.items():
                value = self._value(keys, by_id[state.current.change_id])
                if value is not None:
                    values[name] = value
            name, service = values.get("name"), values.get("service")
            if not name or not service:
                continue  # not (yet) readable or complete on this phone
            conflicts: list[ConflictView] = []
            for field, state in states.items():
                if not state.conflicts:
                    continue
                if names is None:
                    names = self._known_names({row.author_user_id for row in rows if row.author_user_id})
                names[identity.user_id] = identity.display_name
                spec = DIRECTORY_ENTRY.fields[field]
                conflicts += [
                    ConflictView(
                        conflict_id=conflict.conflict_id,
                        field=field,
                        label=spec.label,
                        safety_critical=spec.safety_critical,
                        earlier=self._field_value(keys, by_id[conflict.earlier], names),
                        later=self._field_value(keys, by_id[conflict.later], names),
                    )
                    for conflict in state.conflicts
                ]
            entries.append(
                DirectoryEntry(
                    record_id=entry_id,
                    name=name,
                    service=service,
                    service_label=REFERRAL_SERVICES.get(service, service),
                    values=values,
                    conflicts=tuple(conflicts),
                    pending=sum(1 for row in entry_rows if row.pending),
                    updated_at_ms=max(Hlc.parse(row.hlc).wall_ms for row in entry_rows),
                )
            )
        return entries

    def _value(self, keys: KeyChain, row: LocalVersion) -> str | None:
        """A field's value if this phone can read it and it is valid for the field, else None."""
        spec = DIRECTORY_ENTRY.fields.get(row.field)
        if spec is None:
            return None
        try:
            value = decrypt_version(self._device, keys, row)
        except Unreadable:
            return None
        if not isinstance(value, str) or validate_value(spec, value) is not None:
            return None
        return value

    def _field_value(self, keys: KeyChain, row: LocalVersion, names: Mapping[str, str]) -> FieldValue:
        identity = self._device.require_identity()
        is_me = row.author_device_id == identity.device_id or row.author_user_id == identity.user_id
        name = "You" if is_me else names.get(row.author_user_id or "", A_COLLEAGUE)
        value = self._value(keys, row)
        sync_state: SyncState = "pending" if row.pending else "synced" if row.acknowledged else "not_accepted"
        return FieldValue(
            change_id=row.change_id,
            value=value,
            readable=value is not None,
            author=Author(row.author_user_id, row.author_device_id, name, is_me),
            written_at_ms=Hlc.parse(row.hlc).wall_ms,
            sync_state=sync_state,
        )

    def _known_names(self, user_ids: set[str]) -> dict[str, str]:
        """Colleagues' names as their own contact notes give them (only asked for a conflict: a
        directory field carries no author name)."""
        return colleague_names(self._device, user_ids, [CONTACT.name])


def _states(rows: Sequence[LocalVersion]) -> dict[str, FieldState]:
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        if row.field in DIRECTORY_ENTRY.fields:
            grouped[row.field].append(row)
    return {name: field_state([stamp_of(row) for row in group]) for name, group in grouped.items()}


def _clean(values: Mapping[str, object], *, partial: bool) -> dict[str, JsonValue]:
    """Form values checked against the directory entry's fields, with problems in plain words.
    ``partial`` (an edit) writes only the fields given; the name and kind may not be emptied."""
    problems: dict[str, str] = {}
    cleaned: dict[str, JsonValue] = {}
    for name, raw in values.items():
        spec = DIRECTORY_ENTRY.fields.get(name)
        if spec is None:
            problems[name] = "This cannot be recorded in the service directory."
            continue
        value = "" if raw is None else str(raw).strip()
        if value == "" and spec.required:
            problems[name] = _required_problem(name)
        elif value != "" and (problem := validate_value(spec, value)) is not None:
            problems[name] = "Choose the kind of service from the list." if name == "service" else problem
        cleaned[name] = value
    if not partial:
        for name, spec in DIRECTORY_ENTRY.fields.items():
            if spec.required and cleaned.get(name) in (None, ""):
                problems.setdefault(name, _required_problem(name))
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def _required_problem(name: str) -> str:
    return {
        "name": "Give the name of the service.",
        "service": "Choose the kind of service.",
    }.get(name, f"{DIRECTORY_ENTRY.fields[name].label} is needed.")
