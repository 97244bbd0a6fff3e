"""``DashboardService``: the coordinator's view of the team's caseloads, on the coordinator's phone.

Like the outcomes report, it is worked out where the content can be read: from the decrypted
records a coordinator's phone holds (the server sees only ciphertext). Coordinators only.

**Whose caseload a person is on.** The person's lead professional, when that names a member of the
team: the name before any " (organisation)" in the *Lead professional* field, matched (ignoring
case) against the names team members give in their own entries (contact notes, handover steps,
records opened) and the coordinator's own name. Otherwise whoever added the person (the author of
their first details), named the same way, or "a colleague" when they have written nothing this
phone can read. A worker is known by their user id.

Per worker: their people, each with the last contact that reached them (an attempted contact is not
one, as on Today), open plan actions and follow-ups past their due date, the release when it falls
in the window, and whether they work with us; the worker's latest contact over all their people;
how many have a release in the window; how many stopped engaging or were referred but not taken on.

Filters (applied here, to the caseloads and the charts alike): a worker, whether people work with
us (a person with nothing recorded counts as working with us: someone on the caseload is taken on
unless someone says otherwise), and a release window of 7, 14 or 28 days (only the people released
from today to that many days ahead; without it, "releases in the window" means the next 14 days).

Charts, for the people the filters choose:

- contacts per week by setting, for the last 12 weeks (weeks start on Monday, this week last);
- needs moving from red to green: for each need area rated, how many people moved up, stayed or
  moved down from their first rating to their latest (``shared.resettlement.distance_travelled``);
- outcomes over time, per calendar quarter for the last 4 (this one last): NI 143 as defined and
  strict, and NI 144, as ``shared.outcomes`` counts them (people whose order or licence ended in the
  quarter).

A value this phone cannot read is left out, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from outreach_app.errors import NotAllowed, ValidationFailed
from outreach_app.services.device import Device, Identity
from outreach_app.services.facts import caseload_facts
from shared.kinds import (
    CONTACT_SETTINGS,
)
from shared.outcomes import Period, PersonFacts, ni143, ni144
from shared.protocol import Role
from shared.resettlement import (
    NEED_AREAS,
    RELEASE_WINDOW_DAYS,
    Engagement,
    FollowUpState,
    Rating,
    Release,
    distance_travelled,
    follow_up_state,
)

__all__ = [
    "ENGAGEMENT_FILTERS",
    "RELEASE_WINDOWS",
    "CaseloadPerson",
    "ContactWeeks",
    "Dashboard",
    "DashboardFilters",
    "DashboardService",
    "NeedMovement",
    "QuarterOutcomes",
    "WorkerCaseload",
]

RELEASE_WINDOWS = (7, 14, 28)
# The engagement filter's choices, in plain words.
ENGAGEMENT_FILTERS: Mapping[str, str] = {
    Engagement.ENGAGING.value: "Working with us",
    Engagement.STOPPED_ENGAGING.value: "Stopped engaging",
    Engagement.NOT_ACCEPTED.value: "Referred to us but not taken on",
}
WEEKS = 12
QUARTERS = 4
A_COLLEAGUE = "a colleague"


@dataclass(frozen=True)
class DashboardFilters:
    worker: str | None = None  # a worker's key (user id); None: the whole team
    engagement: str | None = None  # a key of ENGAGEMENT_FILTERS; None: everyone
    release_days: int | None = None  # 7, 14 or 28: only people released in that many days; None: everyone

    def check(self) -> None:
        problems = {}
        if self.engagement is not None and self.engagement not in ENGAGEMENT_FILTERS:
            problems["engagement"] = "Choose who to show by whether they work with us."
        if self.release_days is not None and self.release_days not in RELEASE_WINDOWS:
            problems["release_days"] = "Choose a release window of 7, 14 or 28 days."
        if problems:
            raise ValidationFailed(problems)


@dataclass(frozen=True)
class CaseloadPerson:
    case_id: str
    name: str
    worker: str  # the worker's key
    by_lead_professional: bool  # on this caseload as the lead professional (else: who added them)
    last_contact_on: dt.date | None  # the last contact that reached them
    overdue_follow_ups: int  # open plan actions and follow-ups past their due date
    release: Release | None
    release_in_window: bool
    engagement: Engagement | None  # None: not recorded (counted as working with us)


@dataclass(frozen=True)
class WorkerCaseload:
    key: str
    name: str
    is_you: bool
    people: tuple[CaseloadPerson, ...]  # soonest release in the window first, then by name

    @property
    def last_contact_on(self) -> dt.date | None:
        return max((p.last_contact_on for p in self.people if p.last_contact_on), default=None)

    @property
    def overdue_follow_ups(self) -> int:
        return sum(person.overdue_follow_ups for person in self.people)

    @property
    def releases(self) -> int:
        return sum(1 for person in self.people if person.release_in_window)

    @property
    def stopped_engaging(self) -> int:
        return sum(1 for person in self.people if person.engagement is Engagement.STOPPED_ENGAGING)

    @property
    def not_taken_on(self) -> int:
        return sum(1 for person in self.people if person.engagement is Engagement.NOT_ACCEPTED)


@dataclass(frozen=True)
class ContactWeeks:
    """Contacts per week, by setting: ``counts[setting][i]`` is the week starting ``weeks[i]``."""

    weeks: tuple[dt.date, ...]  # Mondays, oldest first
    counts: Mapping[str, tuple[int, ...]]  # only the settings with any contact, in CONTACT_SETTINGS order

    def total(self, index: int) -> int:
        return sum(series[index] for series in self.counts.values())


@dataclass(frozen=True)
class NeedMovement:
    need_area: str
    label: str
    moved_up: int  # towards green
    stayed: int  # no change (rated once, or back where they started)
    moved_down: int


@dataclass(frozen=True)
class QuarterOutcomes:
    period: Period
    ended: int  # orders or licences that ended in the quarter (the NI 143 and NI 144 cohort)
    ni143: int  # settled and suitable, as defined (hostels and Approved Premises count)
    ni143_strict: int  # not counting them
    ni144: int  # in employment

    @staticmethod
    def share(count: int, ended: int) -> int | None:
        """A whole percentage, or None when nobody's order or licence ended."""
        return round(100 * count / ended) if ended else None


