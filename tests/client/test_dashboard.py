"""The coordinator's caseload dashboard against the real server: two link workers add people, log
contacts, plan follow-ups, rate needs and record where people live and work through the real
services; after a sync the coordinator's phone puts each person on the right worker's caseload,
counts what each worker has to do, filters, and gives the charts' series."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach_app.errors import NotAllowed, ValidationFailed
from outreach_app.services.dashboard import DashboardFilters
from shared.outcomes import Period
from shared.protocol import Role
from tests.client.conftest import Phones, Team, TestDevice


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def contact(device: TestDevice, case_id: str, on: dt.date, setting: str, contact_type: str = "face_to_face") -> None:
    device.app.records.log_contact(
        case_id,
        occurred_at=f"{on.isoformat()}T10:00",
        setting=setting,
        contact_type=contact_type,
        note="Talked about the week ahead.",
        basis="fact",
        tier="full",
    )


def test_the_coordinator_sees_each_workers_caseload_filters_it_and_gets_the_charts(team: Team, phones: Phones) -> None:
    coordinator, amira = team.coordinator, team.worker
    bo = phones.register("bo", Role.LINK_WORKER, "bo@example.org", "Bo Second")
    sync(bo, coordinator, bo)
    today = coordinator.app.casework.today_date()
    days = dt.timedelta(days=1)

    # Amira's people: added by her, one released in 5 days, one who stopped engaging.
    dean = amira.app.records.add_person(
        {
            "name": "Dean Walsh",
            "release_at": (today + 5 * days).isoformat() + "T09:30",
            "lead_professional": "Amira Link (Example Outreach)",
            "supervision": "licence",
            "supervision_ends_on": today.isoformat(),
        }
    )
    kayleigh = amira.app.records.add_person({"name": "Kayleigh Ross", "engagement": "stopped_engaging"})
    contact(amira, dean, today, "prison_visit")
    contact(amira, dean, today - 8 * days, "street")
    contact(amira, kayleigh, today - 3 * days, "home_or_hostel")
    contact(amira, kayleigh, today - days, "home_or_hostel", "attempted")  # an attempt: not the last contact
    amira.app.casework.add_plan_action(
        kayleigh, action="Phone about the hostel", owner="Amira Link", due_on=today - 2 * days, follow_up=True
    )
    amira.app.casework.add_plan_action(dean, action="Bank account", owner="Amira Link", due_on=today + 3 * days)
    amira.app.casework.rate_need(dean, "accommodation", "red", rated_on=today - 40 * days)
    amira.app.casework.rate_need(dean, "accommodation", "green", rated_on=today - days)
    amira.app.casework.rate_need(kayleigh, "accommodation", "amber", rated_on=today - 10 * days)
    amira.app.casework.record_accommodation(
        dean, accommodation_type="social_tenancy", suitable=True, from_on=today - 30 * days
    )
    amira.app.casework.record_employment(dean, status="full_time", ete_stage="employment", from_on=today - 20 * days)

    # Bo adds three: one whose lead professional is Amira (hers), one whose lead is outside the team
    # (Bo's: he added them), one released in 20 days and not taken on.
    marcus = bo.app.records.add_person({"name": "Marcus Bailey", "lead_professional": "amira link (Probation)"})
    jade = bo.app.records.add_person(
        {
            "name": "Jade Porter",
            "lead_professional": "Pat Probation (Hope Street)",
            "release_at": (today + 12 * days).isoformat(),
        }
    )
    lee = bo.app.records.add_person(
        {"name": "Lee Grant", "release_at": (today + 20 * days).isoformat(), "engagement": "not_accepted"}
    )
    contact(bo, jade, today - 2 * days, "prison_visit")
    bo.app.casework.rate_need(marcus, "drugs", "green", rated_on=today - 30 * days)
    bo.app.casework.rate_need(marcus, "drugs", "amber", rated_on=today - 2 * days)

    with pytest.raises(NotAllowed):
        amira.app.dashboard.dashboard()
    sync(amira, bo, coordinator)

    board = coordinator.app.dashboard.dashboard()
    assert [(worker.name, worker.is_you) for worker in board.workers] == [("Amira Link", False), ("Bo Second", False)]
    assert [name for _, name in board.team] == ["Amira Link", "Bo Second"]
    hers, his = board.workers
    assert [person.name for person in hers.people] == ["Dean Walsh", "Kayleigh Ross", "Marcus Bailey"]
    assert {person.case_id: person.by_lead_professional for person in hers.people} == {
        dean: True,
        kayleigh: False,
        marcus: True,
    }
    assert [person.case_id for person in his.people] == [jade, lee]  # Jade's release is in the 14 days
    by_id = {person.case_id: person for worker in board.workers for person in worker.people}
    assert by_id[dean].last_contact_on == today
    assert by_id[kayleigh].last_contact_on == today - 3 * days
    assert by_id[marcus].last_contact_on is None
    assert hers.last_contact_on == today
    assert his.last_contact_on == today - 2 * days
    assert (hers.overdue_follow_ups, his.overdue_follow_ups) == (1, 0)
    assert by_id[kayleigh].overdue_follow_ups == 1
    assert (hers.releases, his.releases) == (1, 1)
    assert (hers.stopped_engaging, hers.not_taken_on, his.stopped_engaging, his.not_taken_on) == (1, 0, 0, 1)
    assert board.people == 5

    # Filters: a worker; whether they work with us; a release window.
    only_bo = coordinator.app.dashboard.dashboard(DashboardFilters(worker=his.key))
    assert [worker.name for worker in only_bo.workers] == ["Bo Second"]
    assert only_bo.team == board.team  # the filter still offers everyone
    assert only_bo.contacts.total(len(only_bo.contacts.weeks) - 1) == (1 if today.weekday() >= 2 else 0)
    stopped = coordinator.app.dashboard.dashboard(DashboardFilters(engagement="stopped_engaging"))
    assert [(w.name, [p.name for p in w.people]) for w in stopped.workers] == [("Amira Link", ["Kayleigh Ross"])]
    engaging = coordinator.app.dashboard.dashboard(DashboardFilters(engagement="engaging"))
    assert sorted(p.name for w in engaging.workers for p in w.people) == ["Dean Walsh", "Jade Porter", "Marcus Bailey"]
    week = coordinator.app.dashboard.dashboard(DashboardFilters(release_days=7))
    assert [(w.name, [p.name for p in w.people]) for w in week.workers] == [("Amira Link", ["Dean Walsh"])]
    month = coordinator.app.dashboard.dashboard(DashboardFilters(release_days=28))
    assert sorted(p.name for w in month.workers for p in w.people) == ["Dean Walsh", "Jade Porter", "Lee Grant"]
    assert month.window_days == 28
    assert month.workers[1].releases == 2
    with pytest.raises(ValidationFailed):
        coordinator.app.dashboard.dashboard(DashboardFilters(release_days=10))

    # Contacts per week by setting: 12 weeks to this one; the attempt counts as a contact.
    weeks = board.contacts
    assert len(weeks.weeks) == 12
    assert weeks.weeks[-1] == today - dt.timedelta(days=today.weekday())
    assert sum(weeks.total(index) for index in range(12)) == 5
    assert {setting: sum(series) for setting, series in weeks.counts.items()} == {
        "prison_visit": 2,
        "street": 1,
        "home_or_hostel": 2,
    }
    assert weeks.counts["prison_visit"][-1] >= 1  # Dean today

    # Needs: Dean moved from red to green, Kayleigh rated once (no change), Marcus moved down.
    needs = {need.need_area: (need.moved_up, need.stayed, need.moved_down) for need in board.needs}
    assert needs == {"accommodation": (1, 1, 0), "drugs": (0, 0, 1)}

    # Outcomes per quarter, this one last: Dean's licence ends today, housed and in work.
    quarters = board.outcomes
    assert [quarter.period for quarter in quarters][-1] == Period.quarter(today)
    assert len(quarters) == 4
    assert all(q.ended == 0 for q in quarters[:-1])
    last = quarters[-1]
    assert (last.ended, last.ni143, last.ni143_strict, last.ni144) == (1, 1, 1, 1)
    assert last.share(last.ni143, last.ended) == 100

    # The coordinator is on the team too: someone they add is theirs until the lead is named.
    mine = coordinator.app.records.add_person({"name": "Ola Mensah"})
    again = coordinator.app.dashboard.dashboard()
    you = next(worker for worker in again.workers if worker.is_you)
    assert (you.name, [person.case_id for person in you.people]) == ("Priya Coordinator", [mine])
