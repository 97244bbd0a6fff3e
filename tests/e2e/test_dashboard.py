"""The coordinator's caseload dashboard on the Desk, in the real app in Chromium: two link workers'
phones (the harness's, through the client services) add people, log contacts, plan a follow-up and
rate needs; the coordinator signs in, opens the Desk and sees both caseloads and the three charts,
filters by worker and by release window, and opens a person from a worker's card."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from outreach_app.services import Gatepost, device_store_path
from shared.crypto import FAST_TEST_SCRYPT
from shared.protocol import Role
from tests.e2e.processes import (
    COORDINATOR,
    LOGS,
    PASSWORD,
    PIN,
    WORKER,
    ServerProcess,
    Team,
    TeamMember,
    join_team,
    make_team,
)
from tests.e2e.ui import appears, button, choose, reveal, shot, sign_in_with_new_pin, tap_until

pytestmark = pytest.mark.browser

SECOND_WORKER = TeamMember("ben.dash@e2e.test", "Ben Okafor", Role.LINK_WORKER)


def _phone(path: Path) -> Gatepost:
    phone = Gatepost.open(path, scrypt_params=FAST_TEST_SCRYPT)
    phone.account.unlock(PIN)
    return phone


def _contact(phone: Gatepost, case_id: str, on: dt.date, setting: str) -> None:
    phone.records.log_contact(
        case_id,
        occurred_at=f"{on.isoformat()}T10:00",
        setting=setting,
        contact_type="face_to_face",
        note="Went through the week ahead.",
        basis="fact",
        tier="full",
    )


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Team]:
    """A server just for this test, so that the Desk counts only these two workers' people."""
    server = ServerProcess(tmp_path / "server", LOGS / "dashboard-server.log")
    try:
        server.start()
        team = make_team(server, "Dashboard Test Outreach", tmp_path / "harness-devices")
        join_team(team, SECOND_WORKER, tmp_path / "second", "Ben's phone")
        coordinator = team.coordinator_device()
        try:
            assert not coordinator.sync.sync_now().offline  # gives Ben the organisation key
        finally:
            coordinator.close()
        today = dt.date.today()
        day = dt.timedelta(days=1)
        jess = _phone(device_store_path(tmp_path / "harness-devices", "worker"))
        try:
            lead = f"{WORKER.display_name} (Dashboard Test Outreach)"
            dean = jess.records.add_person(
                {
                    "name": "Dean Walsh",
                    "release_at": f"{(today + 4 * day).isoformat()}T09:30",
                    "lead_professional": lead,
                }
            )
            kay = jess.records.add_person({"name": "Kayleigh Ross", "engagement": "stopped_engaging"})
            _contact(jess, dean, today, "prison_visit")
            _contact(jess, dean, today - 9 * day, "street")
            _contact(jess, kay, today - 16 * day, "home_or_hostel")
            jess.casework.add_plan_action(
                kay, action="Phone about the hostel", owner=WORKER.display_name, due_on=today - 2 * day, follow_up=True
            )
            jess.casework.rate_need(dean, "accommodation", "red", rated_on=today - 30 * day)
            jess.casework.rate_need(dean, "accommodation", "green", rated_on=today - day)
            assert not jess.sync.sync_now().offline
        finally:
            jess.close()
        ben = _phone(device_store_path(tmp_path / "second", "member-phone"))
        try:
            assert not ben.sync.sync_now().offline  # the organisation key
            marcus = ben.records.add_person(
                {"name": "Marcus Bailey", "release_at": (today + 20 * day).isoformat(), "engagement": "not_accepted"}
            )
            jade = ben.records.add_person(
                {"name": "Jade Porter", "release_at": f"{(today + 10 * day).isoformat()}T11:30"}
            )
            _contact(ben, jade, today - day, "court")
            _contact(ben, marcus, today - 5 * day, "prison_visit")
            ben.casework.rate_need(jade, "drugs", "green", rated_on=today - 20 * day)
            ben.casework.rate_need(jade, "drugs", "amber", rated_on=today - 2 * day)
            assert not ben.sync.sync_now().offline
        finally:
            ben.close()
        yield team
    finally:
        server.stop()


