"""Erasing a record, in the browser: a coordinator closes a person's case and erases the record
(after a confirmation that says it cannot be undone); the link worker's browser, which held the
person, loses them at its next sync."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.processes import COORDINATOR, PASSWORD, WORKER
from tests.e2e.ui import (
    SYNCED,
    ContactForm,
    PersonForm,
    add_person,
    appears,
    button,
    find_person,
    log_contact,
    open_people,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
)

pytestmark = pytest.mark.browser


def test_coordinator_closes_and_erases_a_record_and_the_worker_loses_it(new_phone: Callable[[], Page]) -> None:
    pocket = new_phone()
    sign_in_with_new_pin(pocket, WORKER, PASSWORD)
    person = PersonForm(name=f"Ray Dunn {secrets.token_hex(2).upper()}", establishment="HMP Bristol")
    add_person(pocket, person)
    note = "Asked us to delete everything once he is settled."
    log_contact(pocket, ContactForm(note=note))
    press_sync_now(pocket)
    expect(sync_status(pocket)).to_have_text(SYNCED, timeout=20_000)
    expect(pocket.get_by_text(note)).to_be_visible()

    desk = new_phone()
    sign_in_with_new_pin(desk, COORDINATOR, PASSWORD)
    open_people(desk)
    find_person(desk, person.name).click()
    expect(desk.get_by_text(note)).to_be_visible(timeout=20_000)
    # The case controls arrive from the server just after the record opens.
    close = reveal(button(desk, "Close case"))
    expect(close).to_be_visible(timeout=20_000)
    desk.wait_for_timeout(500)
    close.click()
    expect(appears(button(desk, "Reopen case"), timeout=20_000)).to_be_visible()
    expect(desk.get_by_text(re.compile(r"^Case closed on .+ The record is erased after"))).to_be_visible()
    shot(desk, "01-case-closed")

    reveal(button(desk, "Erase record")).click()
    expect(desk.get_by_text(f"Erase {person.name}'s record?")).to_be_visible()
    expect(desk.get_by_text(re.compile("This cannot be undone.*cannot be recalled", re.DOTALL))).to_be_visible()
    shot(desk, "02-confirm-erase")
    button(desk, "Erase for good").click()
    expect(desk.get_by_text("Caseload", exact=True)).to_be_visible(timeout=30_000)
    expect(desk.get_by_role("button", name=re.compile("^" + re.escape(person.name)))).to_have_count(0)
    shot(desk, "03-erased")

    # The worker still has the record open; their next sync takes it off the phone.
    press_sync_now(pocket)
    expect(pocket.get_by_text("Caseload", exact=True)).to_be_visible(timeout=30_000)
    expect(pocket.get_by_role("button", name=re.compile("^" + re.escape(person.name)))).to_have_count(0)
    expect(pocket.get_by_text(note)).to_have_count(0)
    shot(pocket, "04-worker-lost-the-record")
