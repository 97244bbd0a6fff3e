"""Each readable person's facts, worked out once from the decrypted record and kept in memory.

The outcomes report and the Desk's caseload dashboard count from the same facts: when a person's
order or licence ends, where they live, their work and training, gate outcomes, contacts, need
ratings, referrals and whether they work with us (``shared.outcomes.PersonFacts``), with their current
details and open plan actions. Working them out means decrypting and checking every one of those
versions (for 500 people and 20,000 contacts, most of a second on a phone), so ``caseload_facts`` keeps
the result on the device until the store commits another write, and drops it with the rest of the
plaintext when the phone locks (``Device.forget_plaintext``).

A value this phone cannot read or trust is left out, never guessed: a person whose details cannot be
read here is not among the facts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter

from outreach_app.services.device import Device
from outreach_app.services.keys import KeyChain, decrypt_summary, encrypt_summary
from outreach_app.services.rows import read_versions
from outreach_app.services.versions import Unreadable, author_name, counts_in_merge, decrypt_version, stamp_of
from outreach_app.storage import summaries
from outreach_app.storage.tables import CaseSummary, LocalVersion
from shared.clock import Hlc
from shared.crypto import JsonValue
from shared.errors import CryptoError
from shared.kinds import (
    ACCOMMODATION,
    CASE_VIEW,
    CONTACT,
    EMPLOYMENT,
    GATE_OUTCOME,
    LEAD_HANDOVER,
    NEED_RATING,
    PERSON,
    PLAN_ACTION,
    REFERRAL,
    FieldSpec,
    KindSpec,
    kind_spec,
    validate_value,
)
from shared.merge import field_state
from shared.outcomes import (
    AccommodationEntry,
    ContactFact,
    EmploymentEntry,
    GateEntry,
    PersonFacts,
    RatingFact,
    ReferralFact,
)
from shared.protocol import parse_case_key_id
from shared.resettlement import AccommodationType, EmploymentStatus, Engagement, EteStage, Rating, Release

__all__ = ["CaseFacts", "CaseloadFacts", "caseload_facts", "current_values", "person_facts"]

# What the report counts, and what the dashboard needs besides: open plan actions, and the entries
# that carry their author's name.
_KINDS = (PERSON, CONTACT, ACCOMMODATION, EMPLOYMENT, GATE_OUTCOME, NEED_RATING, REFERRAL, PLAN_ACTION)
_NAMED_KINDS = (CONTACT.name, LEAD_HANDOVER.name, CASE_VIEW.name)
_ENTRY_KINDS: Mapping[str, KindSpec] = {
    spec.name: spec for spec in (CONTACT, ACCOMMODATION, EMPLOYMENT, GATE_OUTCOME, NEED_RATING)
}
# The fields each kind's entries are counted by: an entry whose field is not valid is left out.
_COUNTED_FIELDS: Mapping[str, tuple[FieldSpec, ...]] = {
    name: tuple(
        field_spec
        for field_name, field_spec in spec.fields.items()
        if name != CONTACT.name or field_name in ("occurred_at", "setting", "contact_type", "need_areas")
    )
    for name, spec in _ENTRY_KINDS.items()
}


def person_facts(
    device: Device,
    keys: KeyChain,
    case_id: str,
    rows: Sequence[LocalVersion],
    person: Mapping[str, JsonValue] | None = None,
) -> PersonFacts | None:
    """One person's facts from the versions of their case (``person``: their details, when the
    caller has read them already); None when this phone cannot read who they are."""
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.kind].append(row)
    if person is None:
        person = current_values(device, keys, grouped[PERSON.name])
    if not isinstance(person.get("name"), str):
        return None  # not a person this phone can read
    entries: dict[str, list[tuple[int, dict[str, JsonValue]]]] = defaultdict(list)
    for kind, counted in _COUNTED_FIELDS.items():
        for row in grouped[kind]:
            value = _value(device, keys, row)
            if isinstance(value, dict) and all(
                validate_value(field_spec, value.get(field_spec.name)) is None for field_spec in counted
            ):
                # Contacts are counted by their day; the others need the order they were written in.
                entries[kind].append((0 if kind == CONTACT.name else Hlc.parse(row.hlc).wall_ms, value))
    referrals: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in grouped[REFERRAL.name]:
        referrals[row.record_id].append(row)
    release = Release.parse(_text(person.get("release_at")))
    engagement = _text(person.get("engagement"))
    return PersonFacts(
        case_id=case_id,
        release_on=release.on if release else None,
        supervision=_text(person.get("supervision")),
        supervision_ends_on=_date(person.get("supervision_ends_on")),
        engagement=Engagement(engagement) if engagement else None,
        engagement_on=_date(person.get("engagement_on")),
        accommodation=tuple(
            AccommodationEntry(
                AccommodationType(str(entry["accommodation_type"])),
                entry["suitable"] is True,
                _day(entry["from_on"]),
                recorded,
            )
            for recorded, entry in entries[ACCOMMODATION.name]
        ),
        employment=tuple(
            EmploymentEntry(
                EmploymentStatus(str(entry["status"])),
                _day(entry["from_on"]),
                EteStage(str(entry["ete_stage"])) if entry.get("ete_stage") else None,
                recorded,
            )
            for recorded, entry in entries[EMPLOYMENT.name]
        ),
        gate_outcomes=tuple(
            GateEntry(
                entry["met"] is True,
                _flag(entry.get("housed_on_release_day")),
                _flag(entry.get("reached_planned_address")),
                recorded,
            )
            for recorded, entry in entries[GATE_OUTCOME.name]
        ),
        contacts=tuple(
            ContactFact(
                dt.datetime.fromisoformat(str(entry["occurred_at"])).date(),
                str(entry["setting"]),
                str(entry["contact_type"]),
                _areas(entry.get("need_areas")),
            )
            for _, entry in entries[CONTACT.name]
        ),
        ratings=tuple(
            RatingFact(str(entry["need_area"]), Rating(str(entry["rating"])), _day(entry["rated_on"]), recorded)
            for recorded, entry in entries[NEED_RATING.name]
        ),
        referrals=tuple(
            referral
            for record_rows in referrals.values()
            if (referral := _referral(current_values(device, keys, record_rows))) is not None
        ),
    )


def _referral(values: Mapping[str, JsonValue]) -> ReferralFact | None:
    sent_on = _date(values.get("sent_on"))
    service, status = _text(values.get("service")), _text(values.get("status"))
    if sent_on is None or service is None or status is None:
        return None  # not all of it is readable here
    return ReferralFact(service, sent_on, status, _date(values.get("status_on")))


def current_values(device: Device, keys: KeyChain, rows: Sequence[LocalVersion]) -> dict[str, JsonValue]:
    """The current value of each field of one mutable record, where this device can read and trust it."""
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.field].append(row)
    values: dict[str, JsonValue] = {}
    for name, group in grouped.items():
        state = field_state([stamp_of(row) for row in group])
        current = next(row for row in group if row.change_id == state.current.change_id)
        spec = kind_spec(current.kind)
        field_spec = spec.fields.get(name) if spec is not None else None
        value = _value(device, keys, current)
        if field_spec is not None and value not in (None, "") and validate_value(field_spec, value) is None:
            values[name] = value
    return values


def _value(device: Device, keys: KeyChain, row: LocalVersion) -> JsonValue:
    try:
        return decrypt_version(device, keys, row)
    except Unreadable:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _day(value: JsonValue) -> dt.date:
    return dt.date.fromisoformat(str(value))


def _areas(value: object) -> tuple[str, ...]:
    return tuple(area for area in value if isinstance(area, str)) if isinstance(value, list) else ()


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """One readable person: their facts, the details the Desk shows, who added them, their plan actions."""

    facts: PersonFacts
    name: str
    lead_professional: str | None
    release_at: str | None
    added_by_user_id: str | None  # None until the server has acknowledged their first details
    added_by_device_id: str
    plan_actions: tuple[tuple[dt.date, bool], ...]  # (due on, done) of each with a readable due date

    @property
    def case_id(self) -> str:
        return self.facts.case_id


@dataclass(frozen=True, slots=True)
class CaseloadFacts:
    people: tuple[CaseFacts, ...]  # by case id
    author_names: Mapping[str, str]  # user id -> the name their latest own entry gives
    worked_out: int = 0  # how many cases were worked out from their versions (the rest from summaries)
    not_readable: int = 0  # cases on the phone whose person this phone cannot read: not counted


_CACHE_KEY = "caseload_facts"
# A case's summary: its facts, or None when this phone cannot read who the person is.
_SUMMARY: TypeAdapter[CaseFacts | None] = TypeAdapter(CaseFacts | None)


def caseload_facts(device: Device) -> CaseloadFacts:
    """Every readable person's facts on this phone.

    Kept in memory until the store commits a write; each case is worked out from its versions only
    when it changed since its summary on the device was made (or the keys held for it did).
    """
    generation = device.store.generation  # read first: a write during the reading makes it stale
    cached = device.derived.get(_CACHE_KEY)
    if cached is not None and cached[0] == generation and isinstance(cached[1], CaseloadFacts):
        return cached[1]
    keys = device.require_keys()
    held = _keys_by_case(keys)
    known: dict[str, CaseFacts | None] = {}
    with device.store.read() as session:  # one snapshot: the counts match the versions read
        changes = summaries.case_changes(session)
        for case_id, summary in summaries.case_summaries(session).items():
            if summary.changes == changes.get(case_id) and summary.keys == held.get(case_id, _NO_KEYS):
                opened, facts = _open_summary(keys, summary)
                if opened:
                    known[case_id] = facts
        stale = set(changes) - set(known)
        rows = read_versions(session, [spec.name for spec in _KINDS], stale)
        named = summaries.latest_by_author(session, _NAMED_KINDS)
    by_case: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        if row.case_id is not None and counts_in_merge(row):
            by_case[row.case_id].append(row)
    fresh = []
    for case_id in sorted(stale):
        known[case_id] = worked_out = _case_facts(device, keys, case_id, by_case.get(case_id, []))
        binding = _binding(case_id, changes[case_id], held.get(case_id, _NO_KEYS))
        nonce, ciphertext = encrypt_summary(keys.device_key, binding, _SUMMARY.dump_json(worked_out))
        fresh.append(
            CaseSummary(
                case_id=case_id,
                changes=changes[case_id],
                keys=held.get(case_id, _NO_KEYS),
                nonce=nonce,
                ciphertext=ciphertext,
            )
        )
    if fresh:
        with device.store.write_derived() as session:
            summaries.keep_case_summaries(session, fresh)
    people = tuple(facts for _, facts in sorted(known.items()) if facts is not None)
    result = CaseloadFacts(
        people,
        _author_names(device, keys, named),
        worked_out=len(stale),
        not_readable=len(known) - len(people),
    )
    device.derived[_CACHE_KEY] = (generation, result)
    return result


_NO_KEYS = "none"


def _keys_by_case(keys: KeyChain) -> dict[str, str]:
    """case id -> a digest of the ids of the case's keys this device holds."""
    ids: dict[str, list[str]] = defaultdict(list)
    for key_id in keys.keys:
        parsed = parse_case_key_id(key_id)
        if parsed is not None:
            ids[parsed[0]].append(key_id)
    return {case_id: hashlib.sha256("\n".join(sorted(held)).encode()).hexdigest()[:32] for case_id, held in ids.items()}


