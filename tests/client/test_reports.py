"""The outcomes report on a coordinator's phone against the real server: a link worker records where
people live, their work and training, the gate and their contacts through the real services; after a
sync the coordinator's phone counts them, lists the people behind each figure and writes the
anonymised CSV for commissioners."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from outreach_app.errors import NotAllowed, ValidationFailed
from shared.outcomes import SUPPRESSED, Period
from tests.client.conftest import Team, TestDevice

Q4 = Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def test_the_coordinator_counts_what_the_worker_recorded_and_exports_it_without_names(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    records, casework = worker.app.records, worker.app.casework
    settled = []
    for n in range(6):
        case_id = records.add_person(
            {
                "name": f"Tenant {n}",
                "supervision": "licence",
                "supervision_ends_on": "2026-12-31" if n == 0 else "2026-11-15",
                "release_at": "2026-10-01T09:00",
            }
        )
        casework.record_accommodation(case_id, accommodation_type="social_tenancy", suitable=True, from_on="2026-10-01")
        settled.append(case_id)
    hostel = records.add_person({"name": "Jade Porter", "supervision": "licence", "supervision_ends_on": "2026-10-01"})
    casework.record_accommodation(hostel, accommodation_type="bail_hostel", suitable=True, from_on="2026-09-01")
    # Moved into a flat the day after the licence ended: the hostel is what counts.
    casework.record_accommodation(hostel, accommodation_type="private_tenancy", suitable=True, from_on="2026-10-02")
    casework.record_employment(hostel, status="part_time", ete_stage="employment", from_on="2026-09-20")
    casework.record_gate_outcome(settled[0], met=True, housed_on_release_day=True, reached_planned_address=True)
    records.log_contact(
        settled[0],
        occurred_at="2026-10-01T09:30",
        setting="prison_gate",
        contact_type="face_to_face",
        note="Met at the gate, went to housing options together.",
        basis="fact",
        tier="full",
        need_areas=["accommodation"],
    )
    records.update_person(settled[1], "engagement", "stopped_engaging")
    records.update_person(settled[1], "engagement_on", "2026-11-20")
    casework.rate_need(settled[2], "accommodation", "red", rated_on=dt.date(2026, 9, 1))
    casework.rate_need(settled[2], "accommodation", "green", rated_on=dt.date(2026, 11, 1))
    # The record shows the new entries as known (not as something this app cannot read).
    assert worker.app.records.person_record(hostel).unreadable == ()
    assert [place.label for place in casework.accommodation(hostel)] == [
        "Private rented tenancy",
        "Bail hostel",
    ]
    assert casework.employment(hostel)[0].ete_stage is not None

    with pytest.raises(NotAllowed):
        worker.app.reports.outcomes(Q4)
    sync(worker, coordinator)

    report = coordinator.app.reports.outcomes(Q4)
    assert report.figure("ni143.ended").count == 7
    assert set(report.figure("ni143.settled_suitable").case_ids) == {*settled, hostel}
    assert set(report.figure("ni143.settled_suitable_strict").case_ids) == set(settled)
    assert report.figure("ni144.employed").case_ids == (hostel,)
    assert report.figure("ni144.stage.employment").case_ids == (hostel,)
    assert report.figure("release.released").count == 6
    assert report.figure("release.housed").case_ids == (settled[0],)
    assert report.figure("release.not_recorded").count == 5
    assert report.figure("work.setting.prison_gate").case_ids == (settled[0],)
    assert report.figure("work.seen").count == 1
    assert report.figure("engagement.stopped").case_ids == (settled[1],)
    assert report.figure("distance.accommodation.forward").case_ids == (settled[2],)
    # Each figure opens the people behind it, by name.
    assert coordinator.app.reports.names(report.figure("ni144.employed").case_ids) == [(hostel, "Jade Porter")]

    exported = coordinator.app.reports.anonymised_csv(Q4)
    assert exported.file_name == "outcomes-2026-10-01-to-2026-12-31.csv"
    text = exported.content.decode("utf-8")
    assert "Jade" not in text
    assert "Tenant" not in text
    assert not [case_id for case_id in (*settled, hostel) if case_id in text]
    rows = {row["measure"]: row["value"] for row in csv.DictReader(io.StringIO(text))}
    assert rows["Order or licence ended in the period"] == "7"
    assert rows["Settled and suitable, counting hostels and Approved Premises (as defined)"] == "7"
    # Six strictly, one fewer than as defined: the one in the hostel would show, so it is hidden.
    assert rows["Settled and suitable, not counting hostels, Approved Premises or supported housing"] == SUPPRESSED
    assert rows["Released in the period"] == "6"
    assert rows["Housed on the day of release"] == SUPPRESSED
    assert not [value for value in rows.values() if value in ("1", "2", "3", "4")]

    # The same figures on one printable page with charts: no names, the hidden ones without a bar.
    summary = coordinator.app.reports.anonymised_summary(Q4)
    assert summary.file_name == "outcomes-summary-2026-10-01-to-2026-12-31.html"
    page = summary.content.decode("utf-8")
    assert "Jade" not in page
    assert "Tenant" not in page
    assert not [case_id for case_id in (*settled, hostel) if case_id in page]
    assert "7 of 7 (100%)" in page  # settled and suitable as defined
    # Three charts (matplotlib SVG, text kept as text), each described for screen readers; the
    # strict count, in work (1 of 7) and the release day (1 of 6) are hidden: "*", no bar.
    assert page.count("<svg") == 3
    assert "not counting hostels, Approved Premises or supported housing: *" in page
    assert "Met at the gate: *" in page
    assert page.count(">*</text>") + page.count(">*<") >= 3


def test_where_they_live_and_work_are_checked_before_they_are_saved(team: Team) -> None:
    casework = team.worker.app.casework
    person = team.worker.app.records.add_person({"name": "Dean Walsh"})
    with pytest.raises(ValidationFailed) as problem:
        casework.record_accommodation(person, accommodation_type="castle", suitable=True, from_on="2026-10-01")
    assert problem.value.problems == {"accommodation_type": "Where they live: choose one of the options."}
    with pytest.raises(ValidationFailed) as problem:
        casework.record_employment(person, status="full_time", ete_stage="astronaut", from_on="1 Oct")
    assert set(problem.value.problems) == {"ete_stage", "from_on"}
    assert casework.accommodation(person) == []
