"""The rules a resettlement worker's day runs on: release flags, readiness, follow-up cadence, housing.

Pure: callers pass today's date and the values they decrypted; nothing here reads a clock or
storage. Each rule names the research it comes from (``../shared/DOMAIN.md`` cites the seeds).

- Release flags: "prisoners should never be released on a Friday afternoon" (003:1290), a release
  whose time is not confirmed, and a release with no accommodation confirmed or bedspace held
  (002:555).
- Follow-up cadence: the first two weeks after release are "critical" (000:2446-2451) and the
  first week the most dangerous (003:1306-1332); after that, weekly meetings (000:4332-4334).
- Lead professional handover: an interim lead "stays involved until the handover has been
  successfully completed" (003:758-770): proposed, then accepted (or declined), then completed.
- Employment and the ETE ladder, for NI 144 (004:2263-2280, 004:2355-2365): part-time or full-time,
  and the stage reached from soft skills and motivation to sustained employment.
- Engagement: who was referred but not taken on, and who stopped engaging, so that "cream
  skimming" shows (000:1814-1820, 000:3979-3983).
- Settled accommodation, for NI 143 (004:2195-2218): "permanent, independent housing; bail/probation
  hostels and supported housing" as defined, and the stricter count providers use, which leaves
  out Approved Premises, bail hostels and supported housing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ACCOMMODATION_LABELS",
    "CONSENT_REVIEW_WINDOW_DAYS",
    "FRIDAY_AFTERNOON_FROM",
    "NEED_AREAS",
    "READINESS_ITEMS",
    "RELEASE_WINDOW_DAYS",
    "AccommodationPlan",
    "AccommodationType",
    "ConsentStep",
    "ContactDue",
    "EmploymentStatus",
    "Engagement",
    "EteStage",
    "FollowUpState",
    "HandoverStep",
    "Rating",
    "Readiness",
    "Release",
    "ReleaseFlag",
    "consents_to_review",
    "contact_due",
    "contact_interval_days",
    "distance_travelled",
    "follow_up_state",
    "handover_progress",
    "planned_follow_ups",
    "readiness",
    "release_flags",
    "releases_in_window",
    "settled",
]

# Today lists releases from today to this many days ahead.
RELEASE_WINDOW_DAYS = 14
# From noon on a Friday the services a person needs on release day are closing for the weekend.
FRIDAY_AFTERNOON_FROM = dt.time(12, 0)
_FRIDAY = 4


@dataclass(frozen=True)
class Release:
    """A release date, and its time when the prison has confirmed it."""

    on: dt.date
    at: dt.time | None = None

    @classmethod
    def parse(cls, value: str | None) -> Release | None:
        """Read the person's ``release_at`` field ("2026-12-04" or "2026-12-04T14:00"); None if unusable."""
        if not value:
            return None
        try:
            if "T" in value:
                moment = dt.datetime.fromisoformat(value)
                return cls(moment.date(), moment.time().replace(second=0, microsecond=0))
            return cls(dt.date.fromisoformat(value))
        except ValueError:
            return None


class AccommodationPlan(StrEnum):
    """Where someone will sleep on release night, as far as the worker knows before the gate."""

    CONFIRMED = "confirmed"
    BEDSPACE_HELD = "bedspace_held"
    APPLIED = "applied"
    NONE = "none"

    @property
    def label(self) -> str:
        return _ACCOMMODATION_PLAN_LABELS[self]

    @property
    def ready(self) -> bool:
        """Accommodation confirmed, or a supported housing bedspace held (002:555)."""
        return self in (AccommodationPlan.CONFIRMED, AccommodationPlan.BEDSPACE_HELD)


_ACCOMMODATION_PLAN_LABELS = {
    AccommodationPlan.CONFIRMED: "Accommodation confirmed",
    AccommodationPlan.BEDSPACE_HELD: "Supported housing bedspace held",
    AccommodationPlan.APPLIED: "Applied for, not confirmed yet",
    AccommodationPlan.NONE: "Nothing arranged yet",
}