@dataclass(frozen=True)
class Dashboard:
    on: dt.date
    filters: DashboardFilters
    workers: tuple[WorkerCaseload, ...]  # the workers with people the filters chose, by name
    team: tuple[tuple[str, str], ...]  # every worker with a caseload (key, name), for the filter
    contacts: ContactWeeks
    needs: tuple[NeedMovement, ...]
    outcomes: tuple[QuarterOutcomes, ...]  # oldest first
    window_days: int = RELEASE_WINDOW_DAYS  # the days "releases in the window" covers
    people: int = field(default=0)  # the people the filters chose

    def worker(self, key: str) -> WorkerCaseload | None:
        return next((worker for worker in self.workers if worker.key == key), None)


@dataclass
class _Person:
    entry: CaseloadPerson
    facts: PersonFacts


class DashboardService:
    def __init__(self, device: Device) -> None:
        self._device = device

    def dashboard(self, filters: DashboardFilters | None = None) -> Dashboard:
        """The team's caseloads and the charts, for the people ``filters`` choose."""
        device = self._device
        identity = device.require_identity()
        if identity.role is not Role.COORDINATOR:
            raise NotAllowed("Only a coordinator can see the team's caseloads.")
        filters = filters or DashboardFilters()
        filters.check()
        today = dt.datetime.fromtimestamp(device.now_ms() / 1000).date()
        window = filters.release_days or RELEASE_WINDOW_DAYS
        caseload = caseload_facts(device)
        names = {**caseload.author_names, identity.user_id: identity.display_name}
        by_name = {name.casefold(): user_id for user_id, name in names.items()}

        everyone: list[_Person] = []
        for known in caseload.people:
            facts = known.facts
            lead = _lead_name(known.lead_professional)
            worker = by_name.get(lead.casefold()) if lead else None
            by_lead = worker is not None
            if worker is None:
                worker = _author_key(known.added_by_user_id, known.added_by_device_id, identity)
            release = Release.parse(known.release_at)
            in_window = release is not None and today <= release.on <= today + dt.timedelta(days=window)
            everyone.append(
                _Person(
                    CaseloadPerson(
                        case_id=known.case_id,
                        name=known.name,
                        worker=worker,
                        by_lead_professional=by_lead,
                        last_contact_on=facts.last_contact_on,
                        overdue_follow_ups=sum(
                            follow_up_state(due_on, done, today) is FollowUpState.OVERDUE
                            for due_on, done in known.plan_actions
                        ),
                        release=release,
                        release_in_window=in_window,
                        engagement=facts.engagement,
                    ),
                    facts,
                )
            )

        team = sorted(
            {item.entry.worker for item in everyone},
            key=lambda key: (names.get(key, A_COLLEAGUE).casefold(), key),
        )
        chosen = [item for item in everyone if _chosen(item.entry, filters)]
        caseloads: dict[str, list[CaseloadPerson]] = defaultdict(list)
        for item in chosen:
            caseloads[item.entry.worker].append(item.entry)
        workers = tuple(
            WorkerCaseload(
                key=key,
                name=names.get(key, A_COLLEAGUE),
                is_you=key == identity.user_id,
                people=tuple(sorted(caseloads[key], key=_person_order)),
            )
            for key in team
            if caseloads.get(key)
        )
        chosen_facts = [item.facts for item in chosen]
        return Dashboard(
            on=today,
            filters=filters,
            workers=workers,
            team=tuple((key, names.get(key, A_COLLEAGUE)) for key in team),
            contacts=contacts_by_week(chosen_facts, today),
            needs=needs_movement(chosen_facts),
            outcomes=outcomes_by_quarter(chosen_facts, today),
            window_days=window,
            people=len(chosen),
        )