def _described(page: Page, pattern: str) -> None:
    """A chart's text alternative: what a screen reader reads for it."""
    words = re.compile(pattern)
    expect(reveal(page.get_by_label(words).or_(page.get_by_text(words)))).to_have_count(1)


def _card_line(page: Page, text: str) -> None:
    expect(reveal(page.get_by_text(text, exact=True))).to_be_visible()


def test_the_coordinator_sees_both_caseloads_and_the_charts_filters_them_and_opens_a_person(
    new_phone: Callable[[], Page], own_server: Team
) -> None:
    page = new_phone()
    sign_in_with_new_pin(page, COORDINATOR, PASSWORD, server_url=own_server.server.url)
    expect(button(page, "Outcomes report")).to_have_count(0)  # it moved from Today to the Desk
    tap_until(page, "Desk", page.get_by_text("Team caseloads", exact=True))
    expect(appears(button(page, f"See {WORKER.display_name}'s people"))).to_be_visible()
    expect(button(page, f"See {SECOND_WORKER.display_name}'s people")).to_have_count(1)
    expect(page.get_by_text("Everyone on this phone: 4 people. The cards and the charts count them.")).to_have_count(1)
    for words in (WORKER.display_name, "2 people", "1 follow-up overdue", "Stopped engaging: 1 · Not taken on: 0"):
        _card_line(page, words)
    _card_line(page, "Stopped engaging: 0 · Not taken on: 1")
    expect(page.get_by_text("Releases in the next 14 days: 1", exact=True)).to_have_count(2)
    expect(page.get_by_text("Last contact: today", exact=True)).to_have_count(1)
    expect(page.get_by_text("Last contact: yesterday", exact=True)).to_have_count(1)
    expect(button(page, "Outcomes report")).to_have_count(1)
    shot(page, "01-desk-caseloads")

    # The three charts, each with a caption and a text alternative a screen reader reads out.
    expect(appears(page.get_by_text("Contacts per week, by where", exact=True))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^5 contacts in the last 12 weeks"))).to_have_count(1)
    _described(page, r"^Contacts per week, by where\. week of .*Court 1")
    shot(page, "02-contacts-chart")
    expect(appears(page.get_by_text("Needs moving from red to green", exact=True))).to_be_visible()
    _described(page, r"Accommodation: 1 moved up, 0 stayed, 0 moved down; Drugs: 0 moved up")
    expect(appears(page.get_by_text("Outcomes over time", exact=True))).to_be_visible()
    _described(page, r"^Outcomes over time\. .*no order or licence ended")
    shot(page, "03-needs-and-outcomes-charts")

    # Filter by worker: only Ben's card.
    choose(page, "Worker", SECOND_WORKER.display_name)
    expect(page.get_by_text("The people chosen: 2 people. The cards and the charts count them.")).to_have_count(
        1, timeout=20_000
    )
    expect(button(page, f"See {WORKER.display_name}'s people")).to_have_count(0)
    expect(button(page, f"See {SECOND_WORKER.display_name}'s people")).to_have_count(1)
    shot(page, "04-filtered-by-worker")

    # And by release window: in the next 7 days, nobody of Ben's; back to the whole team, Dean.
    choose(page, "Release", "In the next 7 days")
    expect(page.get_by_text("Nobody matches these filters.", exact=True)).to_have_count(1, timeout=20_000)
    choose(page, "Worker", "The whole team")
    expect(page.get_by_text("The people chosen: 1 person. The cards and the charts count them.")).to_have_count(
        1, timeout=20_000
    )
    _card_line(page, "Releases in the next 7 days: 1")
    shot(page, "05-release-window-7-days")

    # A worker's card opens their people; each opens the record.
    reveal(button(page, f"See {WORKER.display_name}'s people")).click()
    expect(page.get_by_text(f"{WORKER.display_name}'s caseload", exact=True)).to_be_visible(timeout=20_000)
    expect(page.get_by_text(re.compile(r"^Release \w{3} \d+ \w{3}, 09:30$"))).to_have_count(1)
    shot(page, "06-worker-people")
    reveal(button(page, "Open Dean Walsh's record")).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Dean Walsh", exact=True).first).to_be_visible()
    shot(page, "07-their-record")