class ReleaseFlag(StrEnum):
    FRIDAY_AFTERNOON = "friday_afternoon"
    TIME_NOT_CONFIRMED = "time_not_confirmed"
    NO_ACCOMMODATION = "no_accommodation"

    @property
    def label(self) -> str:
        return _FLAG_LABELS[self]


_FLAG_LABELS = {
    ReleaseFlag.FRIDAY_AFTERNOON: "Friday afternoon release: services close for the weekend",
    ReleaseFlag.TIME_NOT_CONFIRMED: "Release time not confirmed",
    ReleaseFlag.NO_ACCOMMODATION: "No accommodation confirmed",
}


def release_flags(release: Release, accommodation: AccommodationPlan | None) -> tuple[ReleaseFlag, ...]:
    """What a worker should be warned about for this release, most urgent first.

    A Friday release whose time is unknown is flagged as a Friday afternoon too: until the prison
    confirms a morning time, the worker has to plan for the afternoon.
    """
    flags: list[ReleaseFlag] = []
    if release.on.weekday() == _FRIDAY and (release.at is None or release.at >= FRIDAY_AFTERNOON_FROM):
        flags.append(ReleaseFlag.FRIDAY_AFTERNOON)
    if accommodation is None or not accommodation.ready:
        flags.append(ReleaseFlag.NO_ACCOMMODATION)
    if release.at is None:
        flags.append(ReleaseFlag.TIME_NOT_CONFIRMED)
    return tuple(flags)


def releases_in_window(
    releases: Mapping[str, Release], today: dt.date, days: int = RELEASE_WINDOW_DAYS
) -> list[tuple[str, Release]]:
    """The releases from today to ``days`` ahead, soonest first (a confirmed time before an unknown one)."""
    last = today + dt.timedelta(days=days)
    chosen = [(key, release) for key, release in releases.items() if today <= release.on <= last]
    chosen.sort(key=lambda item: (item[1].on, item[1].at is None, item[1].at or dt.time(0), item[0]))
    return chosen


# The release-readiness checklist (DOMAIN.md, "Release day: meet at the gate").
READINESS_ITEMS: Mapping[str, str] = {
    "accommodation": "Accommodation confirmed or bedspace held",
    "benefits": "Benefits in place to start on release",
    "gp": "Registered with a GP",
    "identity": "ID (birth certificate, NI number)",
    "bank_account": "Bank account",
    "discharge_grant": "Discharge grant",
    "phone": "Phone",
    "medication": "Script or medication continued",
    "meeting": "Who meets them, where and when",
}


@dataclass(frozen=True)
class Readiness:
    done: int
    total: int
    missing: tuple[str, ...]  # labels, in checklist order

    @property
    def ready(self) -> bool:
        return self.done == self.total


def readiness(checked: Mapping[str, bool], *, unknown: Iterable[str] = ()) -> Readiness:
    """How much of the checklist is in place; items not mentioned count as not done. ``unknown``
    items are left out of the count (a peer mentor's phone cannot read whether medication is in
    place, which is neither done nor missing for them)."""
    hidden = set(unknown)
    items = {item: label for item, label in READINESS_ITEMS.items() if item not in hidden}
    missing = tuple(label for item, label in items.items() if not checked.get(item, False))
    return Readiness(done=len(items) - len(missing), total=len(items), missing=missing)


# Days between contacts after release, by days since release: intensive in the first two weeks.
_INTENSIVE: tuple[tuple[int, int], ...] = ((7, 2), (14, 3))  # (before day N after release, every M days)
_WEEKLY = 7


