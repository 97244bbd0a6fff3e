"""The gate day, in the browser, as a link worker lives it: Today lists who comes out and flags what
is missing; the gate checklist is filled in; on the day, one tap from Today opens the contact form,
and another records what happened at the gate."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.processes import PASSWORD, WORKER
from tests.e2e.ui import (
    SYNCED,
    PersonForm,
    add_person,
    appears,
    button,
    choose,
    expect_value,
    fill_field,
    open_today,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
    textbox,
    today_screen,
)

pytestmark = pytest.mark.browser


def test_the_gate_day_from_today_to_the_gate_outcome(new_phone: Callable[[], Page]) -> None:
    tag = secrets.token_hex(2).upper()
    today = dt.date.today()
    leaving = PersonForm(
        name=f"Jade Porter {tag}",
        establishment="HMP Eastwood Park",
        release_date=today.isoformat(),
        release_time="11:30",
    )
    next_week = PersonForm(
        name=f"Lee Marsh {tag}",
        establishment="HMP Bristol",
        release_date=(today + dt.timedelta(days=5)).isoformat(),  # no time: the prison has not confirmed it
    )

    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD)
    expect(today_screen(page)).to_be_visible()
    add_person(page, next_week)
    add_person(page, leaving)

    # The gate checklist, filled in on the record before the day.
    expect(page.get_by_text("No accommodation confirmed").first).to_be_visible()
    reveal(button(page, "Gate checklist")).click()
    expect(button(page, "Save release plan")).to_be_visible(timeout=10_000)
    choose(page, "Accommodation", "Supported housing bedspace held")
    fill_field(reveal(textbox(page, "Where they will stay")), "Elm Lodge, 4 Mill Street")
    for item in ("Benefits in place to start on release", "Registered with a GP", "Discharge grant", "Phone"):
        box = reveal(page.get_by_role("checkbox", name=item, exact=True))
        box.click()
        expect(box).to_be_checked()
    meeting = reveal(textbox(page, "Meet them at (date and time)"))
    expect_value(meeting, f"{today.isoformat()} 11:30")  # the release time, to start from
    fill_field(meeting, f"{today.isoformat()} 11:00")
    fill_field(reveal(textbox(page, "Meet them where")), "Visitor centre car park")
    fill_field(reveal(textbox(page, "Who meets them")), "Sam and a peer mentor")
    shot(page, "01-gate-checklist")
    reveal(button(page, "Save release plan")).click()
    expect(page.get_by_text(re.compile(r"Ready: 6 of 9\. Still to do: ID \("))).to_be_visible(timeout=20_000)
    expect(page.get_by_text("No accommodation confirmed")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"Meeting: today at 11:00, Visitor centre car park · by Sam"))).to_be_visible()
    shot(page, "02-record-release-and-gate")

    # Today: who is met at the gate today, and next week's release with what is missing.
    open_today(page)
    expect(button(page, f"Gate outcome for {leaving.name}")).to_be_visible(timeout=20_000)
    # A card reads as one group to a screen reader: its name is everything it says.
    at_the_gate = page.get_by_role("group", name=re.compile("^" + re.escape(leaving.name)))
    expect(at_the_gate).to_have_accessible_name(re.compile(r"Meet today at 11:00, Visitor centre car park · by Sam"))
    expect(at_the_gate).to_have_accessible_name(re.compile(r"Ready: 6 of 9"))
    coming = page.get_by_role("group", name=re.compile("^" + re.escape(next_week.name)))
    expect(coming).to_have_accessible_name(re.compile(r"time not confirmed · HMP Bristol Nobody has arranged to meet"))
    expect(coming).to_have_accessible_name(re.compile(r"No accommodation confirmed Release time not confirmed$"))
    shot(page, "03-today")

    # One tap from Today to the contact form, the person already chosen.
    button(page, f"Log contact with {leaving.name}").click()
    expect(button(page, "Save contact")).to_be_visible(timeout=10_000)
    expect(page.get_by_text(f"Contact with {leaving.name}", exact=True)).to_be_visible()
    choose(page, "Where", "Prison gate")
    choose(page, "Type of contact", "Met face to face")
    note = "Met at the gate with a travel warrant; walked to housing options together."
    fill_field(reveal(textbox(page, "Note")), note)
    choose(page, "How long", "About two hours")
    reveal(button(page, "Needs you talked about or worked on Optional")).click()
    for need in ("Accommodation", "Finance, benefits and debt"):
        box = reveal(page.get_by_role("checkbox", name=need, exact=True))
        box.click()
        expect(box).to_be_checked()
    # The next step, planned in the same step: it shows on Today when it is due.
    fill_field(reveal(textbox(page, "Follow up by")), today.isoformat())
    fill_field(reveal(textbox(page, "What happens next")), "Ring Elm Lodge to check she arrived")
    shot(page, "04-contact-from-today")
    reveal(button(page, "Save contact")).click()
    expect(page.get_by_text(note)).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Needs: Accommodation, Finance, benefits and debt")).to_be_visible()
    open_today(page)
    follow_up = page.get_by_role("group", name=re.compile("^" + re.escape(f"{leaving.name}: Ring Elm Lodge")))
    expect(reveal(follow_up)).to_have_accessible_name(re.compile("Due today"))

    # Back on Today, one tap to what happened at the gate.
    reveal(button(page, f"Gate outcome for {leaving.name}")).click()
    expect(button(page, "Save gate outcome")).to_be_visible(timeout=10_000)
    button(page, "Save gate outcome").click()  # nothing chosen yet: told what is missing
    expect(page.get_by_text("Say whether you met them at the gate.").first).to_be_visible()
    met = page.get_by_role("radio", name="We met them", exact=True)
    met.click()
    expect(met).to_be_checked()
    fill_field(reveal(textbox(page, "Went with them to")), "Housing options")
    choose(page, "Housed on the day of release", "Yes")
    choose(page, "Reached the planned address", "Yes")
    fill_field(reveal(textbox(page, "Help given")), "Bus fare, phone top-up, GP registration form.")
    shot(page, "05-gate-outcome")
    reveal(button(page, "Save gate outcome")).click()
    outcome = page.get_by_text(
        re.compile(r"met at the gate · went with them to Housing options · housed on the day of release")
    )
    expect(appears(outcome, timeout=20_000)).to_be_visible()
    expect(sync_status(page)).to_have_text(SYNCED, timeout=30_000)
    shot(page, "06-record-after-the-gate")

    # Dark mode, for the car park at seven in the morning; the phone keeps the choice.
    open_today(page)
    for _ in range(3):  # a tap at the very moment of a redraw (a background sync) can be lost: tap again
        if button(page, "Light mode").count():
            break
        button(page, "Dark mode").click()
        with contextlib.suppress(AssertionError):
            expect(button(page, "Light mode")).to_be_visible(timeout=10_000)
    expect(button(page, "Light mode")).to_be_visible()
    shot(page, "07-today-in-dark-mode")
    page.reload()
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    page.evaluate("document.querySelector('flt-semantics-placeholder')?.click()")
    expect(button(page, "Light mode")).to_be_visible(timeout=30_000)