def _binding(case_id: str, changes: int, keys: str) -> str:
    return f"{case_id}|{changes}|{keys}"


def _open_summary(keys: KeyChain, summary: CaseSummary) -> tuple[bool, CaseFacts | None]:
    """(whether it opened, its facts): one made under another device key does not open."""
    try:
        plaintext = decrypt_summary(
            keys.device_key, _binding(summary.case_id, summary.changes, summary.keys), summary.nonce, summary.ciphertext
        )
        return True, _SUMMARY.validate_json(plaintext)
    except (CryptoError, ValueError):
        return False, None


def _case_facts(device: Device, keys: KeyChain, case_id: str, rows: Sequence[LocalVersion]) -> CaseFacts | None:
    person_rows = [row for row in rows if row.kind == PERSON.name]
    person = current_values(device, keys, person_rows)
    facts = person_facts(device, keys, case_id, rows, person)
    if facts is None or not person_rows:
        return None
    first = min(person_rows, key=lambda row: (row.hlc, row.change_id))
    return CaseFacts(
        facts=facts,
        name=str(person["name"]),
        lead_professional=_text(person.get("lead_professional")),
        release_at=_text(person.get("release_at")),
        added_by_user_id=first.author_user_id,
        added_by_device_id=first.author_device_id,
        plan_actions=_plan_actions(device, keys, rows),
    )


def _plan_actions(device: Device, keys: KeyChain, rows: Sequence[LocalVersion]) -> tuple[tuple[dt.date, bool], ...]:
    actions: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        if row.kind == PLAN_ACTION.name and row.field in ("due_on", "done"):
            actions[row.record_id].append(row)
    found = []
    for record_rows in actions.values():
        values = current_values(device, keys, record_rows)
        due_on = _date(values.get("due_on"))
        if due_on is not None:
            found.append((due_on, values.get("done") is True))
    return tuple(found)


def _author_names(device: Device, keys: KeyChain, latest: Sequence[LocalVersion]) -> dict[str, str]:
    """user id -> the name team members give in their latest own entry."""
    names: dict[str, str] = {}
    for row in latest:
        if row.author_user_id is not None and (name := author_name(device, keys, row)) is not None:
            names[row.author_user_id] = name
    return names
