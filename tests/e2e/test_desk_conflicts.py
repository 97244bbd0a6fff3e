"""Settling a conflict on the coordinator's Desk, in the real app in Chromium: two link workers on
two phones change the same person's release date and time while the server cannot be reached,
then sync; the coordinator opens the Desk (a fourth button at the bottom, for coordinators only),
sees the safety-critical disagreement with both values and who wrote them, and keeps one; after a
sync both workers' phones show the settled value and no conflict."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import (
    COORDINATOR,
    LOGS,
    PASSWORD,
    WORKER,
    ServerProcess,
    Team,
    TeamMember,
    join_team,
    make_team,
)
from tests.e2e.ui import (
    SYNCED,
    WAITING_OFFLINE,
    ContactForm,
    PersonForm,
    add_person,
    appears,
    button,
    fill_field,
    log_contact,
    open_people,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
    tap_until,
    textbox,
    today_screen,
)

pytestmark = pytest.mark.browser

SECOND_WORKER = TeamMember("ben@e2e.test", "Ben Okafor", Role.LINK_WORKER)
PERSON = PersonForm(
    name="Jade Porter", establishment="HMP Eastwood Park", release_date="2026-12-11", release_time="11:30"
)
AMENDED = "Fri 11 Dec 2026, 09:00"  # the prison rang the first worker: out earlier
MOVED = "Sat 12 Dec 2026, time not confirmed"  # the second worker heard it moved a day


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Team]:
    """A sync server just for this test, which it stops (no signal for anyone) and starts again."""
    server = ServerProcess(tmp_path / "server", LOGS / "desk-server.log")
    try:
        server.start()
        team = make_team(server, "Desk Test Outreach", tmp_path / "harness-devices")
        join_team(team, SECOND_WORKER, tmp_path / "second", "Ben's old phone")
        coordinator = team.coordinator_device()
        try:
            assert not coordinator.sync.sync_now().offline  # gives Ben the organisation key
        finally:
            coordinator.close()
        yield team
    finally:
        server.stop()


def _open_person(page: Page, name: str) -> None:
    open_people(page)
    person = page.get_by_role("button", name=re.compile("^" + re.escape(name)))
    appears(person).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)


def _change_release(page: Page, value: str) -> None:
    reveal(page.get_by_role("button", name="Edit Release date and time", exact=True)).click()
    fill_field(textbox(page, "Release date and time"), value)
    button(page, "Save change").click()
    expect(button(page, "Save change")).to_have_count(0, timeout=10_000)


def _synced(page: Page) -> None:
    press_sync_now(page)
    expect(sync_status(page)).to_have_text(SYNCED, timeout=30_000)


def test_two_workers_disagree_offline_and_the_coordinator_settles_it_on_the_desk(
    new_phone: Callable[[], Page], own_server: Team
) -> None:
    server = own_server.server
    jess = new_phone()
    sign_in_with_new_pin(jess, WORKER, PASSWORD, server_url=server.url)
    expect(button(jess, "Desk")).to_have_count(0)  # a link worker has no Desk
    add_person(jess, PERSON)
    log_contact(jess, ContactForm(note="Planned the release day with her."))
    _synced(jess)

    ben = new_phone()
    sign_in_with_new_pin(ben, SECOND_WORKER, PASSWORD, server_url=server.url)
    _open_person(ben, PERSON.name)

    # No signal for either of them: each changes the release from the same starting point.
    server.stop()
    _change_release(jess, "2026-12-11T09:00")  # the record's edit box takes the T form
    _change_release(ben, "2026-12-12")
    for page in (jess, ben):
        expect(sync_status(page)).to_have_text(WAITING_OFFLINE, timeout=20_000)
    shot(ben, "01-second-worker-offline")
    server.start()
    for page in (jess, ben, jess):
        _synced(page)
    expect(appears(jess.get_by_text("Two people changed this at the same time"))).to_be_visible()
    shot(jess, "02-worker-sees-the-conflict")

    # The coordinator's Desk: the fourth button at the bottom.
    cora = new_phone()
    sign_in_with_new_pin(cora, COORDINATOR, PASSWORD, server_url=server.url)
    expect(today_screen(cora)).to_be_visible()
    expect(appears(button(cora, "1 conflict to settle"))).to_be_visible()
    shot(cora, "03-today-conflicts-to-settle")
    tap_until(cora, "Desk", cora.get_by_text("Conflicts to settle (1)", exact=True))
    for words in (
        "Jade Porter",
        "Release date and time",
        "Safety-critical: check which is right before anyone acts on it",
        f"{WORKER.display_name}: {AMENDED}",
        f"{SECOND_WORKER.display_name}: {MOVED}",
    ):
        expect(reveal(cora.get_by_text(words, exact=True))).to_be_visible()
    expect(button(cora, f"Keep {AMENDED}")).to_have_count(1)
    expect(textbox(cora, "New value for Release date and time")).to_have_count(1)
    expect(button(cora, "Save new value")).to_have_count(1)
    expect(button(cora, "Open Jade Porter's record")).to_have_count(1)
    shot(cora, "04-desk-conflict")
    reveal(button(cora, f"Keep {MOVED}")).click()
    expect(cora.get_by_text("Conflicts to settle (0)", exact=True)).to_be_visible(timeout=20_000)
    expect(cora.get_by_text(re.compile(r"^Nothing to settle\."))).to_be_visible()
    expect(sync_status(cora)).to_have_text(SYNCED, timeout=30_000)
    shot(cora, "05-desk-settled")

    # Both workers' phones: the settled value, and no conflict, after a sync.
    for number, page in enumerate((jess, ben), start=6):
        _synced(page)
        expect(appears(page.get_by_text("Sat 12 Dec, time not confirmed", exact=True))).to_be_visible()
        expect(page.get_by_text("Two people changed this at the same time")).to_have_count(0)
        shot(page, f"0{number}-worker-after-settling")
