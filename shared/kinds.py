"""Record kinds, their fields, and which tier of key each field is encrypted under.

The server sees kind and field names (never values) and uses this table to refuse a field that
does not exist for a kind or a version written under the wrong tier. Clients use it to build
forms and to validate values before they are encrypted.

Append-only kinds (a contact note, a need rating, a consent) are written once as a single
``entry`` field holding the whole object; a correction is a new record that ``amends`` the old
one. Mutable kinds (the person's details) take one version per field so that two workers can
edit different fields without conflict.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shared.resettlement import (
    NEED_AREAS,
    READINESS_ITEMS,
    AccommodationPlan,
    AccommodationType,
    EmploymentStatus,
    Engagement,
    EteStage,
)

__all__ = [
    "CASE_VIEW",
    "CONSENT",
    "COORDINATORS_ONLY_KINDS",
    "EMPLOYMENT",
    "ENTRY_FIELD",
    "KINDS",
    "FieldSpec",
    "KindSpec",
    "Tier",
    "ValueType",
    "entry_problems",
    "fixed_tier",
    "kind_spec",
    "tier_allowed",
    "validate_value",
    "wire_fields",
]

ENTRY_FIELD = "entry"


class Tier(StrEnum):
    """Which case key a value is encrypted under: mentors hold only ``basic``."""

    BASIC = "basic"
    FULL = "full"


class ValueType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    DATETIME = "datetime"
    DATE_OR_DATETIME = "date_or_datetime"
    CHOICE = "choice"
    CHOICES = "choices"  # several of the choices, as a list of their keys
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class FieldSpec:
    """One thing a worker records. ``tier=None`` means the author picks basic or full."""

    name: str
    label: str
    value_type: ValueType
    tier: Tier | None
    required: bool = False
    max_length: int = 200
    choices: Mapping[str, str] = field(default_factory=dict)
    safety_critical: bool = False
    help: str = ""


@dataclass(frozen=True)
class KindSpec:
    name: str
    label: str
    append_only: bool
    case_scoped: bool
    fields: Mapping[str, FieldSpec]
    # An append-only kind whose entry must always be written under this tier (None: the author picks).
    entry_tier: Tier | None = None


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in specs}


CONTACT_SETTINGS: dict[str, str] = {
    "prison_visit": "Prison (in-reach visit)",
    "prison_gate": "Prison gate",
    "custody_suite": "Police custody suite",
    "court": "Court",
    "street": "Street",
    "home_or_hostel": "Their home or hostel",
    "public_place": "Public place",
    "office": "Drop-in or office",
    "remote": "Phone, letter or text",
    "appointment": "At an appointment (GP, housing options, DIP)",
    "case_conference": "Joint meeting or case conference",
}

CONTACT_TYPES: dict[str, str] = {
    "face_to_face": "Met face to face",
    "phone_call": "Phone call",
    "text_message": "Text message",
    "letter": "Letter",
    "accompanied": "Went with them to an appointment",
    "attempted": "Attempted contact (no answer, not found, not released)",
}

ACCOMMODATION_PLANS: dict[str, str] = {plan.value: plan.label for plan in AccommodationPlan}
ACCOMMODATION_TYPES: dict[str, str] = {place.value: place.label for place in AccommodationType}
EMPLOYMENT_STATUSES: dict[str, str] = {status.value: status.label for status in EmploymentStatus}
ETE_STAGES: dict[str, str] = {stage.value: stage.label for stage in EteStage}
ENGAGEMENT: dict[str, str] = {engagement.value: engagement.label for engagement in Engagement}

CONTACT_DURATIONS: dict[str, str] = {
    "5": "A few minutes",
    "15": "About 15 minutes",
    "30": "About half an hour",
    "60": "About an hour",
    "120": "About two hours",
    "240": "Half a day",
    "480": "Most of the day",
}

NOTE_BASIS: dict[str, str] = {
    "fact": "Fact",
    "opinion": "My opinion or judgement",
}

# The person's justice status, in the words workers use (DOMAIN.md, "The person's record").
RELEASE_TYPES: dict[str, str] = {
    "automatic": "Automatic release",
    "licence": "Release on licence",
    "early_release": "Early release (End of Custody Licence)",
    "from_court_or_remand": "From court or remand",
}
CUSTODY_STATUSES: dict[str, str] = {"remand": "On remand", "sentenced": "Sentenced"}
SUPERVISION: dict[str, str] = {
    "licence": "On licence",
    "community_order": "Community order",
    "suspended_sentence": "Suspended sentence order",
    "non_statutory": "Non-statutory (not under supervision)",
}
MAPPA_LEVELS: dict[str, str] = {"none": "Not MAPPA", "level_1": "Level 1", "level_2": "Level 2", "level_3": "Level 3"}
YES_NO: dict[str, str] = {"yes": "Yes", "no": "No"}

PERSON = KindSpec(
    name="person",
    label="Person",
    append_only=False,
    case_scoped=True,
    fields=_fields(
        FieldSpec("name", "Name", ValueType.TEXT, Tier.BASIC, required=True, max_length=120),
        FieldSpec("other_names", "Other names they use", ValueType.TEXT, Tier.BASIC),
        FieldSpec("date_of_birth", "Date of birth", ValueType.DATE, Tier.FULL),
        FieldSpec("phone", "Phone", ValueType.TEXT, Tier.BASIC, max_length=40),
        FieldSpec("local_connection", "Local connection (borough)", ValueType.TEXT, Tier.BASIC),
        FieldSpec("establishment", "Prison or establishment", ValueType.TEXT, Tier.BASIC),
        FieldSpec(
            "release_at",
            "Release date and time",
            ValueType.DATE_OR_DATETIME,
            Tier.BASIC,
            safety_critical=True,
            help="Leave the time empty if it is not confirmed.",
        ),
        FieldSpec(
            "release_type",
            "Release type",
            ValueType.CHOICE,
            Tier.FULL,
            choices=RELEASE_TYPES,
            help="Early release can bring the date forward at short notice.",
        ),
        FieldSpec("custody_status", "Remand or sentenced", ValueType.CHOICE, Tier.FULL, choices=CUSTODY_STATUSES),
        FieldSpec("sentence_length", "Sentence length", ValueType.TEXT, Tier.FULL, max_length=80),
        FieldSpec("supervision", "Supervision after release", ValueType.CHOICE, Tier.FULL, choices=SUPERVISION),
        FieldSpec(
            "supervision_ends_on",
            "Licence or order ends",
            ValueType.DATE,
            Tier.FULL,
            help="The outcomes at the end of the licence or order are counted on this date.",
        ),
        FieldSpec("mappa", "MAPPA", ValueType.CHOICE, Tier.FULL, choices=MAPPA_LEVELS, safety_critical=True),
        FieldSpec("ppo", "On the PPO scheme", ValueType.CHOICE, Tier.FULL, choices=YES_NO),
        FieldSpec("iom", "In the IOM cohort", ValueType.CHOICE, Tier.FULL, choices=YES_NO),
        FieldSpec(
            "risk_summary",
            "Risk, in plain words",
            ValueType.LONG_TEXT,
            Tier.FULL,
            max_length=2000,
            safety_critical=True,
        ),
        FieldSpec("goals", "Their own goals, in their words", ValueType.LONG_TEXT, Tier.BASIC, max_length=2000),
        FieldSpec("lead_professional", "Lead professional", ValueType.TEXT, Tier.BASIC, safety_critical=True),
        FieldSpec(
            "engagement",
            "Working with us?",
            ValueType.CHOICE,
            Tier.FULL,
            choices=ENGAGEMENT,
            help="Who was not taken on or stopped engaging is counted in the outcomes report.",
        ),
        FieldSpec("engagement_on", "Since", ValueType.DATE, Tier.FULL),
    ),
)

CONTACT = KindSpec(
    name="contact",
    label="Contact",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec("occurred_at", "Date and time", ValueType.DATETIME, None, required=True),
        FieldSpec("setting", "Where", ValueType.CHOICE, None, required=True, choices=CONTACT_SETTINGS),
        FieldSpec("contact_type", "Type of contact", ValueType.CHOICE, None, required=True, choices=CONTACT_TYPES),
        FieldSpec("note", "Note", ValueType.LONG_TEXT, None, required=True, max_length=8000),
        FieldSpec("basis", "Fact or opinion", ValueType.CHOICE, None, required=True, choices=NOTE_BASIS),
        FieldSpec("duration", "How long", ValueType.CHOICE, None, choices=CONTACT_DURATIONS),
        FieldSpec("need_areas", "Needs you talked about or worked on", ValueType.CHOICES, None, choices=NEED_AREAS),
    ),
)

RATINGS: dict[str, str] = {"red": "Red", "amber": "Amber", "green": "Green"}

NEED_HANDLED: dict[str, str] = {
    "met_in_house": "Met in house",
    "referred_on": "Referred on",
    "not_yet": "Not acted on yet",
}

# A need rated red, amber or green on a day: the history of ratings shows distance travelled.
NEED_RATING = KindSpec(
    name="need_rating",
    label="Need rating",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec("need_area", "Need", ValueType.CHOICE, None, required=True, choices=NEED_AREAS),
        FieldSpec("rating", "Rating", ValueType.CHOICE, None, required=True, choices=RATINGS),
        FieldSpec("rated_on", "Rated on", ValueType.DATE, None, required=True),
        FieldSpec("reason", "Why, in a few words", ValueType.LONG_TEXT, None, max_length=500),
        FieldSpec("handled", "Met in house or referred on", ValueType.CHOICE, None, choices=NEED_HANDLED),
    ),
)

# One action of the person's plan, with who does it and by when. Follow-ups are plan actions.
PLAN_ACTION = KindSpec(
    name="plan_action",
    label="Plan action",
    append_only=False,
    case_scoped=True,
    fields=_fields(
        FieldSpec("action", "What needs doing", ValueType.TEXT, Tier.FULL, required=True, max_length=300),
        FieldSpec("owner", "Who does it", ValueType.TEXT, Tier.FULL, required=True, max_length=120),
        FieldSpec("due_on", "Due by", ValueType.DATE, Tier.FULL, required=True),
        FieldSpec("need_area", "Need", ValueType.CHOICE, Tier.FULL, choices=NEED_AREAS),
        FieldSpec("follow_up", "This is a follow-up contact", ValueType.BOOLEAN, Tier.FULL),
        FieldSpec("done", "Done", ValueType.BOOLEAN, Tier.FULL),
    ),
)

REFERRAL_SERVICES: dict[str, str] = {
    "housing_options": "Housing options",
    "hostel": "Hostel",
    "supported_housing": "Supported housing",
    "dip": "Drug Intervention Programme (DIP)",
    "jobcentre": "Jobcentre Plus",
    "gp": "GP",
    "probation": "Probation",
    "credit_union": "Credit union",
    "employer": "Employer or training",
    "other": "Other",
}

REFERRAL_STATUSES: dict[str, str] = {
    "sent": "Sent",
    "accepted": "Accepted",
    "declined": "Declined",
    "started": "Started",
}

REFERRAL = KindSpec(
    name="referral",
    label="Referral",
    append_only=False,
    case_scoped=True,
    fields=_fields(
        FieldSpec("service", "Kind of service", ValueType.CHOICE, Tier.FULL, required=True, choices=REFERRAL_SERVICES),
        FieldSpec("to_whom", "Referred to", ValueType.TEXT, Tier.FULL, required=True),
        FieldSpec("need_area", "Need", ValueType.CHOICE, Tier.FULL, choices=NEED_AREAS),
        FieldSpec("sent_on", "Sent on", ValueType.DATE, Tier.FULL, required=True),
        FieldSpec("status", "Status", ValueType.CHOICE, Tier.FULL, required=True, choices=REFERRAL_STATUSES),
        FieldSpec("status_on", "Status since", ValueType.DATE, Tier.FULL),
        FieldSpec("declined_reason", "Why it was declined", ValueType.LONG_TEXT, Tier.FULL, max_length=1000),
    ),
)

# The release-readiness checklist and who meets the person where and when. Mentors meeting at the
# gate see the arrangements (basic); medication is health, so it is full tier.
RELEASE_PLAN = KindSpec(
    name="release_plan",
    label="Release plan",
    append_only=False,
    case_scoped=True,
    fields=_fields(
        FieldSpec("accommodation", "Accommodation", ValueType.CHOICE, Tier.BASIC, choices=ACCOMMODATION_PLANS),
        FieldSpec("accommodation_address", "Where they will stay", ValueType.TEXT, Tier.BASIC),
        *(
            FieldSpec(item, label, ValueType.BOOLEAN, Tier.FULL if item == "medication" else Tier.BASIC)
            for item, label in READINESS_ITEMS.items()
            if item not in ("accommodation", "meeting")
        ),
        FieldSpec("meeting_at", "Meet them at (date and time)", ValueType.DATETIME, Tier.BASIC),
        FieldSpec("meeting_place", "Meet them where", ValueType.TEXT, Tier.BASIC),
        FieldSpec("met_by", "Who meets them", ValueType.TEXT, Tier.BASIC),
    ),
)

GATE_NOT_MET_REASONS: dict[str, str] = {
    "released_early": "Released earlier than planned",
    "transferred": "Transferred to another prison",
    "not_released": "Not released",
    "missed": "Released but we missed them",
    "declined": "They did not want to be met",
    "other": "Other",
}

# What happened at the gate on release day.
GATE_OUTCOME = KindSpec(
    name="gate_outcome",
    label="Gate outcome",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec("met", "Met at the gate", ValueType.BOOLEAN, None, required=True),
        FieldSpec("not_met_reason", "Why not", ValueType.CHOICE, None, choices=GATE_NOT_MET_REASONS),
        FieldSpec("accompanied_to", "Went with them to", ValueType.TEXT, None),
        FieldSpec("housed_on_release_day", "Housed on the day of release", ValueType.BOOLEAN, None),
        FieldSpec("reached_planned_address", "Reached the planned address", ValueType.BOOLEAN, None),
        FieldSpec("help_given", "Help given", ValueType.LONG_TEXT, None, max_length=2000),
    ),
)

# Where the person lives from a date, and whether it suits them: NI 143 counts both, separately.
ACCOMMODATION = KindSpec(
    name="accommodation",
    label="Accommodation",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec(
            "accommodation_type", "Where they live", ValueType.CHOICE, None, required=True, choices=ACCOMMODATION_TYPES
        ),
        FieldSpec("suitable", "Suitable for them", ValueType.BOOLEAN, None, required=True),
        FieldSpec("from_on", "Since", ValueType.DATE, None, required=True),
    ),
)

# Work and training from a date, for NI 144: in work or not, and the ETE stage reached.
EMPLOYMENT = KindSpec(
    name="employment",
    label="Work and training",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec("status", "In work", ValueType.CHOICE, None, required=True, choices=EMPLOYMENT_STATUSES),
        FieldSpec("ete_stage", "Stage reached", ValueType.CHOICE, None, choices=ETE_STAGES),
        FieldSpec("from_on", "Since", ValueType.DATE, None, required=True),
    ),
)

HANDOVER_STEPS: dict[str, str] = {
    "proposed": "Proposed",
    "accepted": "Accepted",
    "declined": "Declined",
    "completed": "Handover completed",
}

# One step of handing the lead professional role over; the handover is complete only when a
# ``completed`` step is recorded.
LEAD_HANDOVER = KindSpec(
    name="lead_handover",
    label="Lead professional handover",
    append_only=True,
    case_scoped=True,
    fields=_fields(
        FieldSpec("step", "Step", ValueType.CHOICE, None, required=True, choices=HANDOVER_STEPS),
        FieldSpec("lead_name", "Lead professional", ValueType.TEXT, None, required=True),
        FieldSpec("lead_organisation", "Lead agency", ValueType.TEXT, None, required=True),
        FieldSpec("handover_id", "Handover", ValueType.TEXT, None, required=True, max_length=36),
        FieldSpec("note", "Note", ValueType.LONG_TEXT, None, max_length=2000),
    ),
)

# Local provision, kept by the organisation and held on every worker's phone for offline use.
DIRECTORY_STATUSES: dict[str, str] = {"running": "Running", "closed": "No longer running"}

DIRECTORY_ENTRY = KindSpec(
    name="directory_entry",
    label="Service directory entry",
    append_only=False,
    case_scoped=False,
    fields=_fields(
        FieldSpec("name", "Service", ValueType.TEXT, Tier.FULL, required=True),
        FieldSpec("service", "Kind of service", ValueType.CHOICE, Tier.FULL, required=True, choices=REFERRAL_SERVICES),
        FieldSpec("area", "Area or borough", ValueType.TEXT, Tier.FULL),
        FieldSpec("address", "Address", ValueType.TEXT, Tier.FULL, max_length=300),
        FieldSpec("phone", "Phone", ValueType.TEXT, Tier.FULL, max_length=40),
        FieldSpec("opening_hours", "Opening hours", ValueType.TEXT, Tier.FULL),
        FieldSpec("notes", "What to know", ValueType.LONG_TEXT, Tier.FULL, max_length=2000),
        # A service that closes is kept (referrals name it) but no longer offered.
        FieldSpec("status", "Still running?", ValueType.CHOICE, Tier.FULL, choices=DIRECTORY_STATUSES),
    ),
)

# A device records that its user opened a person's record. It belongs to no case (the server cannot
# tell whose record was opened), is encrypted under keys derived from the organisation key, and is
# delivered to coordinators only.
CASE_VIEW = KindSpec(
    name="case_view",
    label="Record opened",
    append_only=True,
    case_scoped=False,
    fields=_fields(
        FieldSpec("case_id", "Whose record", ValueType.TEXT, Tier.FULL, required=True, max_length=36),
        FieldSpec("viewed_at", "When", ValueType.DATETIME, Tier.FULL, required=True),
    ),
)

CONSENT_ACTIONS: dict[str, str] = {
    "given": "The person consented to sharing",
    "withdrawn": "The person withdrew their consent",
    "renewed": "Consent renewed (or the decision to share reviewed) before it ended",
    "without_consent": "Shared without consent on a lawful basis",
}

CONSENT_RECORDED_HOW: dict[str, str] = {
    "signed_form": "Signed consent form",
    "verbal": "Verbal consent, in person",
    "phone": "Recorded by phone",
    "electronic": "Electronic (email or text)",
}

LAWFUL_BASES: dict[str, str] = {
    "vital_interest": "Vital interest (a risk to life or of serious harm)",
    "statutory_duty": "Statutory duty (for example MAPPA)",
}

# Consent to share, its withdrawal, or a share made without consent on a lawful basis: always in
# the full tier (it names who may see the person's record and why). Which organisations, tiers and
# dates the server enforces travel apart as the share's scope (shared.protocol.ShareRequest).
CONSENT = KindSpec(
    name="consent",
    label="Consent to share",
    append_only=True,
    case_scoped=True,
    entry_tier=Tier.FULL,
    fields=_fields(
        FieldSpec("action", "What was recorded", ValueType.CHOICE, Tier.FULL, required=True, choices=CONSENT_ACTIONS),
        FieldSpec("purposes", "Purposes of sharing", ValueType.LONG_TEXT, Tier.FULL, max_length=2000),
        FieldSpec("explained", "What will be shared, why and with whom was explained", ValueType.BOOLEAN, Tier.FULL),
        FieldSpec("consequences_explained", "The likely consequences were explained", ValueType.BOOLEAN, Tier.FULL),
        FieldSpec(
            "recorded_how", "How consent was recorded", ValueType.CHOICE, Tier.FULL, choices=CONSENT_RECORDED_HOW
        ),
        FieldSpec("consent_date", "Date", ValueType.DATE, Tier.FULL, required=True),
        FieldSpec("review_date", "Review or expiry date", ValueType.DATE, Tier.FULL),
        FieldSpec("lawful_basis", "Lawful basis", ValueType.CHOICE, Tier.FULL, choices=LAWFUL_BASES),
        FieldSpec("reason", "Reason", ValueType.LONG_TEXT, Tier.FULL, max_length=2000),
        FieldSpec("decided_by", "Who decided", ValueType.TEXT, Tier.FULL, max_length=120),
    ),
)

KINDS: Mapping[str, KindSpec] = {
    spec.name: spec
    for spec in (
        PERSON,
        CONTACT,
        NEED_RATING,
        PLAN_ACTION,
        REFERRAL,
        RELEASE_PLAN,
        GATE_OUTCOME,
        ACCOMMODATION,
        EMPLOYMENT,
        LEAD_HANDOVER,
        DIRECTORY_ENTRY,
        CASE_VIEW,
        CONSENT,
    )
}
COORDINATORS_ONLY_KINDS = frozenset({CASE_VIEW.name})


def kind_spec(kind: str) -> KindSpec | None:
    return KINDS.get(kind)


def wire_fields(spec: KindSpec) -> tuple[str, ...]:
    """The field names that travel as versions for a kind."""
    return (ENTRY_FIELD,) if spec.append_only else tuple(spec.fields)


def tier_allowed(kind: str, field_name: str, tier: Tier) -> bool:
    """Whether a version of ``kind.field_name`` may be written under ``tier``."""
    spec = KINDS.get(kind)
    if spec is None:
        return False
    if spec.append_only:
        return field_name == ENTRY_FIELD and (spec.entry_tier is None or tier == spec.entry_tier)
    field_spec = spec.fields.get(field_name)
    return field_spec is not None and field_spec.tier == tier


def fixed_tier(kind: str, field_name: str) -> Tier | None:
    """The tier a field must use, or None when the author chooses (append-only kinds)."""
    spec = KINDS.get(kind)
    if spec is None:
        return None
    if spec.append_only:
        return spec.entry_tier
    field_spec = spec.fields.get(field_name)
    return None if field_spec is None else field_spec.tier


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def entry_problems(kind: KindSpec, values: Mapping[str, object]) -> dict[str, str]:
    """Each field of ``kind`` whose value in ``values`` is not acceptable, with the problem in plain
    words (a field left out counts as empty)."""
    return {name: problem for name, spec in kind.fields.items() if (problem := validate_value(spec, values.get(name)))}


def validate_value(spec: FieldSpec, value: object) -> str | None:
    """A plain-words problem with ``value`` for this field, or None when it is acceptable."""
    if value is None or value == "" or value == []:
        return f"{spec.label} is needed." if spec.required else None
    if spec.value_type is ValueType.BOOLEAN:
        return None if isinstance(value, bool) else f"{spec.label} must be yes or no."
    if spec.value_type is ValueType.CHOICES:
        if not isinstance(value, list) or not all(isinstance(item, str) and item in spec.choices for item in value):
            return f"{spec.label}: choose from the options."
        return None if len(set(value)) == len(value) else f"{spec.label}: each option once."
    if not isinstance(value, str):
        return f"{spec.label} must be text."
    if len(value) > spec.max_length:
        return f"{spec.label} is too long (at most {spec.max_length} characters)."
    if spec.value_type is ValueType.CHOICE and value not in spec.choices:
        return f"{spec.label}: choose one of the options."
    if spec.value_type is ValueType.DATE:
        return None if _parses_date(value) else f"{spec.label} must be a date like 2026-11-25."
    if spec.value_type is ValueType.DATETIME:
        return None if _parses_datetime(value) else f"{spec.label} must be a date and time like 2026-11-25T09:30."
    if spec.value_type is ValueType.DATE_OR_DATETIME:
        if _parses_date(value) or _parses_datetime(value):
            return None
        return f"{spec.label} must be a date like 2026-11-25, with a time if known."
    return None


def _parses_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _parses_datetime(value: str) -> bool:
    if not _TIME.fullmatch(value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