def contact_interval_days(release_on: dt.date | None, today: dt.date, plan_every_days: int | None = None) -> int:
    """How many days may pass between contacts for this person today.

    The person's plan wins when it names a number. Otherwise every 2 days in the first week after
    release, every 3 in the second, and weekly after that or before release.
    """
    if plan_every_days is not None and plan_every_days > 0:
        return plan_every_days
    if release_on is not None and release_on <= today:
        since = (today - release_on).days
        for before_day, every in _INTENSIVE:
            if since < before_day:
                return every
    return _WEEKLY


def planned_follow_ups(release_on: dt.date, weeks: int = 6) -> list[dt.date]:
    """Follow-up dates from a release, spaced by :func:`contact_interval_days`, up to ``weeks`` weeks."""
    dates: list[dt.date] = []
    day = 1
    while day <= weeks * 7:
        moment = release_on + dt.timedelta(days=day)
        dates.append(moment)
        day += contact_interval_days(release_on, moment)
    return dates


@dataclass(frozen=True)
class ContactDue:
    due_on: dt.date
    overdue_days: int  # 0 when not overdue

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0


def contact_due(
    last_contact_on: dt.date | None,
    release_on: dt.date | None,
    today: dt.date,
    plan_every_days: int | None = None,
) -> ContactDue | None:
    """When this person should next be seen, and by how many days that is overdue.

    None when there is nothing to count from: never contacted and not yet released. Someone
    released but never seen is due on their release day. The last contact before release does
    not count once they are out: the gate day starts the count again.
    """
    if release_on is not None and release_on <= today and (last_contact_on is None or last_contact_on < release_on):
        due_on = release_on
    elif last_contact_on is None:
        return None
    else:
        # The gap that applied when they were last seen sets the next due date.
        gap = contact_interval_days(release_on, last_contact_on, plan_every_days)
        due_on = last_contact_on + dt.timedelta(days=gap)
    return ContactDue(due_on=due_on, overdue_days=max(0, (today - due_on).days))


class FollowUpState(StrEnum):
    DONE = "done"
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    UPCOMING = "upcoming"


def follow_up_state(due_on: dt.date, done: bool, today: dt.date) -> FollowUpState:
    if done:
        return FollowUpState.DONE
    if due_on < today:
        return FollowUpState.OVERDUE
    return FollowUpState.DUE_TODAY if due_on == today else FollowUpState.UPCOMING


