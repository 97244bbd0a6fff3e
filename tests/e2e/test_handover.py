"""Handing the lead professional role over, in the browser, on two phones: the link worker (the
interim lead) proposes the community lead; the coordinator accepts for them on another phone; the
worker records the handover completed, and only then is the new lead on the record."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.processes import COORDINATOR, PASSWORD, WORKER
from tests.e2e.ui import (
    SYNCED,
    PersonForm,
    add_person,
    appears,
    button,
    fill_field,
    find_person,
    open_people,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
    textbox,
)

pytestmark = pytest.mark.browser


def test_a_handover_proposed_on_one_phone_is_accepted_on_another(new_phone: Callable[[], Page]) -> None:
    tag = secrets.token_hex(2).upper()
    person = PersonForm(name=f"Kerry Wynn {tag}", establishment="HMP Eastwood Park", lead_professional="Jess, Gatepost")

    worker = new_phone()
    sign_in_with_new_pin(worker, WORKER, PASSWORD)
    add_person(worker, person)
    reveal(button(worker, "Hand over the lead")).click()
    expect(button(worker, "Propose handover")).to_be_visible(timeout=10_000)
    button(worker, "Propose handover").click()  # nothing filled in: told what is missing
    expect(worker.get_by_text("Say who the new lead professional is.").first).to_be_visible()
    fill_field(textbox(worker, "New lead professional"), "Jo Price")
    fill_field(textbox(worker, "Their agency"), "Bristol Probation")
    fill_field(reveal(textbox(worker, "Note for them")), "Community order starts on Monday.")
    shot(worker, "01-propose-handover")
    reveal(button(worker, "Propose handover")).click()
    waiting = worker.get_by_text(re.compile("Handover to Jo Price \\(Bristol Probation\\) proposed by You"))
    expect(appears(waiting, timeout=20_000)).to_be_visible()
    expect(button(worker, "Accept handover")).to_have_count(0)  # someone else accepts
    expect(sync_status(worker)).to_have_text(SYNCED, timeout=30_000)
    shot(worker, "02-handover-proposed")

    desk = new_phone()
    sign_in_with_new_pin(desk, COORDINATOR, PASSWORD)
    open_people(desk)
    find_person(desk, person.name).click()
    expect(appears(desk.get_by_text(re.compile(f"proposed by {WORKER.display_name}")), timeout=20_000)).to_be_visible()
    shot(desk, "03-coordinator-sees-the-proposal")
    reveal(button(desk, "Accept handover")).click()
    expect(
        appears(desk.get_by_text(re.compile("Jo Price \\(Bristol Probation\\) accepted")), timeout=20_000)
    ).to_be_visible()
    expect(sync_status(desk)).to_have_text(SYNCED, timeout=30_000)

    press_sync_now(worker)
    complete = button(worker, "Record handover completed")
    expect(appears(complete, timeout=30_000)).to_be_visible()
    # Until it is recorded completed, the interim lead is still the lead professional.
    expect(worker.get_by_text("Jess, Gatepost", exact=True).first).to_be_visible()
    shot(worker, "04-accepted-not-yet-completed")
    reveal(complete).click()
    expect(appears(worker.get_by_text("Jo Price, Bristol Probation", exact=True).first, timeout=20_000)).to_be_visible()
    expect(worker.get_by_text(re.compile("You recorded the handover completed"))).to_have_count(1)
    shot(worker, "05-handover-completed")
