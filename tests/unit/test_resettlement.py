"""The domain rules behind Today, the gate checklist, follow-ups and NI 143 (shared/resettlement.py)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.resettlement import (
    NEED_AREAS,
    READINESS_ITEMS,
    AccommodationPlan,
    AccommodationType,
    ConsentStep,
    FollowUpState,
    HandoverStep,
    Rating,
    Release,
    ReleaseFlag,
    consents_to_review,
    contact_due,
    contact_interval_days,
    distance_travelled,
    follow_up_state,
    handover_progress,
    planned_follow_ups,
    readiness,
    release_flags,
    releases_in_window,
    settled,
)

FRIDAY = dt.date(2026, 12, 4)
MONDAY = dt.date(2026, 11, 30)


def test_release_reads_the_person_field_with_or_without_a_time() -> None:
    assert Release.parse("2026-12-04T14:30") == Release(FRIDAY, dt.time(14, 30))
    assert Release.parse("2026-12-04") == Release(FRIDAY)
    assert Release.parse("") is None
    assert Release.parse(None) is None
    assert Release.parse("next tuesday") is None


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        (Release(FRIDAY, dt.time(14, 0)), (ReleaseFlag.FRIDAY_AFTERNOON,)),
        (Release(FRIDAY, dt.time(12, 0)), (ReleaseFlag.FRIDAY_AFTERNOON,)),
        (Release(FRIDAY, dt.time(11, 59)), ()),
        # Until the prison confirms a morning time the worker plans for the afternoon.
        (Release(FRIDAY), (ReleaseFlag.FRIDAY_AFTERNOON, ReleaseFlag.TIME_NOT_CONFIRMED)),
        (Release(MONDAY, dt.time(15, 0)), ()),
        (Release(MONDAY), (ReleaseFlag.TIME_NOT_CONFIRMED,)),
    ],
)
def test_friday_afternoon_and_unknown_time_are_flagged(release: Release, expected: tuple[ReleaseFlag, ...]) -> None:
    assert release_flags(release, AccommodationPlan.CONFIRMED) == expected


@pytest.mark.parametrize(
    ("plan", "flagged"),
    [
        (AccommodationPlan.CONFIRMED, False),
        (AccommodationPlan.BEDSPACE_HELD, False),
        (AccommodationPlan.APPLIED, True),
        (AccommodationPlan.NONE, True),
        (None, True),
    ],
)
def test_no_accommodation_confirmed_is_flagged(plan: AccommodationPlan | None, flagged: bool) -> None:
    flags = release_flags(Release(MONDAY, dt.time(9, 0)), plan)
    assert (ReleaseFlag.NO_ACCOMMODATION in flags) is flagged


def test_every_flag_and_plan_has_plain_words() -> None:
    assert all(flag.label and "offender" not in flag.label.lower() for flag in ReleaseFlag)
    assert all(plan.label for plan in AccommodationPlan)


def test_releases_in_the_next_fourteen_days_soonest_first() -> None:
    today = MONDAY
    releases = {
        "yesterday": Release(today - dt.timedelta(days=1)),
        "today-unknown": Release(today),
        "today-9": Release(today, dt.time(9, 0)),
        "day-14": Release(today + dt.timedelta(days=14)),
        "day-15": Release(today + dt.timedelta(days=15)),
        "friday": Release(FRIDAY, dt.time(13, 0)),
    }
    assert [key for key, _ in releases_in_window(releases, today)] == ["today-9", "today-unknown", "friday", "day-14"]


def test_readiness_counts_the_checklist_and_names_what_is_missing() -> None:
    nothing = readiness({})
    assert (nothing.done, nothing.total, nothing.ready) == (0, len(READINESS_ITEMS), False)
    almost = readiness({item: item != "gp" for item in READINESS_ITEMS})
    assert almost.missing == (READINESS_ITEMS["gp"],)
    assert readiness(dict.fromkeys(READINESS_ITEMS, True)).ready
    # Something the checklist does not know is ignored rather than counted.
    assert readiness({"spaceship": True}).done == 0


@pytest.mark.parametrize(
    ("days_since_release", "every"),
    [(0, 2), (6, 2), (7, 3), (13, 3), (14, 7), (200, 7), (-10, 7)],
)
def test_cadence_is_intensive_for_two_weeks_then_weekly(days_since_release: int, every: int) -> None:
    today = MONDAY + dt.timedelta(days=days_since_release)
    assert contact_interval_days(MONDAY, today) == every


def test_the_plan_overrides_the_cadence_and_no_release_means_weekly() -> None:
    assert contact_interval_days(MONDAY, MONDAY, plan_every_days=1) == 1
    assert contact_interval_days(MONDAY, MONDAY, plan_every_days=0) == 2
    assert contact_interval_days(None, MONDAY) == 7


def test_planned_follow_ups_start_close_together_then_spread_out() -> None:
    dates = planned_follow_ups(MONDAY, weeks=6)
    days = [(date - MONDAY).days for date in dates]
    assert days == [1, 3, 5, 7, 10, 13, 16, 23, 30, 37]
    assert sum(1 for day in days if day < 14) == 6


@given(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 1, 1)), st.integers(1, 52))
def test_planned_follow_ups_never_leave_a_gap_longer_than_a_week(release_on: dt.date, weeks: int) -> None:
    dates = [release_on, *planned_follow_ups(release_on, weeks)]
    gaps = [(later - earlier).days for earlier, later in itertools.pairwise(dates)]
    assert gaps
    assert all(1 <= gap <= 7 for gap in gaps)
    assert all(gap <= 3 for gap, date in zip(gaps, dates[1:], strict=False) if (date - release_on).days <= 14)


def test_contact_due_after_the_gap_that_applied_when_last_seen() -> None:
    # Seen on day 5 after release: the next contact was due two days later.
    seen = MONDAY + dt.timedelta(days=5)
    due = contact_due(seen, MONDAY, today=MONDAY + dt.timedelta(days=20))
    assert due is not None
    assert due.due_on == MONDAY + dt.timedelta(days=7)
    assert (due.overdue, due.overdue_days) == (True, 13)
    on_time = contact_due(seen, MONDAY, today=MONDAY + dt.timedelta(days=7))
    assert on_time is not None
    assert not on_time.overdue


def test_someone_released_but_not_seen_is_due_on_release_day() -> None:
    before_release = MONDAY - dt.timedelta(days=30)
    due = contact_due(before_release, MONDAY, today=MONDAY + dt.timedelta(days=3))
    assert due is not None
    assert (due.due_on, due.overdue_days) == (MONDAY, 3)
    never = contact_due(None, MONDAY, today=MONDAY)
    assert never is not None
    assert (never.due_on, never.overdue) == (MONDAY, False)


def test_nothing_to_count_from_before_release_and_first_contact() -> None:
    assert contact_due(None, MONDAY + dt.timedelta(days=10), today=MONDAY) is None
    assert contact_due(None, None, today=MONDAY) is None
    weekly = contact_due(MONDAY, None, today=MONDAY + dt.timedelta(days=8), plan_every_days=None)
    assert weekly is not None
    assert weekly.overdue_days == 1


@pytest.mark.parametrize(
    ("due", "done", "state"),
    [
        (MONDAY - dt.timedelta(days=1), False, FollowUpState.OVERDUE),
        (MONDAY, False, FollowUpState.DUE_TODAY),
        (MONDAY + dt.timedelta(days=1), False, FollowUpState.UPCOMING),
        (MONDAY - dt.timedelta(days=1), True, FollowUpState.DONE),
    ],
)
def test_follow_up_states(due: dt.date, done: bool, state: FollowUpState) -> None:
    assert follow_up_state(due, done, MONDAY) is state


@pytest.mark.parametrize(
    ("place", "as_defined", "strict"),
    [
        (AccommodationType.OWN_HOME, True, True),
        (AccommodationType.SOCIAL_TENANCY, True, True),
        (AccommodationType.PRIVATE_TENANCY, True, True),
        (AccommodationType.FAMILY_OR_FRIENDS, True, True),
        (AccommodationType.SUPPORTED_HOUSING_TENANCY, True, True),
        (AccommodationType.SUPPORTED_HOUSING, True, False),
        (AccommodationType.APPROVED_PREMISES, True, False),
        (AccommodationType.BAIL_HOSTEL, True, False),
        (AccommodationType.HOMELESS_HOSTEL, False, False),
        (AccommodationType.TEMPORARY, False, False),
        (AccommodationType.SOFA_SURFING, False, False),
        (AccommodationType.ROUGH_SLEEPING, False, False),
        (AccommodationType.CUSTODY, False, False),
    ],
)
def test_what_counts_as_settled_accommodation(place: AccommodationType, as_defined: bool, strict: bool) -> None:
    assert settled(place, counting_hostels=True) is as_defined
    assert settled(place, counting_hostels=False) is strict


def test_the_strict_count_never_counts_more_than_the_indicator() -> None:
    for place in AccommodationType:
        assert settled(place, counting_hostels=True) or not settled(place, counting_hostels=False)
        assert place.label


def test_distance_travelled_from_the_first_rating_to_the_latest() -> None:
    assert distance_travelled([]) is None
    ratings = [
        (MONDAY + dt.timedelta(days=30), Rating.GREEN),
        (MONDAY, Rating.RED),
        (MONDAY + dt.timedelta(days=9), Rating.AMBER),
    ]
    assert distance_travelled(ratings) == 2
    assert distance_travelled([(MONDAY, Rating.GREEN), (FRIDAY, Rating.AMBER)]) == -1


def test_need_areas_use_plain_words() -> None:
    assert len(NEED_AREAS) == 13
    assert all(label and "offender" not in label.lower() for label in NEED_AREAS.values())


# --- lead professional handover ---------------------------------------------------------------

STEPS = st.lists(st.sampled_from(list(HandoverStep)), max_size=8)


def test_a_handover_is_proposed_accepted_then_completed() -> None:
    state, counted = handover_progress([HandoverStep.PROPOSED, HandoverStep.ACCEPTED, HandoverStep.COMPLETED])
    assert state is HandoverStep.COMPLETED
    assert counted == (True, True, True)


@pytest.mark.parametrize(
    ("steps", "state", "counted"),
    [
        ([], None, ()),
        ([HandoverStep.ACCEPTED], None, (False,)),  # nothing to accept yet
        ([HandoverStep.PROPOSED, HandoverStep.COMPLETED], HandoverStep.PROPOSED, (True, False)),  # not accepted
        # Two people answered at once: the first answer in the merge order stands.
        (
            [HandoverStep.PROPOSED, HandoverStep.DECLINED, HandoverStep.ACCEPTED],
            HandoverStep.DECLINED,
            (True, True, False),
        ),
    ],
)
def test_steps_out_of_turn_change_nothing(
    steps: list[HandoverStep], state: HandoverStep | None, counted: tuple[bool, ...]
) -> None:
    assert handover_progress(steps) == (state, counted)


@given(STEPS)
def test_completed_only_ever_follows_an_accepted_proposal(steps: list[HandoverStep]) -> None:
    state, counted = handover_progress(steps)
    taken = [step for step, used in zip(steps, counted, strict=True) if used]
    assert taken == [HandoverStep.PROPOSED, HandoverStep.ACCEPTED, HandoverStep.COMPLETED][: len(taken)] or taken == [
        HandoverStep.PROPOSED,
        HandoverStep.DECLINED,
    ]
    assert state is (taken[-1] if taken else None)


def test_items_a_phone_cannot_read_are_left_out_of_the_readiness_count() -> None:
    counted = readiness({"gp": True}, unknown=["medication"])
    assert (counted.done, counted.total) == (1, len(READINESS_ITEMS) - 1)
    assert "Script or medication continued" not in counted.missing


# --- consents to review -----------------------------------------------------------------------

_TODAY = dt.date(2026, 12, 2)


def _consent(record_id: str, action: str = "given", amends: str | None = None, days: int | None = 10) -> ConsentStep:
    review = _TODAY + dt.timedelta(days=days) if days is not None else None
    return ConsentStep(record_id, action, amends, ("Hope Street Probation",), review)


def test_a_consent_in_force_is_due_for_review_within_fourteen_days() -> None:
    due = consents_to_review(
        [_consent("a", days=3), _consent("b", days=14), _consent("c", days=15), _consent("d", days=0)], _TODAY
    )
    assert [entry.record_id for entry in due] == ["d", "a", "b"]  # soonest first; 15 days is not yet


def test_a_renewed_or_withdrawn_consent_is_not_due_but_the_renewal_can_be() -> None:
    entries = [
        _consent("first", days=2),
        _consent("renewal", "renewed", amends="first", days=10),
        _consent("other", days=5),
        _consent("withdrawal", "withdrawn", amends="other", days=None),
    ]
    assert [entry.record_id for entry in consents_to_review(entries, _TODAY)] == ["renewal"]


def test_past_the_review_date_or_without_one_a_consent_is_not_listed() -> None:
    assert consents_to_review([_consent("late", days=-1), _consent("open", days=None)], _TODAY) == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["given", "renewed", "withdrawn"]), st.integers(-5, 30), st.integers(0, 9)),
        max_size=12,
    )
)
def test_consents_to_review_lists_only_unamended_consents_inside_the_window(
    steps: list[tuple[str, int, int]],
) -> None:
    entries = [
        _consent(f"r{index}", action, amends=f"r{target}" if action != "given" and target < index else None, days=days)
        for index, (action, days, target) in enumerate(steps)
    ]
    amended = {entry.amends for entry in entries}
    for entry in consents_to_review(entries, _TODAY):
        assert entry.record_id not in amended
        assert entry.action in ("given", "renewed")
        assert entry.review_on is not None
        assert 0 <= (entry.review_on - _TODAY).days <= 14