class Rating(StrEnum):
    """Red, amber, green: how a need stands on the day it was rated (001:55-58)."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"

    @property
    def score(self) -> int:
        """For distance travelled: red 0, amber 1, green 2."""
        return {Rating.RED: 0, Rating.AMBER: 1, Rating.GREEN: 2}[self]


# The need areas, in the words workers use (DOMAIN.md, "The person's record").
NEED_AREAS: Mapping[str, str] = {
    "accommodation": "Accommodation",
    "ete": "Education, training and employment",
    "drugs": "Drugs",
    "alcohol": "Alcohol",
    "mental_health": "Mental health",
    "physical_health": "Physical health",
    "finance": "Finance, benefits and debt",
    "family": "Family, children and relationships",
    "identity": "ID documents and bank account",
    "learning": "Learning difficulties",
    "trauma": "Trauma",
    "thinking": "Thinking, behaviour and offending",
    "daily_life": "Daily structure and social networks",
}


class AccommodationType(StrEnum):
    """Where someone lives, recorded separately from whether it is suitable (NI 143)."""

    OWN_HOME = "own_home"
    SOCIAL_TENANCY = "social_tenancy"
    PRIVATE_TENANCY = "private_tenancy"
    FAMILY_OR_FRIENDS = "family_or_friends"
    SUPPORTED_HOUSING_TENANCY = "supported_housing_tenancy"
    SUPPORTED_HOUSING = "supported_housing"
    APPROVED_PREMISES = "approved_premises"
    BAIL_HOSTEL = "bail_hostel"
    HOMELESS_HOSTEL = "homeless_hostel"
    TEMPORARY = "temporary"
    SOFA_SURFING = "sofa_surfing"
    ROUGH_SLEEPING = "rough_sleeping"
    CUSTODY = "custody"

    @property
    def label(self) -> str:
        return ACCOMMODATION_LABELS[self]


ACCOMMODATION_LABELS: Mapping[AccommodationType, str] = {
    AccommodationType.OWN_HOME: "Their own home",
    AccommodationType.SOCIAL_TENANCY: "Council or housing association tenancy",
    AccommodationType.PRIVATE_TENANCY: "Private rented tenancy",
    AccommodationType.FAMILY_OR_FRIENDS: "Living with family or friends, long term",
    AccommodationType.SUPPORTED_HOUSING_TENANCY: "Supported housing with a tenancy (up to two years)",
    AccommodationType.SUPPORTED_HOUSING: "Supported housing",
    AccommodationType.APPROVED_PREMISES: "Probation Approved Premises",
    AccommodationType.BAIL_HOSTEL: "Bail hostel",
    AccommodationType.HOMELESS_HOSTEL: "Homeless hostel or night shelter",
    AccommodationType.TEMPORARY: "Emergency or temporary (B&B, hotel)",
    AccommodationType.SOFA_SURFING: "Staying with friends short term",
    AccommodationType.ROUGH_SLEEPING: "Sleeping rough",
    AccommodationType.CUSTODY: "In custody",
}

_PERMANENT = frozenset(
    {
        AccommodationType.OWN_HOME,
        AccommodationType.SOCIAL_TENANCY,
        AccommodationType.PRIVATE_TENANCY,
        AccommodationType.FAMILY_OR_FRIENDS,
        # The grey area (004:2214-2218): up to two years on an assured shorthold tenancy is a
        # tenancy, so the stricter count takes it too.
        AccommodationType.SUPPORTED_HOUSING_TENANCY,
    }
)
_SETTLED_AS_DEFINED = _PERMANENT | {
    AccommodationType.SUPPORTED_HOUSING,
    AccommodationType.APPROVED_PREMISES,
    AccommodationType.BAIL_HOSTEL,
}


def settled(accommodation: AccommodationType, *, counting_hostels: bool) -> bool:
    """Whether this counts as settled accommodation for NI 143.

    ``counting_hostels=True`` is the indicator as defined ("permanent, independent housing;
    bail/probation hostels and supported housing"); False is the stricter "settled and sustainable"
    count providers use, which leaves out Approved Premises, bail hostels and supported housing.
    A homeless hostel, temporary accommodation, a sofa or the street is never settled.
    """
    return accommodation in (_SETTLED_AS_DEFINED if counting_hostels else _PERMANENT)


def distance_travelled(ratings: Iterable[tuple[dt.date, Rating]]) -> int | None:
    """Steps moved from the first rating to the latest (red to green is +2); None with no ratings."""
    ordered = sorted(ratings, key=lambda item: item[0])
    if not ordered:
        return None
    return ordered[-1][1].score - ordered[0][1].score


class HandoverStep(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


# What may follow what: a proposal is answered once, and only an accepted handover completes.
_HANDOVER_NEXT: Mapping[HandoverStep | None, frozenset[HandoverStep]] = {
    None: frozenset({HandoverStep.PROPOSED}),
    HandoverStep.PROPOSED: frozenset({HandoverStep.ACCEPTED, HandoverStep.DECLINED}),
    HandoverStep.ACCEPTED: frozenset({HandoverStep.COMPLETED}),
    HandoverStep.DECLINED: frozenset(),
    HandoverStep.COMPLETED: frozenset(),
}


def handover_progress(steps: Iterable[HandoverStep]) -> tuple[HandoverStep | None, tuple[bool, ...]]:
    """Where one handover stands, from its steps in the merge order (every replica's order), and
    which steps counted. A step that does not follow from the one before (two people answering a
    proposal at once: the later answer) is kept in the record but changes nothing."""
    state: HandoverStep | None = None
    counted: list[bool] = []
    for step in steps:
        allowed = step in _HANDOVER_NEXT[state]
        counted.append(allowed)
        if allowed:
            state = step
    return state, tuple(counted)


class EmploymentStatus(StrEnum):
    """In work or not, for NI 144: "in employment", part-time or full-time (004:2263-2280)."""

    NONE = "none"
    PART_TIME = "part_time"
    FULL_TIME = "full_time"

    @property
    def label(self) -> str:
        return _EMPLOYMENT_LABELS[self]

    @property
    def employed(self) -> bool:
        return self is not EmploymentStatus.NONE


_EMPLOYMENT_LABELS = {
    EmploymentStatus.NONE: "Not in work",
    EmploymentStatus.PART_TIME: "In part-time work",
    EmploymentStatus.FULL_TIME: "In full-time work",
}


class EteStage(StrEnum):
    """The education, training and employment ladder (004:2355-2365), lowest step first."""

    SOFT_SKILLS = "soft_skills"
    BASIC_SKILLS = "basic_skills"
    VOCATIONAL_TRAINING = "vocational_training"
    JOB_SEEKING = "job_seeking"
    EMPLOYMENT = "employment"
    SUSTAINED_EMPLOYMENT = "sustained_employment"

    @property
    def label(self) -> str:
        return _ETE_LABELS[self]

    @property
    def step(self) -> int:
        """0 for soft skills and motivation, up to 5 for sustained employment."""
        return list(EteStage).index(self)


_ETE_LABELS = {
    EteStage.SOFT_SKILLS: "Soft skills and motivation",
    EteStage.BASIC_SKILLS: "Basic skills",
    EteStage.VOCATIONAL_TRAINING: "Advanced and vocational training",
    EteStage.JOB_SEEKING: "Job seeking",
    EteStage.EMPLOYMENT: "Employment",
    EteStage.SUSTAINED_EMPLOYMENT: "Sustained employment",
}


class Engagement(StrEnum):
    """Whether the person works with us: not taken on and stopped engaging are counted, so that
    "cream skimming" (taking on only those likely to succeed) shows (000:1814-1820, 000:3979-3983)."""

    ENGAGING = "engaging"
    NOT_ACCEPTED = "not_accepted"
    STOPPED_ENGAGING = "stopped_engaging"

    @property
    def label(self) -> str:
        return _ENGAGEMENT_LABELS[self]


_ENGAGEMENT_LABELS = {
    Engagement.ENGAGING: "Working with us",
    Engagement.NOT_ACCEPTED: "Referred to us but not taken on",
    Engagement.STOPPED_ENGAGING: "Stopped engaging",
}


# Today lists consents whose review or expiry date is this many days ahead or fewer.
CONSENT_REVIEW_WINDOW_DAYS = 14


@dataclass(frozen=True)
class ConsentStep:
    """What the rule needs of one consent record (the phone decrypts the rest)."""

    record_id: str
    action: str  # given, renewed, withdrawn, without_consent
    amends: str | None  # the record this one renews or withdraws
    recipients: tuple[str, ...]  # organisation names
    review_on: dt.date | None


def consents_to_review(
    entries: Iterable[ConsentStep], today: dt.date, within_days: int = CONSENT_REVIEW_WINDOW_DAYS
) -> list[ConsentStep]:
    """Consents in force whose review date falls from today to ``within_days`` ahead, soonest first.

    A consent is in force while no later record amends it: a renewal replaces it (and is itself
    the consent in force), a withdrawal ends it. Past its review date sharing has already stopped
    (the server's clock ends it), so it is no longer one to review but one to record again.
    """
    listed = list(entries)
    amended = {entry.amends for entry in listed if entry.amends is not None}
    due = [
        entry
        for entry in listed
        if entry.action in ("given", "renewed")
        and entry.record_id not in amended
        and entry.review_on is not None
        and today <= entry.review_on <= today + dt.timedelta(days=within_days)
    ]
    return sorted(due, key=lambda entry: (entry.review_on or today, entry.record_id))
