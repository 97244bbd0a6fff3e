"""Record kinds, value validation and the wire protocol document."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared import protocol
from shared.kinds import (
    CONTACT,
    ENTRY_FIELD,
    KINDS,
    PERSON,
    Tier,
    fixed_tier,
    tier_allowed,
    validate_value,
    wire_fields,
)
from shared.protocol_doc import DOC_PATH, render

UUID = "0190a0a0-0000-7000-8000-000000000001"


def test_protocol_document_matches_the_models() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run `make protocol-doc` and commit shared/PROTOCOL.md"


def test_person_fields_keep_risk_and_date_of_birth_out_of_the_mentor_tier() -> None:
    assert PERSON.fields["risk_summary"].tier is Tier.FULL
    assert PERSON.fields["date_of_birth"].tier is Tier.FULL
    assert PERSON.fields["name"].tier is Tier.BASIC
    assert PERSON.fields["release_at"].safety_critical


def test_wire_fields_and_tiers() -> None:
    assert wire_fields(CONTACT) == (ENTRY_FIELD,)
    assert "name" in wire_fields(PERSON)
    assert tier_allowed("contact", ENTRY_FIELD, Tier.BASIC)
    assert tier_allowed("contact", ENTRY_FIELD, Tier.FULL)
    assert not tier_allowed("contact", "note", Tier.FULL)
    assert tier_allowed("person", "risk_summary", Tier.FULL)
    assert not tier_allowed("person", "risk_summary", Tier.BASIC)
    assert not tier_allowed("person", "shoe_size", Tier.BASIC)
    assert not tier_allowed("spaceship", "name", Tier.BASIC)
    assert fixed_tier("person", "name") is Tier.BASIC
    assert fixed_tier("contact", ENTRY_FIELD) is None


@pytest.mark.parametrize(
    ("kind", "field", "value", "problem"),
    [
        ("person", "name", "", "Name is needed."),
        ("person", "release_at", "2026-11-25", None),
        ("person", "release_at", "2026-11-25T09:30", None),
        (
            "person",
            "release_at",
            "next tuesday",
            "Release date and time must be a date like 2026-11-25, with a time if known.",
        ),
        ("person", "date_of_birth", "2026-02-30", "Date of birth must be a date like 2026-11-25."),
        ("contact", "setting", "prison_gate", None),
        ("contact", "setting", "moon", "Where: choose one of the options."),
        ("contact", "occurred_at", "2026-11-25", "Date and time must be a date and time like 2026-11-25T09:30."),
        ("contact", "note", "x" * 8001, "Note is too long (at most 8000 characters)."),
    ],
)
def test_values_are_checked_in_plain_words(kind: str, field: str, value: str, problem: str | None) -> None:
    assert validate_value(KINDS[kind].fields[field], value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["accommodation", "mental_health"], None),
        ([], None),
        (["accommodation", "accommodation"], "Needs you talked about or worked on: each option once."),
        (["moon"], "Needs you talked about or worked on: choose from the options."),
        ("accommodation", "Needs you talked about or worked on: choose from the options."),
        ([3], "Needs you talked about or worked on: choose from the options."),
    ],
)
def test_several_choices_are_a_list_of_known_options_each_once(value: object, problem: str | None) -> None:
    assert validate_value(CONTACT.fields["need_areas"], value) == problem


def test_no_label_calls_anyone_an_offender() -> None:
    words = [spec.label.lower() for kind in KINDS.values() for spec in kind.fields.values()]
    words += [
        label.lower() for kind in KINDS.values() for spec in kind.fields.values() for label in spec.choices.values()
    ]
    assert not [word for word in words if "offender" in word or "drug user" in word]


def change(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "change_id": UUID,
        "record_id": UUID,
        "case_id": UUID,
        "kind": "person",
        "field": "name",
        "tier": "basic",
        "key_id": f"case:{UUID}:basic:v1",
        "hlc": f"{1_800_000_000_000:015d}.000000.{UUID}",
        "author_device_id": UUID,
        "nonce": "A" * 16,
        "ciphertext": "QUJD",
        "tag": "0" * 32,
    }
    body.update(overrides)
    return body


def test_a_well_formed_change_parses() -> None:
    parsed = protocol.ChangeIn.model_validate(change())
    assert parsed.tier is Tier.BASIC


@pytest.mark.parametrize(
    "overrides",
    [
        {"hlc": "yesterday"},
        {"tier": "secret"},
        {"record_id": "not-a-uuid"},
        {"tag": "xyz"},
        {"ciphertext": "not base64!"},
        {"ciphertext": "A" * (protocol.MAX_CIPHERTEXT_CHARS + 1)},
        {"extra": 1},
        {"settles": [UUID] * 51},
    ],
)
def test_malformed_changes_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        protocol.ChangeIn.model_validate(change(**overrides))


def test_case_key_ids_round_trip() -> None:
    key_id = protocol.case_key_id(UUID, Tier.FULL, 3)
    assert protocol.parse_case_key_id(key_id) == (UUID, Tier.FULL, 3)
    assert protocol.parse_case_key_id(protocol.org_key_id(UUID, 1)) is None


def test_push_batches_are_bounded() -> None:
    with pytest.raises(ValidationError):
        protocol.PushRequest.model_validate({"changes": [change()] * (protocol.MAX_PUSH_CHANGES + 1)})


@settings(max_examples=50, deadline=None)
@given(before=st.text(max_size=20), after=st.text(max_size=20))
def test_text_types_not_searched_for_nul_refuse_it_by_their_own_pattern(before: str, after: str) -> None:
    # Fields of these types skip the NUL search (it cost a Python call per field of every version):
    # their patterns must refuse a NUL on their own.
    for text_type in protocol._NUL_FREE_TEXT:
        with pytest.raises(ValidationError):
            TypeAdapter(text_type).validate_python(f"{before}\x00{after}")


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (protocol.ChangeResult, {"change_id": UUID, "status": "rejected", "detail": "x\x00"}),
        (protocol.GrantResult, {"grant_id": UUID, "status": "rejected", "detail": "bad\x00"}),
        (
            protocol.AuditEntry,
            {
                "position": 1,
                "at_ms": 1,
                "action": "pulled",
                "actor_name": None,
                "device_name": None,
                "details": {"k\x00": 1},
            },
        ),
        (
            protocol.MemberAwaitingKey,
            {"user_id": UUID, "display_name": "Sam", "role": "link_worker", "public_key": "a\x00"},
        ),
    ],
)
def test_free_text_anywhere_refuses_nul(model: type[protocol.Wire], values: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        model.model_validate(values)
