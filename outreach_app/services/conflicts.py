"""``ConflictService``: the review list of every open conflict on this phone, and settling one.

A conflict is two people changing the same field of the same record from the same starting point
(``shared.merge``). The list covers every mutable record this phone can read: a person's details,
their release plan, plan actions and referrals, and the service directory. Each item names the
record (whose, and what it is), the field, every value involved with who wrote it and when, and is
listed safety-critical first (release date and time, MAPPA, risk, lead professional: the
coordinator's review list), then oldest first.

Settling writes the chosen value, or a new one, through the record's own write path with
``settles`` naming every open conflict on that field, so the next sync closes it on every device.
Works offline like every other write.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import col, select

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.services.casework import CaseworkService
from outreach_app.services.device import Device
from outreach_app.services.directory import DirectoryService
from outreach_app.services.keys import KeyChain
from outreach_app.services.records import A_COLLEAGUE, Author, CaseloadService, SyncState
from outreach_app.services.versions import (
    Unreadable,
    colleague_names,
    counts_in_merge,
    decrypt_version,
    stamp_of,
)
from outreach_app.storage.tables import LocalVersion
from shared.clock import Hlc
from shared.crypto import JsonValue
from shared.kinds import (
    CASE_VIEW,
    CONTACT,
    DIRECTORY_ENTRY,
    LEAD_HANDOVER,
    PERSON,
    PLAN_ACTION,
    REFERRAL,
    RELEASE_PLAN,
    FieldSpec,
    KindSpec,
    ValueType,
    validate_value,
)
from shared.merge import FieldState, field_state

__all__ = ["CONFLICT_KINDS", "ConflictService", "ConflictValue", "OpenConflict", "value_text"]

# The mutable kinds whose fields can disagree, in the order a record lists them.
CONFLICT_KINDS: Mapping[str, KindSpec] = {
    spec.name: spec for spec in (PERSON, RELEASE_PLAN, PLAN_ACTION, REFERRAL, DIRECTORY_ENTRY)
}
# The current value of a field of a record: (kind, record id, field) -> value, None when unreadable.
_Current = Callable[[str, str, str], JsonValue]
# Entries that carry their author's display name (the protocol has no member directory).
_NAMED_KINDS = (CONTACT.name, LEAD_HANDOVER.name, CASE_VIEW.name)


@dataclass(frozen=True)
class ConflictValue:
    """One of the values two people gave a field."""

    change_id: str
    value: JsonValue  # as stored (what keeping it writes again); None when unreadable
    text: str | None  # in plain words ("Fri 04 Dec 2026, 11:30", "Yes", a choice's label); None: unreadable
    author: Author
    written_at_ms: int
    sync_state: SyncState
    standing: bool  # the value the record shows meanwhile (the later one)


@dataclass(frozen=True)
class OpenConflict:
    """One field of one record that people changed differently, still to settle."""

    key: str  # "kind/record_id/field": names it for the screens and for settling
    kind: str
    record_id: str
    case_id: str | None  # None for the service directory
    person: str | None  # whose record (None for the service directory)
    what: str  # what the record is, in plain words: "Release plan", "Referral to Shelter (Hostel)"
    field: str
    label: str
    safety_critical: bool
    conflict_ids: tuple[str, ...]  # every open conflict on this field (a settling value names them all)
    values: tuple[ConflictValue, ...]  # every value involved, oldest first
    since_ms: int  # when the disagreement arose (the first conflicting value was written)

    @property
    def title(self) -> str:
        """ "Jade Porter · Release date and time", "Service directory · Hostel X · Phone"."""
        if self.kind == PERSON.name:
            return f"{self.person} · {self.label}"
        if self.person is None:
            return f"{self.what} · {self.label}"
        return f"{self.person} · {self.what} · {self.label}"


def value_text(spec: FieldSpec, value: JsonValue) -> str:
    """A stored value in the words a worker reads."""
    if spec.value_type is ValueType.BOOLEAN:
        return "Yes" if value is True else "No"
    if spec.value_type is ValueType.CHOICE:
        return spec.choices.get(str(value), str(value))
    if spec.value_type is ValueType.CHOICES and isinstance(value, list):
        return ", ".join(spec.choices.get(str(item), str(item)) for item in value) or "None"
    text = str(value)
    try:
        if spec.value_type in (ValueType.DATETIME, ValueType.DATE_OR_DATETIME) and "T" in text:
            return dt.datetime.fromisoformat(text).strftime("%a %d %b %Y, %H:%M")
        if spec.value_type in (ValueType.DATE, ValueType.DATE_OR_DATETIME):
            day = dt.date.fromisoformat(text).strftime("%a %d %b %Y")
            return f"{day}, time not confirmed" if spec.name == "release_at" else day
    except ValueError:
        pass
    return text


def typed_value(spec: FieldSpec, typed: str) -> JsonValue:
    """A new value typed on the review list, as the field stores it (a choice by key or label, yes
    or no, a date and time with a space or a T); ``ValidationFailed`` in plain words otherwise."""
    text = typed.strip()
    problem: str | None
    if spec.value_type is ValueType.BOOLEAN:
        answer = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}.get(text.casefold())
        if answer is None:
            raise ValidationFailed({spec.name: f"{spec.label}: type yes or no."})
        return answer
    if spec.value_type is ValueType.CHOICE:
        by_label = {label.casefold(): key for key, label in spec.choices.items()}
        chosen = text if text in spec.choices else by_label.get(text.casefold())
        if chosen is None and text:
            options = ", ".join(spec.choices.values())
            raise ValidationFailed({spec.name: f"{spec.label}: type one of {options}."})
        return chosen or ""
    if spec.value_type in (ValueType.DATETIME, ValueType.DATE_OR_DATETIME) and len(text) == 16 and text[10] == " ":
        text = f"{text[:10]}T{text[11:]}"
    problem = None if text == "" and not spec.required else validate_value(spec, text)
    if problem is not None:
        raise ValidationFailed({spec.name: problem})
    return text


class ConflictService:
    def __init__(
        self,
        device: Device,
        records: CaseloadService,
        casework: CaseworkService,
        directory: DirectoryService,
    ) -> None:
        self._device = device
        self._records = records
        self._casework = casework
        self._directory = directory

    # --- reading --------------------------------------------------------------------------------

    def open_conflicts(self) -> list[OpenConflict]:
        """Every open conflict this phone can show, safety-critical first, then oldest first."""
        device = self._device
        keys = device.require_keys()
        with device.store.read() as session:
            rows = [
                row
                for row in session.exec(
                    select(LocalVersion).where(col(LocalVersion.kind).in_(list(CONFLICT_KINDS)))
                ).all()
                if counts_in_merge(row)
            ]
        by_record: dict[tuple[str, str], list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if row.field in CONFLICT_KINDS[row.kind].fields:
                by_record[(row.kind, row.record_id)].append(row)
        states = {key: _states(record_rows) for key, record_rows in by_record.items()}
        disputed = [
            (kind, record_id, name, state)
            for (kind, record_id), fields in states.items()
            for name, state in fields.items()
            if state.conflicts
        ]
        if not disputed:
            return []
        by_id = {row.change_id: row for row in rows}
        shared_by = self._records.shared_by()
        involved = {
            change_id
            for _, _, _, state in disputed
            for conflict in state.conflicts
            for change_id in (conflict.earlier, conflict.later)
        }
        names = self._known_names(keys, {by_id[change_id].author_user_id or "" for change_id in involved} - {""})

        def current(kind: str, record_id: str, name: str) -> JsonValue:
            state = states.get((kind, record_id), {}).get(name)
            return self._value(keys, by_id[state.current.change_id]) if state else None

        found: list[OpenConflict] = []
        for kind, record_id, name, state in disputed:
            spec = CONFLICT_KINDS[kind]
            sample = by_id[state.current.change_id]
            case_id = sample.case_id
            if case_id is not None and case_id in shared_by:
                continue  # another organisation's record, read only here: its owner settles it
            person: str | None = None
            if kind == DIRECTORY_ENTRY.name:
                service = current(kind, record_id, "name")
                if not isinstance(service, str):
                    continue  # not readable on this phone
                what = f"Service directory · {service}"
            else:
                if case_id is None:
                    continue
                name_value = current(PERSON.name, case_id, "name")
                if not isinstance(name_value, str):
                    continue  # nobody this phone can read
                person = name_value
                what = self._what(kind, record_id, current)
            field_spec = spec.fields[name]
            change_ids = {change_id for conflict in state.conflicts for change_id in (conflict.earlier, conflict.later)}
            change_ids.add(state.current.change_id)
            values = tuple(
                self._conflict_value(
                    keys, by_id[stamp.change_id], field_spec, names, stamp.change_id == state.current.change_id
                )
                for stamp in state.history
                if stamp.change_id in change_ids
            )
            found.append(
                OpenConflict(
                    key=f"{kind}/{record_id}/{name}",
                    kind=kind,
                    record_id=record_id,
                    case_id=case_id,
                    person=person,
                    what=what,
                    field=name,
                    label=field_spec.label,
                    safety_critical=field_spec.safety_critical,
                    conflict_ids=tuple(conflict.conflict_id for conflict in state.conflicts),
                    values=values,
                    since_ms=min(_wall(by_id[conflict.later].hlc) for conflict in state.conflicts),
                )
            )
        found.sort(key=lambda item: (not item.safety_critical, item.since_ms, item.key))
        return found

    def conflict(self, key: str) -> OpenConflict:
        for item in self.open_conflicts():
            if item.key == key:
                return item
        raise ValidationFailed({key: "That disagreement is already settled, here or on another phone."})

    # --- settling -------------------------------------------------------------------------------

    def keep(self, key: str, change_id: str) -> OpenConflict:
        """Settle by keeping one of the values given; returns what was settled."""
        item = self.conflict(key)
        chosen = next((value for value in item.values if value.change_id == change_id), None)
        if chosen is None or chosen.text is None:
            raise NotReady("That value cannot be read on this phone: type the value that should stand instead.")
        self._settle(item, chosen.value)
        return item

    def settle_with(self, key: str, typed: str) -> OpenConflict:
        """Settle by writing a new value typed on the list; returns what was settled."""
        item = self.conflict(key)
        spec = CONFLICT_KINDS[item.kind].fields[item.field]
        if not typed.strip() and spec.value_type is not ValueType.BOOLEAN:
            raise ValidationFailed({item.key: f"Type the new value for “{item.label}” first."})
        try:
            value = typed_value(spec, typed)
        except ValidationFailed as invalid:
            raise ValidationFailed({item.key: invalid.problems[spec.name]}) from None
        self._settle(item, value)
        return item

    def _settle(self, item: OpenConflict, value: JsonValue) -> None:
        try:
            self._write(item, value)
        except ValidationFailed as invalid:
            # Said next to the disagreement on the list (its key names it there).
            raise ValidationFailed({item.key: next(iter(invalid.problems.values()))}) from None

    def _write(self, item: OpenConflict, value: JsonValue) -> None:
        settles = list(item.conflict_ids)
        if item.kind == PERSON.name:
            assert item.case_id is not None
            self._records.update_person(item.case_id, item.field, str(value), settles=settles)
        elif item.kind == DIRECTORY_ENTRY.name:
            self._directory.update_entry(item.record_id, {item.field: value}, settles={item.field: settles})
        else:
            assert item.case_id is not None
            self._casework.settle_field(
                item.case_id, CONFLICT_KINDS[item.kind], item.record_id, item.field, value, settles
            )

    # --- helpers --------------------------------------------------------------------------------

    def _what(self, kind: str, record_id: str, current: _Current) -> str:
        if kind == PERSON.name:
            return "Their details"
        if kind == RELEASE_PLAN.name:
            return "Release plan"
        if kind == PLAN_ACTION.name:
            action = current(kind, record_id, "action")
            return f"Plan action “{action}”" if isinstance(action, str) else "Plan action"
        to_whom, service = current(kind, record_id, "to_whom"), current(kind, record_id, "service")
        if isinstance(to_whom, str) and isinstance(service, str):
            return f"Referral to {to_whom} ({REFERRAL.fields['service'].choices.get(service, service)})"
        return "Referral"

    def _value(self, keys: KeyChain, row: LocalVersion) -> JsonValue:
        spec = CONFLICT_KINDS[row.kind].fields.get(row.field)
        try:
            value = decrypt_version(self._device, keys, row)
        except Unreadable:
            return None
        if spec is None or validate_value(spec, value) is not None:
            return None
        return value

    def _conflict_value(
        self, keys: KeyChain, row: LocalVersion, spec: FieldSpec, names: Mapping[str, str], standing: bool
    ) -> ConflictValue:
        identity = self._device.require_identity()
        is_me = row.author_device_id == identity.device_id or row.author_user_id == identity.user_id
        name = "You" if is_me else names.get(row.author_user_id or "", A_COLLEAGUE)
        value = self._value(keys, row)
        readable = value is not None
        sync_state: SyncState = "pending" if row.pending else "synced" if row.acknowledged else "not_accepted"
        return ConflictValue(
            change_id=row.change_id,
            value=value,
            text=(value_text(spec, value) if value != "" else "(left empty)") if readable else None,
            author=Author(row.author_user_id, row.author_device_id, name, is_me),
            written_at_ms=_wall(row.hlc),
            sync_state=sync_state,
            standing=standing,
        )

    def _known_names(self, keys: KeyChain, user_ids: set[str]) -> dict[str, str]:
        """Colleagues' names as their own entries give them: contact notes, handover steps and, on a
        coordinator's phone, the records they opened."""
        return colleague_names(self._device, user_ids, _NAMED_KINDS)


def _states(rows: Iterable[LocalVersion]) -> dict[str, FieldState]:
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.field].append(row)
    return {name: field_state([stamp_of(row) for row in group]) for name, group in grouped.items()}


def _wall(hlc: str) -> int:
    return Hlc.parse(hlc).wall_ms