# --- the charts' series (pure: the facts and the day are passed in) ----------------------------


def contacts_by_week(people: Iterable[PersonFacts], today: dt.date, weeks: int = WEEKS) -> ContactWeeks:
    """Contacts (attempts included) per week and setting, for the ``weeks`` weeks up to this one."""
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = tuple(this_monday - dt.timedelta(weeks=back) for back in range(weeks - 1, -1, -1))
    counts: dict[str, list[int]] = {}
    for person in people:
        for contact in person.contacts:
            if contact.occurred_on > today:
                continue
            monday = contact.occurred_on - dt.timedelta(days=contact.occurred_on.weekday())
            index = weeks - 1 - (this_monday - monday).days // 7
            if 0 <= index < weeks:
                counts.setdefault(contact.setting, [0] * weeks)[index] += 1
    ordered = {key: tuple(counts[key]) for key in CONTACT_SETTINGS if key in counts}
    return ContactWeeks(mondays, ordered)


def needs_movement(people: Iterable[PersonFacts]) -> tuple[NeedMovement, ...]:
    """For each need area anyone is rated in: people who moved up, stayed or moved down, from their
    first rating to their latest."""
    moved: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for person in people:
        by_area: dict[str, list[tuple[dt.date, int, Rating]]] = defaultdict(list)
        for rating in person.ratings:
            by_area[rating.need_area].append((rating.rated_on, rating.recorded, rating.rating))
        for area, ratings in by_area.items():
            ratings.sort(key=lambda item: (item[0], item[1]))
            distance = distance_travelled((day, rating) for day, _, rating in ratings)
            if distance is None:
                continue
            moved[area][0 if distance > 0 else 2 if distance < 0 else 1] += 1
    return tuple(NeedMovement(area, label, *moved[area]) for area, label in NEED_AREAS.items() if area in moved)


def outcomes_by_quarter(
    people: Sequence[PersonFacts], today: dt.date, quarters: int = QUARTERS
) -> tuple[QuarterOutcomes, ...]:
    """NI 143 (as defined and strict) and NI 144 for each of the last ``quarters`` calendar quarters."""
    results = []
    for back in range(quarters - 1, -1, -1):
        period = Period.quarter(today, back=back)
        housing, work = ni143(people, period), ni144(people, period)
        results.append(
            QuarterOutcomes(
                period,
                ended=housing.figure("ni143.ended").count,
                ni143=housing.figure("ni143.settled_suitable").count,
                ni143_strict=housing.figure("ni143.settled_suitable_strict").count,
                ni144=work.figure("ni144.employed").count,
            )
        )
    return tuple(results)


# --- helpers ------------------------------------------------------------------------------------


def _chosen(person: CaseloadPerson, filters: DashboardFilters) -> bool:
    if filters.worker is not None and person.worker != filters.worker:
        return False
    if filters.engagement is not None and (person.engagement or Engagement.ENGAGING).value != filters.engagement:
        return False
    return filters.release_days is None or person.release_in_window


def _person_order(person: CaseloadPerson) -> tuple[bool, dt.date, str, str]:
    release = person.release.on if person.release and person.release_in_window else dt.date.max
    return (not person.release_in_window, release, person.name.casefold(), person.case_id)


def _lead_name(value: object) -> str | None:
    """ "Sam Okoro (Demo Outreach)" -> "Sam Okoro"."""
    if not isinstance(value, str):
        return None
    name = value.split(" (", 1)[0].strip()
    return name or None


def _author_key(user_id: str | None, device_id: str, identity: Identity) -> str:
    if user_id is not None:
        return user_id
    # Not acknowledged yet: only this phone's own unsent versions have no user id.
    return identity.user_id if device_id == identity.device_id else f"device:{device_id}"
