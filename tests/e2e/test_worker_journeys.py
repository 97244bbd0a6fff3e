"""A link worker's day in the real app, in Chromium: sign in, PIN, add a person, log a contact,
a colleague seeing it, and the PIN lock."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import COORDINATOR, PASSWORD, PIN, WORKER, AppProcess, Team, TeamMember, make_team
from tests.e2e.ui import (
    SYNCED,
    ContactForm,
    PersonForm,
    add_person,
    button,
    expect_value,
    fill_field,
    go_back,
    log_contact,
    open_people,
    press_sync_now,
    reveal,
    set_pin,
    shot,
    sign_in,
    sign_in_with_new_pin,
    sync_status,
    textbox,
    today_screen,
)

pytestmark = pytest.mark.browser

NewPhone = Callable[[], Page]


def _unique(name: str) -> str:
    return f"{name} {secrets.token_hex(2).upper()}"


def test_link_worker_adds_a_person_and_logs_a_contact(new_phone: NewPhone, app: AppProcess) -> None:
    page = new_phone()
    expect_value(textbox(page, "Server address"), app.server_url)  # filled in for them
    shot(page, "01-sign-in")
    sign_in(page, WORKER, PASSWORD)
    set_pin(page)
    expect(button(page, "Sync now")).to_be_visible()
    expect(sync_status(page)).to_be_visible()

    person = PersonForm(
        name=_unique("Dean Walsh"),
        other_names="Deano",
        date_of_birth="1988-03-14",
        phone="07700 900118",
        local_connection="Bristol (Lawrence Hill)",
        establishment="HMP Bristol",
        release_date="2026-12-04",
        release_time="08:30",
        risk="No violence on record.",
        goals="Get my own flat",
        lead_professional="Jess Linklater",
    )
    add_person(page, person, screenshot="02-add-person")
    shot(page, "03-record-new")

    note = "Met him at the gate with a travel warrant. Housing options at 11."
    log_contact(
        page, ContactForm(note=note, where="Prison gate", contact_type="Met face to face"), screenshot="04-log-contact"
    )
    # Back on the record: the note is in the timeline, written by "You".
    expect(page.get_by_text(person.name, exact=True).first).to_be_visible()
    expect(page.get_by_text(note)).to_be_visible()
    expect(page.get_by_text(re.compile(r"\bYou\b")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"Prison gate")).first).to_be_visible()
    shot(page, "05-record-with-contact")

    go_back(page)
    expect(page.get_by_text("Caseload", exact=True)).to_be_visible()
    person_button = page.get_by_role("button", name=re.compile("^" + re.escape(person.name)))
    expect(person_button).to_be_visible()
    expect(sync_status(page)).to_have_text(SYNCED, timeout=20_000)
    shot(page, "06-caseload")
    fill_field(textbox(page, "Search people"), "no such person")
    expect(person_button).to_have_count(0)
    fill_field(textbox(page, "Search people"), person.name.split()[0])
    expect(person_button).to_be_visible()


def test_coordinator_sees_the_contact_after_sync_now(new_phone: NewPhone) -> None:
    # The coordinator's phone is signed in before the worker writes anything.
    colleague = new_phone()
    sign_in_with_new_pin(colleague, COORDINATOR, PASSWORD)
    open_people(colleague)
    person = PersonForm(name=_unique("Kayleigh Dawson"), establishment="HMP Eastwood Park")
    person_button = colleague.get_by_role("button", name=re.compile("^" + re.escape(person.name)))
    expect(person_button).to_have_count(0)

    worker = new_phone()
    sign_in_with_new_pin(worker, WORKER, PASSWORD)
    add_person(worker, person)
    note = "Phoned the wing: release confirmed for Tuesday, she wants a lift to the GP."
    log_contact(
        worker,
        ContactForm(
            note=note, where="Phone, letter or text", contact_type="Phone call", who_can_see="Mentors can see this"
        ),
    )
    # The worker's phone sends it by itself after saving; Sync now if it has not yet.
    if not SYNCED.match(sync_status(worker).inner_text().strip()):
        press_sync_now(worker)
    expect(sync_status(worker)).to_have_text(SYNCED, timeout=20_000)

    press_sync_now(colleague)
    expect(person_button).to_be_visible(timeout=20_000)
    expect(sync_status(colleague)).to_have_text(SYNCED, timeout=20_000)
    shot(colleague, "01-coordinator-caseload")
    person_button.click()
    expect(colleague.get_by_text(note)).to_be_visible()
    expect(colleague.get_by_text(re.compile(re.escape(WORKER.display_name))).first).to_be_visible()
    shot(colleague, "02-coordinator-record")

    # The person asks to see their record: the coordinator's phone makes a readable copy.
    export = reveal(button(colleague, "Export record"))
    with colleague.expect_download() as download_info:
        export.click()
    download = download_info.value
    assert re.fullmatch(r"record-Kayleigh-Dawson-[0-9A-F]{4}-\d{4}-\d{2}-\d{2}\.html", download.suggested_filename)
    content = Path(download.path()).read_text(encoding="utf-8")
    assert note in content
    assert WORKER.display_name in content


def test_wrong_pin_says_so_and_counts_down(new_phone: NewPhone) -> None:
    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD)
    page.get_by_role("button", name="Lock", exact=True).click()

    pin = textbox(page, "PIN")
    expect(pin).to_be_visible()
    expect(button(page, "Unlock")).to_be_visible()
    expect(button(page, "Sign in with password instead")).to_be_visible()
    expect(button(page, "Sync now")).to_have_count(0)  # nothing of the caseload shows while locked

    fill_field(pin, "0000")
    button(page, "Unlock").click()
    expect(
        page.get_by_text("Wrong PIN. 4 tries left before this phone needs your password.", exact=True).first
    ).to_be_visible()
    shot(page, "01-wrong-pin")

    fill_field(textbox(page, "PIN"), "9999")
    button(page, "Unlock").click()
    expect(
        page.get_by_text("Wrong PIN. 3 tries left before this phone needs your password.", exact=True).first
    ).to_be_visible()

    fill_field(textbox(page, "PIN"), PIN)
    button(page, "Unlock").click()
    expect(today_screen(page)).to_be_visible()


def test_new_starter_joins_with_an_invitation_code(new_phone: NewPhone, team: Team, tmp_path: Path) -> None:
    # An organisation of its own: no coordinator's browser left open by another test may sync
    # (and so grant access) before this test's coordinator does.
    tag = secrets.token_hex(3)
    coordinator = TeamMember(f"coordinator-{tag}@e2e.test", "Nia Okafor", Role.COORDINATOR)
    team = make_team(
        team.server,
        f"New Starter Outreach {tag}",
        tmp_path / "devices",
        coordinator_member=coordinator,
        worker_member=None,
    )
    email = f"new-{secrets.token_hex(3)}@e2e.test"
    code = team.server.invite(team.org_name, Role.LINK_WORKER, email)  # the admin CLI
    page = new_phone()
    button(page, "I have an invitation code").click()
    expect(button(page, "Create account")).to_be_visible()
    expect(button(page, "I already have an account")).to_be_visible()

    button(page, "Create account").click()  # nothing filled in: told what is missing
    expect(page.get_by_text("Invitation code is needed.").first).to_be_visible()

    fill_field(textbox(page, "Invitation code"), code)
    fill_field(textbox(page, "Your name"), "Ali Newstart")
    fill_field(textbox(page, "Email"), email)
    fill_field(textbox(page, "Password"), PASSWORD)
    button(page, "Create account").click()
    set_pin(page)
    waiting = page.get_by_text(re.compile("Waiting for a coordinator to give this account access"))
    expect(waiting).to_be_visible()
    shot(page, "01-waiting-for-access")

    # The coordinator's phone syncs (and shares the organisation key); then Sync now.
    coordinator = team.coordinator_device()
    try:
        assert not coordinator.sync.sync_now().offline
    finally:
        coordinator.close()
    press_sync_now(page)
    expect(waiting).to_have_count(0, timeout=20_000)
    expect(sync_status(page)).to_have_text(SYNCED)
    shot(page, "02-access-given")
