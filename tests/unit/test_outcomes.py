"""The outcomes report on hand-made people: every measure, its edge cases, and the suppression of
small numbers in the anonymised export (shared.outcomes)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kinds import CONTACT_SETTINGS, CONTACT_TYPES, REFERRAL_SERVICES
from shared.outcomes import (
    SUPPRESSED,
    AccommodationEntry,
    ContactFact,
    EmploymentEntry,
    Figure,
    GateEntry,
    OutcomesReport,
    Period,
    PersonFacts,
    RatingFact,
    ReferralFact,
    Unit,
    accommodation_at,
    anonymised_rows,
    distance_by_need,
    engagement,
    ete_stage_reached,
    ni143,
    ni144,
    outcomes_report,
    release_day,
    suppressed_keys,
    work_done,
)
from shared.resettlement import (
    NEED_AREAS,
    AccommodationType,
    EmploymentStatus,
    Engagement,
    EteStage,
    Rating,
    settled,
)

Q4 = Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
D = dt.date


def ending(case_id: str, on: dt.date, **facts: object) -> PersonFacts:
    return PersonFacts(case_id=case_id, supervision="licence", supervision_ends_on=on, **facts)  # type: ignore[arg-type]


def home(from_on: dt.date, kind: AccommodationType = AccommodationType.SOCIAL_TENANCY, *, suitable: bool = True,
         recorded: int = 0) -> AccommodationEntry:  # fmt: skip
    return AccommodationEntry(kind, suitable, from_on, recorded)


# --- the period ---------------------------------------------------------------------------------


def test_a_period_includes_both_its_first_and_last_day() -> None:
    assert D(2026, 10, 1) in Q4
    assert D(2026, 12, 31) in Q4
    assert D(2026, 9, 30) not in Q4
    assert D(2027, 1, 1) not in Q4
    with pytest.raises(ValueError, match="ends on or after"):
        Period(D(2026, 12, 1), D(2026, 11, 30))


def test_quarters_run_from_january_april_july_and_october() -> None:
    assert Period.quarter(D(2026, 12, 2)) == Q4
    assert Period.quarter(D(2026, 10, 1), back=1) == Period(D(2026, 7, 1), D(2026, 9, 30))
    assert Period.quarter(D(2026, 2, 28), back=1) == Period(D(2025, 10, 1), D(2025, 12, 31))
    assert Period.quarter(D(2028, 3, 31)) == Period(D(2028, 1, 1), D(2028, 3, 31))


def test_an_order_ending_on_the_first_or_last_day_of_the_period_counts_and_the_day_outside_does_not() -> None:
    people = [
        ending("first-day", D(2026, 10, 1), accommodation=(home(D(2026, 9, 1)),)),
        ending("last-day", D(2026, 12, 31), accommodation=(home(D(2026, 9, 1)),)),
        ending("day-before", D(2026, 9, 30), accommodation=(home(D(2026, 9, 1)),)),
        ending("day-after", D(2027, 1, 1), accommodation=(home(D(2026, 9, 1)),)),
    ]
    section = ni143(people, Q4)
    assert section.figure("ni143.ended").case_ids == ("first-day", "last-day")
    assert section.figure("ni143.settled_suitable").case_ids == ("first-day", "last-day")
    assert ni144(people, Q4).figure("ni144.ended").count == 2


def test_non_statutory_people_have_no_order_or_licence_to_end() -> None:
    people = [
        PersonFacts("typed-an-end-date", supervision="non_statutory", supervision_ends_on=D(2026, 11, 1)),
        PersonFacts("supervision-not-recorded", supervision_ends_on=D(2026, 11, 1)),
        PersonFacts("no-end-date", supervision="licence"),
    ]
    assert ni143(people, Q4).figure("ni143.ended").case_ids == ("supervision-not-recorded",)


# --- NI 143 -------------------------------------------------------------------------------------


def test_accommodation_recorded_from_after_the_end_date_does_not_count() -> None:
    end = D(2026, 11, 15)
    person = ending(
        "moved-after",
        end,
        accommodation=(home(D(2026, 6, 1), AccommodationType.SOFA_SURFING), home(D(2026, 11, 16))),
    )
    assert accommodation_at(person.accommodation, end) == person.accommodation[0]
    section = ni143([person], Q4)
    assert section.figure("ni143.settled_suitable").count == 0
    assert section.figure("ni143.ended").count == 1


def test_the_date_the_accommodation_is_from_counts_not_when_it_was_written() -> None:
    end = D(2026, 11, 15)
    # Written last (recorded 9) but from an earlier day than the entry written first.
    person = ending(
        "late-entry",
        end,
        accommodation=(
            home(D(2026, 11, 10), AccommodationType.ROUGH_SLEEPING, recorded=1),
            home(D(2026, 11, 1), AccommodationType.PRIVATE_TENANCY, recorded=9),
        ),
    )
    at_end = accommodation_at(person.accommodation, end)
    assert at_end is not None
    assert at_end.accommodation_type is AccommodationType.ROUGH_SLEEPING
    # An entry from on the end date itself counts.
    on_the_day = ending("on-the-day", end, accommodation=(home(D(2026, 1, 1), AccommodationType.CUSTODY), home(end)))
    assert ni143([person, on_the_day], Q4).figure("ni143.settled_suitable").case_ids == ("on-the-day",)


def test_two_entries_from_the_same_day_the_one_recorded_later_counts() -> None:
    day = D(2026, 11, 1)
    first, corrected = home(day, AccommodationType.TEMPORARY, recorded=1), home(day, recorded=2)
    assert accommodation_at([corrected, first], D(2026, 11, 2)) == corrected


@pytest.mark.parametrize(
    ("kind", "as_defined", "strict"),
    [
        (AccommodationType.SOCIAL_TENANCY, True, True),
        (AccommodationType.FAMILY_OR_FRIENDS, True, True),
        (AccommodationType.SUPPORTED_HOUSING_TENANCY, True, True),
        (AccommodationType.APPROVED_PREMISES, True, False),
        (AccommodationType.BAIL_HOSTEL, True, False),
        (AccommodationType.SUPPORTED_HOUSING, True, False),
        (AccommodationType.HOMELESS_HOSTEL, False, False),
        (AccommodationType.SOFA_SURFING, False, False),
    ],
)
def test_hostels_and_approved_premises_count_as_settled_only_as_defined(
    kind: AccommodationType, as_defined: bool, strict: bool
) -> None:
    section = ni143([ending("p", D(2026, 11, 1), accommodation=(home(D(2026, 10, 1), kind),))], Q4)
    assert section.figure("ni143.settled_suitable").count == int(as_defined)
    assert section.figure("ni143.settled_suitable_strict").count == int(strict)


def test_settled_but_unsuitable_and_nothing_recorded_are_counted_apart() -> None:
    people = [
        ending("overcrowded", D(2026, 11, 1), accommodation=(home(D(2026, 10, 1), suitable=False),)),
        ending("nothing-yet", D(2026, 11, 1)),
        ending("only-after", D(2026, 11, 1), accommodation=(home(D(2026, 11, 2)),)),
    ]
    section = ni143(people, Q4)
    assert section.figure("ni143.settled_suitable").count == 0
    assert section.figure("ni143.settled_not_suitable").case_ids == ("overcrowded",)
    assert section.figure("ni143.not_recorded").case_ids == ("nothing-yet", "only-after")


# --- NI 144 -------------------------------------------------------------------------------------


def work(
    from_on: dt.date, status: EmploymentStatus, stage: EteStage | None = None, recorded: int = 0
) -> EmploymentEntry:
    return EmploymentEntry(status, from_on, stage, recorded)


def test_in_employment_at_the_end_part_time_or_full_time() -> None:
    end = D(2026, 12, 1)
    people = [
        ending("full", end, employment=(work(D(2026, 11, 1), EmploymentStatus.FULL_TIME),)),
        ending("part", end, employment=(work(D(2026, 11, 1), EmploymentStatus.PART_TIME),)),
        ending(
            "lost-job",
            end,
            employment=(
                work(D(2026, 10, 1), EmploymentStatus.FULL_TIME, EteStage.EMPLOYMENT),
                work(D(2026, 11, 20), EmploymentStatus.NONE, EteStage.JOB_SEEKING),
            ),
        ),
        ending("starts-after", end, employment=(work(D(2026, 12, 2), EmploymentStatus.FULL_TIME),)),
    ]
    section = ni144(people, Q4)
    assert section.figure("ni144.employed").case_ids == ("full", "part")
    assert section.figure("ni144.full_time").case_ids == ("full",)
    assert section.figure("ni144.part_time").case_ids == ("part",)
    assert section.figure("ni144.not_recorded").case_ids == ("starts-after",)
    # Someone who reached employment and lost the job has still reached employment.
    assert section.figure("ni144.stage.employment").case_ids == ("lost-job",)
    assert section.figure("ni144.stage.none").case_ids == ("full", "part", "starts-after")


def test_the_ete_stage_reached_is_the_highest_step_from_the_end_date_or_before() -> None:
    entries = [
        work(D(2026, 1, 1), EmploymentStatus.NONE, EteStage.BASIC_SKILLS),
        work(D(2026, 3, 1), EmploymentStatus.NONE, EteStage.VOCATIONAL_TRAINING),
        work(D(2026, 5, 1), EmploymentStatus.NONE, EteStage.SOFT_SKILLS),
        work(D(2026, 7, 1), EmploymentStatus.FULL_TIME, EteStage.SUSTAINED_EMPLOYMENT),
    ]
    assert ete_stage_reached(entries, D(2026, 6, 30)) is EteStage.VOCATIONAL_TRAINING
    assert ete_stage_reached(entries, D(2026, 7, 1)) is EteStage.SUSTAINED_EMPLOYMENT
    assert ete_stage_reached(entries, D(2025, 12, 31)) is None
    assert EteStage.SOFT_SKILLS.label == "Soft skills and motivation"


# --- release day --------------------------------------------------------------------------------


def test_release_day_counts_people_released_in_the_period_by_their_latest_gate_outcome() -> None:
    people = [
        PersonFacts("housed", release_on=D(2026, 10, 1), gate_outcomes=(GateEntry(True, True, True),)),
        PersonFacts(
            "missed-then-met",
            release_on=D(2026, 12, 31),
            gate_outcomes=(GateEntry(False, recorded=1), GateEntry(True, False, True, recorded=2)),
        ),
        PersonFacts("nothing-recorded", release_on=D(2026, 11, 5)),
        PersonFacts("released-before", release_on=D(2026, 9, 30), gate_outcomes=(GateEntry(True, True, True),)),
        PersonFacts("no-address", release_on=D(2026, 11, 5), gate_outcomes=(GateEntry(True, False, False),)),
    ]
    section = release_day(people, Q4)
    assert section.figure("release.released").count == 4
    assert section.figure("release.met").case_ids == ("housed", "missed-then-met", "no-address")
    assert section.figure("release.housed").case_ids == ("housed",)
    assert section.figure("release.reached_address").case_ids == ("housed", "missed-then-met")
    assert section.figure("release.not_recorded").case_ids == ("nothing-recorded",)


# --- numbers seen and types of intervention -----------------------------------------------------


def test_people_seen_contacts_by_setting_and_type_needs_and_referrals() -> None:
    people = [
        PersonFacts(
            "seen",
            contacts=(
                ContactFact(D(2026, 10, 1), "prison_gate", "face_to_face", ("accommodation", "finance")),
                ContactFact(D(2026, 10, 2), "street", "attempted"),
                ContactFact(D(2026, 9, 30), "office", "face_to_face", ("drugs",)),  # before the period
            ),
            referrals=(ReferralFact("housing_options", D(2026, 10, 3), "sent"),),
        ),
        PersonFacts(
            "only-attempts",
            contacts=(
                ContactFact(D(2026, 12, 31), "street", "attempted"),
                ContactFact(D(2026, 11, 1), "remote", "attempted"),
            ),
            referrals=(ReferralFact("dip", D(2026, 9, 1), "accepted"),),
        ),
    ]
    section = work_done(people, Q4)
    assert section.figure("work.seen").case_ids == ("seen",)
    contacts = section.figure("work.contacts")
    assert (contacts.count, contacts.unit, contacts.case_ids) == (4, Unit.CONTACTS, ("only-attempts", "seen"))
    street = section.figure("work.setting.street")
    assert (street.count, street.case_ids) == (2, ("only-attempts", "seen"))
    assert section.figure("work.type.attempted").count == 3
    assert section.figure("work.type.face_to_face").count == 1
    assert section.figure("work.need.accommodation").case_ids == ("seen",)
    assert section.figure("work.need.drugs").count == 0
    assert section.figure("work.referrals").count == 1
    assert section.figure("work.referral.housing_options").case_ids == ("seen",)
    # Settings and types each add up to all contacts.
    for group in ("work.setting", "work.type"):
        parts = [item for item in section.figures if item.group == group]
        assert sum(item.count for item in parts) == contacts.count


# --- distance travelled -------------------------------------------------------------------------


def rated(area: str, rating: Rating, on: dt.date) -> RatingFact:
    return RatingFact(area, rating, on)


def test_distance_travelled_from_the_first_rating_to_the_latest_by_the_end_of_the_period() -> None:
    people = [
        PersonFacts("forward", ratings=(rated("accommodation", Rating.RED, D(2026, 5, 1)),
                                        rated("accommodation", Rating.GREEN, D(2026, 11, 1)))),
        PersonFacts("back", ratings=(rated("accommodation", Rating.GREEN, D(2026, 10, 1)),
                                     rated("accommodation", Rating.AMBER, D(2026, 10, 20)))),
        PersonFacts("once", ratings=(rated("accommodation", Rating.AMBER, D(2026, 10, 5)),)),
        # Rated in the period only after its end: the rating after the end does not count.
        PersonFacts("after-end", ratings=(rated("accommodation", Rating.RED, D(2026, 12, 1)),
                                          rated("accommodation", Rating.GREEN, D(2027, 1, 5)))),
        # Not rated in the period at all: left out.
        PersonFacts("earlier", ratings=(rated("accommodation", Rating.RED, D(2026, 1, 1)),
                                        rated("accommodation", Rating.GREEN, D(2026, 2, 1)))),
    ]  # fmt: skip
    section = distance_by_need(people, Q4)
    assert section.figure("distance.accommodation.rated").count == 4
    assert section.figure("distance.accommodation.forward").case_ids == ("forward",)
    assert section.figure("distance.accommodation.back").case_ids == ("back",)
    assert section.figure("distance.accommodation.same").case_ids == ("after-end", "once")
    # A need nobody was rated in during the period is not shown.
    with pytest.raises(KeyError):
        section.figure("distance.drugs.rated")


# --- engagement ---------------------------------------------------------------------------------


def test_not_taken_on_stopped_engaging_and_declined_referrals_in_the_period() -> None:
    people = [
        PersonFacts("not-taken-on", engagement=Engagement.NOT_ACCEPTED, engagement_on=D(2026, 10, 1)),
        PersonFacts("stopped", engagement=Engagement.STOPPED_ENGAGING, engagement_on=D(2026, 12, 31)),
        PersonFacts("stopped-earlier", engagement=Engagement.STOPPED_ENGAGING, engagement_on=D(2026, 9, 30)),
        PersonFacts("engaging", engagement=Engagement.ENGAGING, engagement_on=D(2026, 11, 1)),
        PersonFacts(
            "declined",
            referrals=(
                ReferralFact("hostel", D(2026, 9, 1), "declined", D(2026, 10, 2)),
                ReferralFact("gp", D(2026, 10, 1), "accepted", D(2026, 10, 2)),
            ),
        ),
    ]
    section = engagement(people, Q4)
    assert section.figure("engagement.not_accepted").case_ids == ("not-taken-on",)
    assert section.figure("engagement.stopped").case_ids == ("stopped",)
    assert section.figure("engagement.referrals_declined").case_ids == ("declined",)


# --- suppression --------------------------------------------------------------------------------


def fig(key: str, count: int, out_of: str | None = None, group: str | None = None) -> Figure:
    return Figure(key, key, count, (), Unit.PEOPLE, out_of, group)


@pytest.mark.parametrize(("count", "hidden"), [(0, False), (1, True), (4, True), (5, False), (30, False)])
def test_counts_from_one_to_four_are_hidden_and_zero_is_shown(count: int, hidden: bool) -> None:
    assert ("n" in suppressed_keys([fig("n", count)])) is hidden


def test_a_count_that_would_give_a_small_number_by_subtraction_is_hidden_too() -> None:
    figures = [fig("total", 12), fig("settled", 10, "total"), fig("unsettled_shown", 6, "total")]
    assert suppressed_keys(figures) == {"settled"}
    # With the total hidden there is nothing to subtract from.
    assert suppressed_keys([fig("total", 3), fig("part", 0, "total")]) == {"total"}


def test_in_a_group_adding_up_to_a_total_more_are_hidden_until_the_hidden_add_up_to_five() -> None:
    figures = [
        fig("all", 20),
        fig("a", 2, "all", "g"),
        fig("b", 1, "all", "g"),
        fig("c", 7, "all", "g"),
        fig("d", 10, "all", "g"),
    ]
    hidden = suppressed_keys(figures)
    assert hidden == {"a", "b", "c"}
    assert sum(item.count for item in figures if item.key in hidden) >= 5


def test_the_anonymised_rows_hold_no_identifiers_and_no_small_numbers() -> None:
    people = [
        ending(f"person-{n}", D(2026, 11, 1), accommodation=(home(D(2026, 10, 1)),), release_on=D(2026, 10, 2))
        for n in range(7)
    ]
    people.append(
        ending("person-hostel", D(2026, 11, 1), accommodation=(home(D(2026, 10, 1), AccommodationType.BAIL_HOSTEL),))
    )
    report = outcomes_report(people, Q4)
    rows = anonymised_rows(report)
    text = "\n".join(",".join(row) for row in rows)
    assert "person-" not in text
    values = {label: value for _, label, _, value in rows}
    assert values["Order or licence ended in the period"] == "8"
    # 8 as defined but 7 strictly: the difference of 1 (the bail hostel) must not show.
    assert values["Settled and suitable, counting hostels and Approved Premises (as defined)"] == "8"
    assert values["Settled and suitable, not counting hostels, Approved Premises or supported housing"] == SUPPRESSED
    assert rows[0] == ("Period", "From", "date", "2026-10-01")
    assert rows[1] == ("Period", "To (included)", "date", "2026-12-31")


# --- properties ---------------------------------------------------------------------------------

DAYS = st.dates(min_value=D(2026, 8, 1), max_value=D(2027, 2, 28))
ACCOMMODATION = st.builds(
    AccommodationEntry, st.sampled_from(AccommodationType), st.booleans(), DAYS, st.integers(0, 50)
)
EMPLOYMENT = st.builds(
    EmploymentEntry, st.sampled_from(EmploymentStatus), DAYS, st.none() | st.sampled_from(EteStage), st.integers(0, 50)
)
CONTACTS = st.builds(
    ContactFact,
    DAYS,
    st.sampled_from(list(CONTACT_SETTINGS)),
    st.sampled_from(list(CONTACT_TYPES)),
    st.lists(st.sampled_from(list(NEED_AREAS)), max_size=3, unique=True).map(tuple),
)
RATINGS = st.builds(RatingFact, st.sampled_from(["accommodation", "ete", "drugs"]), st.sampled_from(Rating), DAYS)
REFERRALS = st.builds(
    ReferralFact,
    st.sampled_from(list(REFERRAL_SERVICES)),
    DAYS,
    st.sampled_from(["sent", "accepted", "declined", "started"]),
    st.none() | DAYS,
)


@st.composite
def people(draw: st.DrawFn) -> list[PersonFacts]:
    count = draw(st.integers(0, 25))
    return [
        PersonFacts(
            case_id=f"case-{n:02d}",
            release_on=draw(st.none() | DAYS),
            supervision=draw(st.none() | st.sampled_from(["licence", "community_order", "non_statutory"])),
            supervision_ends_on=draw(st.none() | DAYS),
            engagement=draw(st.none() | st.sampled_from(Engagement)),
            engagement_on=draw(st.none() | DAYS),
            accommodation=tuple(draw(st.lists(ACCOMMODATION, max_size=3))),
            employment=tuple(draw(st.lists(EMPLOYMENT, max_size=3))),
            gate_outcomes=tuple(
                draw(
                    st.lists(
                        st.builds(
                            GateEntry,
                            st.booleans(),
                            st.none() | st.booleans(),
                            st.none() | st.booleans(),
                            st.integers(0, 9),
                        ),
                        max_size=2,
                    )
                )
            ),
            contacts=tuple(draw(st.lists(CONTACTS, max_size=4))),
            ratings=tuple(draw(st.lists(RATINGS, max_size=4))),
            referrals=tuple(draw(st.lists(REFERRALS, max_size=2))),
        )
        for n in range(count)
    ]


PERIODS = st.builds(lambda start, days: Period(start, start + dt.timedelta(days=days)), DAYS, st.integers(0, 120))


@settings(max_examples=60, deadline=None)
@given(people(), PERIODS)
def test_everyone_in_a_figure_meets_its_definition_and_the_strict_count_never_exceeds_the_defined(
    facts: list[PersonFacts], period: Period
) -> None:
    report = outcomes_report(facts, period)
    by_id = {person.case_id: person for person in facts}
    defined = report.figure("ni143.settled_suitable")
    strict = report.figure("ni143.settled_suitable_strict")
    assert set(strict.case_ids) <= set(defined.case_ids) <= set(report.figure("ni143.ended").case_ids)
    for case_id in defined.case_ids:
        person = by_id[case_id]
        assert person.supervision_ends_on in period
        assert person.supervision != "non_statutory"
        assert person.supervision_ends_on is not None
        entry = accommodation_at(person.accommodation, person.supervision_ends_on)
        assert entry is not None
        assert entry.from_on <= person.supervision_ends_on
        assert entry.suitable
        assert settled(entry.accommodation_type, counting_hostels=True)
    for case_id in report.figure("ni144.employed").case_ids:
        person = by_id[case_id]
        assert person.supervision_ends_on is not None
        assert any(e.from_on <= person.supervision_ends_on and e.status.employed for e in person.employment)
    for case_id in report.figure("release.met").case_ids:
        assert by_id[case_id].release_on in period
    for item in report.figures:
        assert set(item.case_ids) <= set(by_id)
        if item.unit is Unit.PEOPLE:
            assert item.count == len(item.case_ids)
    stages = [item for item in report.figures if item.group == "ni144.stage"]
    assert sum(item.count for item in stages) == report.figure("ni144.ended").count


def _hidden_is_safe(report: OutcomesReport) -> None:
    figures = report.figures
    hidden = suppressed_keys(figures)
    shown = {item.key: item.count for item in figures if item.key not in hidden}
    # No small number is shown, and none can be had by subtracting a shown part from a shown total.
    assert not [count for count in shown.values() if 0 < count < 5]
    for item in figures:
        for total in (item.out_of, *item.within):
            if item.key in shown and total in shown:
                assert not 0 < shown[total] - shown[item.key] < 5, (item.key, total)
    # In a group adding up to a shown total, what is hidden adds up to 0 or at least 5.
    groups: dict[str, int] = {}
    for item in figures:
        if item.group is not None and item.key in hidden and item.out_of in shown:
            groups[item.group] = groups.get(item.group, 0) + item.count
    assert not [group for group, total in groups.items() if 0 < total < 5]
    values = [row[3] for row in anonymised_rows(report)]
    assert not [value for value in values if value in ("1", "2", "3", "4")]


@settings(max_examples=60, deadline=None)
@given(people(), PERIODS)
def test_suppression_never_reveals_a_number_from_one_to_four(facts: list[PersonFacts], period: Period) -> None:
    _hidden_is_safe(outcomes_report(facts, period))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=6))
def test_suppression_of_any_group_leaves_no_small_remainder(parts: list[int]) -> None:
    total = sum(parts)
    figures = [fig("total", total)] + [fig(f"p{n}", count, "total", "g") for n, count in enumerate(parts)]
    hidden = suppressed_keys(figures)
    hidden_sum = sum(item.count for item in figures[1:] if item.key in hidden)
    assert "total" in hidden or not 0 < hidden_sum < 5
    assert not [item for item in figures if item.key not in hidden and 0 < item.count < 5]
