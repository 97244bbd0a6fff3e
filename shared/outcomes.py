"""The outcomes coordinators and commissioners ask for, computed from one period's decrypted facts.

Pure: the caller (a coordinator's phone, the only place the content can be read) passes the facts it
decrypted and the period; nothing here reads a clock or storage. Every measure returns its figures
together with the people behind each one (case ids), so a coordinator can open the list; the
anonymised export (:func:`anonymised_rows`) keeps only the counts, with small numbers suppressed.

The measures, in ``../shared/DOMAIN.md``'s words ("Outcomes coordinators and commissioners ask for"):

- **NI 143**, "living in settled and suitable accommodation at the end of their order or licence",
  shown as defined (bail and probation hostels, Approved Premises and supported housing count as
  settled) and the stricter "settled and sustainable" count beside it (:func:`ni143`).
- **NI 144**, "in employment at the end of their order or licence", part-time or full-time, and the
  ETE stage reached (:func:`ni144`).
- Housed on the day of release, met at the gate, reached the planned address (:func:`release_day`).
- Numbers seen and type of intervention; contacts by setting and type (:func:`work_done`).
- Distance travelled per need area (:func:`distance_by_need`).
- Who was referred to us but not taken on, who stopped engaging, and referrals other services
  declined (:func:`engagement`).

Edge cases, decided once here:

- A period runs from ``start`` to ``end``, both days included: an order or licence ending on the
  first or the last day of the period is in it.
- "At the end of the order or licence" means on the end date itself: the accommodation (or work)
  that counts is the latest entry whose ``from_on`` is on or before the end date. An entry from
  after the end date does not count, even when it was written before the report is run, and an
  entry written later about an earlier date does count (the date it is *from* matters, not when it
  was written). Two entries from the same day: the one recorded later counts.
- The NI 143 and 144 cohort is everyone whose order or licence ends in the period; someone marked
  "non-statutory (not under supervision)" has no order or licence and is left out even if an end
  date was typed. With no entry on or before the end date, the person is in the cohort and counted
  as "not recorded" (never as settled or employed).
- The ETE stage reached is the highest step of the ladder recorded on or before the end date
  (someone who reached employment and then lost the job has still reached employment).
- Release day: people whose release date falls in the period; the gate outcome that counts is the
  latest recorded for them. Someone released with no gate outcome recorded is "not recorded".
- Seen: a person with at least one contact in the period that reached them (an attempted contact
  is not being seen, as on Today).
- Distance travelled per need: for people rated in that need at least once in the period, from
  their first rating ever to their latest rating on or before the period's end (red to green is
  +2), counted as moved forward, no change, or moved back; a need rated only once has not moved.
- Suppression (export only): a count of 1 to 4 is shown as ``*``; 0 is shown (it says nothing about
  anyone). So that a hidden number cannot be worked out by subtraction, a count whose difference
  from its total is 1 to 4 is hidden too, and within a group of figures that add up to a total,
  more are hidden until what is hidden adds up to 0 or at least 5.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from shared.kinds import CONTACT_SETTINGS, CONTACT_TYPES, REFERRAL_SERVICES
from shared.resettlement import (
    NEED_AREAS,
    AccommodationType,
    EmploymentStatus,
    Engagement,
    EteStage,
    Rating,
    settled,
)

__all__ = [
    "SMALL_NUMBER",
    "SUPPRESSED",
    "AccommodationEntry",
    "ContactFact",
    "EmploymentEntry",
    "Figure",
    "GateEntry",
    "OutcomesReport",
    "Period",
    "PersonFacts",
    "RatingFact",
    "ReferralFact",
    "Section",
    "Unit",
    "accommodation_at",
    "anonymised_rows",
    "distance_by_need",
    "employment_at",
    "engagement",
    "ete_stage_reached",
    "figure_counts",
    "ni143",
    "ni144",
    "outcomes_report",
    "release_day",
    "shown_value",
    "supervision_cohort",
    "suppressed_keys",
    "work_done",
]

# Counts from 1 to this minus one are never shown in the export (the commissioners' usual rule).
SMALL_NUMBER = 5
SUPPRESSED = "*"


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both days included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after the day it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @classmethod
    def quarter(cls, day: dt.date, *, back: int = 0) -> Period:
        """The calendar quarter (January to March, ...) holding ``day``, or ``back`` quarters before it."""
        index = day.year * 4 + (day.month - 1) // 3 - back
        year, first_month = divmod(index, 4)
        start = dt.date(year, first_month * 3 + 1, 1)
        after = dt.date(year + 1, 1, 1) if first_month == 3 else dt.date(year, first_month * 3 + 4, 1)
        return cls(start, after - dt.timedelta(days=1))


# --- one person's facts, as the coordinator's phone decrypted them ------------------------------


@dataclass(frozen=True)
class AccommodationEntry:
    accommodation_type: AccommodationType
    suitable: bool
    from_on: dt.date
    recorded: int = 0  # the order entries were written in (a clock stamp); a later one wins a tie


@dataclass(frozen=True)
class EmploymentEntry:
    status: EmploymentStatus
    from_on: dt.date
    ete_stage: EteStage | None = None
    recorded: int = 0


@dataclass(frozen=True)
class GateEntry:
    met: bool
    housed_on_release_day: bool | None = None
    reached_planned_address: bool | None = None
    recorded: int = 0


@dataclass(frozen=True)
class ContactFact:
    occurred_on: dt.date
    setting: str  # a key of shared.kinds.CONTACT_SETTINGS
    contact_type: str  # a key of shared.kinds.CONTACT_TYPES
    need_areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class RatingFact:
    need_area: str
    rating: Rating
    rated_on: dt.date
    recorded: int = 0


@dataclass(frozen=True)
class ReferralFact:
    service: str  # a key of shared.kinds.REFERRAL_SERVICES
    sent_on: dt.date
    status: str  # sent, accepted, declined, started
    status_on: dt.date | None = None


@dataclass(frozen=True)
class PersonFacts:
    case_id: str
    release_on: dt.date | None = None
    supervision: str | None = None  # a key of shared.kinds.SUPERVISION
    supervision_ends_on: dt.date | None = None
    engagement: Engagement | None = None
    engagement_on: dt.date | None = None
    accommodation: tuple[AccommodationEntry, ...] = ()
    employment: tuple[EmploymentEntry, ...] = ()
    gate_outcomes: tuple[GateEntry, ...] = ()
    contacts: tuple[ContactFact, ...] = ()
    ratings: tuple[RatingFact, ...] = ()
    referrals: tuple[ReferralFact, ...] = ()

    @property
    def last_contact_on(self) -> dt.date | None:
        """The day of the last contact that reached the person (an attempt is not being seen)."""
        return max((c.occurred_on for c in self.contacts if c.contact_type != "attempted"), default=None)


# --- figures ------------------------------------------------------------------------------------


class Unit(StrEnum):
    PEOPLE = "people"
    CONTACTS = "contacts"
    REFERRALS = "referrals"


@dataclass(frozen=True)
class Figure:
    """One number of the report and the people behind it.

    ``count`` is ``len(case_ids)`` for people; for contacts or referrals it counts those, and
    ``case_ids`` are the people they were with. ``out_of`` names the figure this one is part of
    (its total), ``within`` any other figure it is a part of (the strict NI 143 count is within
    the count as defined); ``group`` names a set of figures that together add up to ``out_of``.
    """

    key: str
    label: str
    count: int
    case_ids: tuple[str, ...]
    unit: Unit = Unit.PEOPLE
    out_of: str | None = None
    group: str | None = None
    within: tuple[str, ...] = ()


def _people(
    key: str,
    label: str,
    ids: Iterable[str],
    *,
    out_of: str | None = None,
    group: str | None = None,
    within: tuple[str, ...] = (),
) -> Figure:
    chosen = tuple(sorted(set(ids)))
    return Figure(key, label, len(chosen), chosen, Unit.PEOPLE, out_of, group, within)


@dataclass(frozen=True)
class Section:
    title: str
    figures: tuple[Figure, ...]

    def figure(self, key: str) -> Figure:
        for item in self.figures:
            if item.key == key:
                return item
        raise KeyError(key)


# --- the measures -------------------------------------------------------------------------------


def supervision_cohort(people: Iterable[PersonFacts], period: Period) -> list[PersonFacts]:
    """Everyone whose order or licence ends in the period (both end days included); someone
    recorded as non-statutory has no order or licence."""
    return [
        person for person in people if person.supervision_ends_on in period and person.supervision != "non_statutory"
    ]


def accommodation_at(entries: Iterable[AccommodationEntry], day: dt.date) -> AccommodationEntry | None:
    """Where the person lived on ``day``: the latest entry from that day or before (a tie: the one
    recorded later); None when nothing was recorded from on or before it."""
    chosen = [entry for entry in entries if entry.from_on <= day]
    return max(chosen, key=lambda entry: (entry.from_on, entry.recorded), default=None)


def employment_at(entries: Iterable[EmploymentEntry], day: dt.date) -> EmploymentEntry | None:
    """Work on ``day``: the latest entry from that day or before (a tie: the one recorded later)."""
    chosen = [entry for entry in entries if entry.from_on <= day]
    return max(chosen, key=lambda entry: (entry.from_on, entry.recorded), default=None)


def ete_stage_reached(entries: Iterable[EmploymentEntry], day: dt.date) -> EteStage | None:
    """The highest step of the ETE ladder recorded from ``day`` or before."""
    stages = [entry.ete_stage for entry in entries if entry.from_on <= day and entry.ete_stage is not None]
    return max(stages, key=lambda stage: stage.step, default=None)


def ni143(people: Iterable[PersonFacts], period: Period) -> Section:
    """NI 143: settled and suitable accommodation at the end of the order or licence.

    ``ni143.settled_suitable`` is the indicator as defined (hostels, Approved Premises and
    supported housing count as settled); ``ni143.settled_suitable_strict`` the stricter "settled
    and sustainable" count that leaves them out. Both need the place to be suitable as well.
    """
    cohort = supervision_cohort(people, period)
    defined: list[str] = []
    strict: list[str] = []
    settled_unsuitable: list[str] = []
    not_recorded: list[str] = []
    for person in cohort:
        assert person.supervision_ends_on is not None
        entry = accommodation_at(person.accommodation, person.supervision_ends_on)
        if entry is None:
            not_recorded.append(person.case_id)
            continue
        if settled(entry.accommodation_type, counting_hostels=True):
            if entry.suitable:
                defined.append(person.case_id)
                if settled(entry.accommodation_type, counting_hostels=False):
                    strict.append(person.case_id)
            else:
                settled_unsuitable.append(person.case_id)
    total = "ni143.ended"
    return Section(
        "Settled and suitable accommodation at the end of the order or licence (NI 143)",
        (
            _people(total, "Order or licence ended in the period", (p.case_id for p in cohort)),
            _people(
                "ni143.settled_suitable",
                "Settled and suitable, counting hostels and Approved Premises (as defined)",
                defined,
                out_of=total,
            ),
            _people(
                "ni143.settled_suitable_strict",
                "Settled and suitable, not counting hostels, Approved Premises or supported housing",
                strict,
                out_of=total,
                within=("ni143.settled_suitable",),
            ),
            _people(
                "ni143.settled_not_suitable", "Settled but not suitable for them", settled_unsuitable, out_of=total
            ),
            _people("ni143.not_recorded", "No accommodation recorded by the end date", not_recorded, out_of=total),
        ),
    )


def ni144(people: Iterable[PersonFacts], period: Period) -> Section:
    """NI 144: in employment (part-time or full-time) at the end of the order or licence, and the
    ETE stage reached by then (the stages and "none recorded" add up to everyone whose order or
    licence ended)."""
    cohort = supervision_cohort(people, period)
    employed: dict[EmploymentStatus, list[str]] = defaultdict(list)
    not_recorded: list[str] = []
    stages: dict[EteStage | None, list[str]] = defaultdict(list)
    for person in cohort:
        assert person.supervision_ends_on is not None
        entry = employment_at(person.employment, person.supervision_ends_on)
        if entry is None:
            not_recorded.append(person.case_id)
        else:
            employed[entry.status].append(person.case_id)
        stages[ete_stage_reached(person.employment, person.supervision_ends_on)].append(person.case_id)
    total = "ni144.ended"
    in_work = employed[EmploymentStatus.PART_TIME] + employed[EmploymentStatus.FULL_TIME]
    figures = [
        _people(total, "Order or licence ended in the period", (p.case_id for p in cohort)),
        _people("ni144.employed", "In employment, part-time or full-time", in_work, out_of=total),
        *(
            _people(
                f"ni144.{status.value}",
                status.label,
                employed[status],
                out_of="ni144.employed",
                group="ni144.in_work",
                within=(total,),
            )
            for status in (EmploymentStatus.FULL_TIME, EmploymentStatus.PART_TIME)
        ),
        _people("ni144.not_recorded", "No work or training recorded by the end date", not_recorded, out_of=total),
    ]
    figures += [
        _people(
            f"ni144.stage.{stage.value}",
            f"Stage reached: {stage.label}",
            stages[stage],
            out_of=total,
            group="ni144.stage",
        )
        for stage in EteStage
    ]
    figures.append(_people("ni144.stage.none", "No stage recorded", stages[None], out_of=total, group="ni144.stage"))
    return Section("In employment at the end of the order or licence (NI 144)", tuple(figures))


def release_day(people: Iterable[PersonFacts], period: Period) -> Section:
    """Released in the period: met at the gate, housed on the day of release, reached the planned
    address (the latest gate outcome recorded for each person counts)."""
    released: list[str] = []
    met: list[str] = []
    housed: list[str] = []
    reached: list[str] = []
    not_recorded: list[str] = []
    for person in people:
        if person.release_on not in period:
            continue
        released.append(person.case_id)
        outcome = max(person.gate_outcomes, key=lambda entry: entry.recorded, default=None)
        if outcome is None:
            not_recorded.append(person.case_id)
            continue
        if outcome.met:
            met.append(person.case_id)
        if outcome.housed_on_release_day is True:
            housed.append(person.case_id)
        if outcome.reached_planned_address is True:
            reached.append(person.case_id)
    total = "release.released"
    return Section(
        "Release day",
        (
            _people(total, "Released in the period", released),
            _people("release.met", "Met at the gate", met, out_of=total),
            _people("release.housed", "Housed on the day of release", housed, out_of=total),
            _people("release.reached_address", "Reached the planned address", reached, out_of=total),
            _people("release.not_recorded", "No gate outcome recorded", not_recorded, out_of=total),
        ),
    )


def work_done(people: Iterable[PersonFacts], period: Period) -> Section:
    """Numbers seen and types of intervention: people seen (a contact that reached them), contacts
    by setting and by type, people helped with each need, and referrals made by kind of service."""
    seen: list[str] = []
    contacts = 0
    by_setting: dict[str, list[str]] = defaultdict(list)
    by_type: dict[str, list[str]] = defaultdict(list)
    by_need: dict[str, set[str]] = defaultdict(set)
    referrals: dict[str, list[str]] = defaultdict(list)
    contacted: set[str] = set()
    for person in people:
        in_period = [contact for contact in person.contacts if contact.occurred_on in period]
        if any(contact.contact_type != "attempted" for contact in in_period):
            seen.append(person.case_id)
        for contact in in_period:
            contacts += 1
            contacted.add(person.case_id)
            by_setting[contact.setting].append(person.case_id)
            by_type[contact.contact_type].append(person.case_id)
            for area in contact.need_areas:
                by_need[area].add(person.case_id)
        for referral in person.referrals:
            if referral.sent_on in period:
                referrals[referral.service].append(person.case_id)
    all_contacts = "work.contacts"
    all_referrals = "work.referrals"
    figures = [
        _people("work.seen", "People seen (a contact that reached them)", seen),
        Figure(all_contacts, "Contacts, attempts included", contacts, tuple(sorted(contacted)), Unit.CONTACTS),
    ]
    figures += [
        _counted(
            f"work.setting.{key}", f"Contacts: {label}", by_setting[key], Unit.CONTACTS, all_contacts, "work.setting"
        )
        for key, label in CONTACT_SETTINGS.items()
    ]
    figures += [
        _counted(f"work.type.{key}", f"Contacts: {label}", by_type[key], Unit.CONTACTS, all_contacts, "work.type")
        for key, label in CONTACT_TYPES.items()
    ]
    figures += [_people(f"work.need.{key}", f"Helped with: {label}", by_need[key]) for key, label in NEED_AREAS.items()]
    figures.append(
        Figure(
            all_referrals,
            "Referrals made",
            sum(len(ids) for ids in referrals.values()),
            tuple(sorted({case_id for ids in referrals.values() for case_id in ids})),
            Unit.REFERRALS,
        )
    )
    figures += [
        _counted(
            f"work.referral.{key}",
            f"Referred to: {label}",
            referrals[key],
            Unit.REFERRALS,
            all_referrals,
            "work.referral",
        )
        for key, label in REFERRAL_SERVICES.items()
    ]
    return Section("Numbers seen and types of intervention", tuple(figures))


def _counted(key: str, label: str, ids: Sequence[str], unit: Unit, out_of: str, group: str) -> Figure:
    return Figure(key, label, len(ids), tuple(sorted(set(ids))), unit, out_of, group)


def distance_by_need(people: Iterable[PersonFacts], period: Period) -> Section:
    """Distance travelled per need: for people rated in a need in the period, their first rating
    ever against their latest on or before the period's end (moved forward, no change, moved back).
    """
    figures: list[Figure] = []
    for area, label in NEED_AREAS.items():
        forward: list[str] = []
        same: list[str] = []
        back: list[str] = []
        for person in people:
            ratings = sorted(
                (rating for rating in person.ratings if rating.need_area == area and rating.rated_on <= period.end),
                key=lambda rating: (rating.rated_on, rating.recorded),
            )
            if not any(rating.rated_on in period for rating in ratings):
                continue
            moved = ratings[-1].rating.score - ratings[0].rating.score
            (forward if moved > 0 else back if moved < 0 else same).append(person.case_id)
        if not (forward or same or back):
            continue
        total = f"distance.{area}.rated"
        figures += [
            _people(total, f"{label}: rated in the period", forward + same + back),
            _people(
                f"distance.{area}.forward", f"{label}: moved forward", forward, out_of=total, group=f"distance.{area}"
            ),
            _people(f"distance.{area}.same", f"{label}: no change", same, out_of=total, group=f"distance.{area}"),
            _people(f"distance.{area}.back", f"{label}: moved back", back, out_of=total, group=f"distance.{area}"),
        ]
    return Section("Distance travelled, by need", tuple(figures))


def engagement(people: Iterable[PersonFacts], period: Period) -> Section:
    """Who was referred to us but not taken on, and who stopped engaging, in the period (by the
    date recorded with it); and referrals that other services declined in the period."""
    not_accepted: list[str] = []
    stopped: list[str] = []
    declined: list[str] = []
    for person in people:
        if person.engagement_on in period:
            if person.engagement is Engagement.NOT_ACCEPTED:
                not_accepted.append(person.case_id)
            elif person.engagement is Engagement.STOPPED_ENGAGING:
                stopped.append(person.case_id)
        for referral in person.referrals:
            if referral.status == "declined" and (referral.status_on or referral.sent_on) in period:
                declined.append(person.case_id)
    return Section(
        "Not taken on and stopped engaging",
        (
            _people("engagement.not_accepted", "Referred to us but not taken on", not_accepted),
            _people("engagement.stopped", "Stopped engaging", stopped),
            Figure(
                "engagement.referrals_declined",
                "Referrals other services declined",
                len(declined),
                tuple(sorted(set(declined))),
                Unit.REFERRALS,
            ),
        ),
    )


# --- the whole report and its anonymised export -------------------------------------------------


@dataclass(frozen=True)
class OutcomesReport:
    period: Period
    people: int  # everyone on the coordinator's phone the report was computed from
    sections: tuple[Section, ...] = field(default_factory=tuple)
    not_readable: int = 0  # cases on the phone whose person it cannot read, so not counted

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(item for section in self.sections for item in section.figures)

    def figure(self, key: str) -> Figure:
        for item in self.figures:
            if item.key == key:
                return item
        raise KeyError(key)


def outcomes_report(people: Sequence[PersonFacts], period: Period, not_readable: int = 0) -> OutcomesReport:
    """Every measure for the period, in the order the report shows them (``not_readable``: how many
    more cases the phone holds whose person it cannot read, said beside the figures)."""
    return OutcomesReport(
        period,
        len(people),
        (
            ni143(people, period),
            ni144(people, period),
            release_day(people, period),
            work_done(people, period),
            distance_by_need(people, period),
            engagement(people, period),
        ),
        not_readable,
    )


def _small(count: int) -> bool:
    return 0 < count < SMALL_NUMBER


def suppressed_keys(figures: Sequence[Figure]) -> frozenset[str]:
    """The figures the export hides: every count from 1 to 4, and then as many more as it takes so
    that none of them can be worked out by subtraction from a total that is shown.

    - A figure whose difference from its total (``out_of``, or a figure it is ``within``) is 1 to 4
      is hidden (a shown total
      minus a shown part would give the small number).
    - In a group of figures that add up to their total, when what is hidden adds up to 1 to 4, the
      smallest part still shown is hidden too, until what is hidden adds up to 0 or at least 5.
    - A figure whose total is hidden needs nothing more: the total cannot be subtracted from.
    """
    by_key = {item.key: item for item in figures}
    hidden = {item.key for item in figures if _small(item.count)}
    groups: dict[str, list[Figure]] = defaultdict(list)
    for item in figures:
        if item.group is not None:
            groups[item.group].append(item)
    changed = True
    while changed:
        changed = False
        for item in figures:
            totals = [by_key[key] for key in (item.out_of, *item.within) if key is not None and key in by_key]
            if item.key not in hidden and any(
                total.key not in hidden and _small(total.count - item.count) for total in totals
            ):
                hidden.add(item.key)
                changed = True
        for parts in groups.values():
            hidden_sum = sum(part.count for part in parts if part.key in hidden)
            if not _small(hidden_sum):
                continue
            shown = sorted((part for part in parts if part.key not in hidden), key=lambda part: (part.count, part.key))
            if shown:
                hidden.add(shown[0].key)
                changed = True
    return frozenset(hidden)


def shown_value(item: Figure, hidden: frozenset[str]) -> str:
    return SUPPRESSED if item.key in hidden else str(item.count)


def anonymised_rows(report: OutcomesReport) -> list[tuple[str, str, str, str]]:
    """The report for commissioners: (section, measure, counted in, value) per figure, with no
    identifiers and the small numbers suppressed (see :func:`suppressed_keys`). The first rows say
    which period it covers and what ``*`` means."""
    hidden = suppressed_keys(report.figures)
    rows: list[tuple[str, str, str, str]] = [
        ("Period", "From", "date", report.period.start.isoformat()),
        ("Period", "To (included)", "date", report.period.end.isoformat()),
        (
            "Note",
            f"{SUPPRESSED} means fewer than {SMALL_NUMBER}, or hidden so that a number under {SMALL_NUMBER} "
            "cannot be worked out",
            "",
            "",
        ),
    ]
    for section in report.sections:
        rows += [(section.title, item.label, item.unit.value, shown_value(item, hidden)) for item in section.figures]
    return rows


def figure_counts(report: OutcomesReport) -> Mapping[str, int]:
    """Every figure's count by key (for tests and benchmarks)."""
    return {item.key: item.count for item in report.figures}
