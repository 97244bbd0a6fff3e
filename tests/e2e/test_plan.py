"""A link worker's needs, plan and referrals for a person, in the real app in Chromium: a need rated
red, then amber, then green shows its history and the distance travelled; a follow-up that is
overdue is marked done; a referral is read as a summary of all the person's needs before it is
saved, then accepted and started; another is declined with its reason."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Error, Locator, Page, expect

from outreach_app.state.plan import day_text
from tests.e2e import ui
from tests.e2e.processes import PASSWORD, WORKER
from tests.e2e.ui import (
    PersonForm,
    add_person,
    button,
    choose,
    fill_field,
    open_people,
    shot,
    sign_in_with_new_pin,
    tap_until,
    textbox,
)

pytestmark = pytest.mark.browser

NewPhone = Callable[[], Page]


def reveal(locator: Locator) -> Locator:
    """``ui.reveal``, again when the record was redrawn under it (a save re-renders the record once
    it is saved, and again after the sync that follows)."""
    for _attempt in range(3):
        try:
            return ui.reveal(locator)
        except Error:
            locator.page.wait_for_timeout(300)
    return ui.reveal(locator)


def _text(page: Page, text: str | re.Pattern[str]) -> None:
    """See ``text`` on screen: as a text, or within a card, which a screen reader reads as one."""
    if isinstance(text, re.Pattern):
        in_card = re.compile(text.pattern.removeprefix("^").removesuffix("$"), text.flags)
    else:
        in_card = re.compile(re.escape(text))
    found = page.get_by_text(text).or_(page.get_by_role("group", name=in_card))
    expect(reveal(found).first).to_be_visible()


def _pick(page: Page, radio_name: str) -> None:
    radio = reveal(page.get_by_role("radio", name=radio_name, exact=True))
    radio.click()
    expect(radio).to_be_checked()


def _save(page: Page, button_name: str) -> None:
    """Save a form; it ends back on the person's record."""
    reveal(button(page, button_name)).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)


def _open_form(page: Page, button_name: str, shown: str) -> None:
    reveal(button(page, button_name))
    tap_until(page, button_name, button(page, shown))


def _rate(page: Page, start_with: str, rating: str, on: dt.date, reason: str, handled: str | None = None) -> None:
    _open_form(page, start_with, "Save rating")
    if start_with == "Rate a need":
        choose(page, "Need", "Accommodation")
    _pick(page, rating)
    fill_field(reveal(textbox(page, "Rated on")), on.isoformat())
    fill_field(reveal(textbox(page, "Why, in a few words")), reason)
    if handled:
        _pick(page, handled)


def test_needs_rated_again_a_follow_up_done_and_referrals_moved_on(new_phone: NewPhone) -> None:
    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD)
    open_people(page)
    name = f"Dean Walsh {secrets.token_hex(2).upper()}"
    add_person(page, PersonForm(name=name, goals="My own flat, and to see my kids"))
    today = dt.date.today()
    first, second = today - dt.timedelta(days=28), today - dt.timedelta(days=14)

    # Needs: red four weeks ago, amber two weeks ago, green today.
    _text(page, "No need rated yet. Rate each need red, amber or green as you learn it.")
    _rate(page, "Rate a need", "Red", first, "Sofa surfing at his sister's", handled="Referred on")
    shot(page, "01-rate-a-need-red")
    _save(page, "Save rating")
    _text(page, "Sofa surfing at his sister's")
    _text(page, f"Rated {day_text(first, today)} · Referred on")
    _text(page, f"First rated on {day_text(first, today)}")
    shot(page, "02-need-red")

    _rate(page, "Rate accommodation again", "Amber", second, "Hostel place for now")
    expect(page.get_by_text("Last rated")).to_be_visible()  # the form shows where the need stood
    _save(page, "Save rating")
    _rate(page, "Rate accommodation again", "Green", today, "Own tenancy from Monday", handled="Met in house")
    shot(page, "03-rate-again-green")
    _save(page, "Save rating")
    _text(page, f"Moved 2 steps towards green since {day_text(first, today)}")
    _text(page, "Own tenancy from Monday")
    _text(page, f"Before: Amber {day_text(second, today)}, Red {day_text(first, today)}")
    days = [day_text(day, today) for day in (first, second, today)]
    _text(page, "Accommodation ratings over time: Red on {}, Amber on {}, Green on {}".format(*days))  # the chart
    _text(page, f"Accommodation Green Rated {day_text(today, today)}")  # the chip says it in a word
    shot(page, "04-need-history")

    # A follow-up due yesterday is overdue, then done.
    _open_form(page, "Add follow-up", "Add to plan")
    expect(page.get_by_role("checkbox", name="This is a follow-up contact")).to_be_checked()
    fill_field(reveal(textbox(page, "What needs doing")), "Visit him at the hostel")
    fill_field(reveal(textbox(page, "Due by")), (today - dt.timedelta(days=1)).isoformat())
    shot(page, "05-add-follow-up")
    _save(page, "Add to plan")
    _text(page, re.compile(r"^Overdue: it was due .*, 1 day ago$"))
    _text(page, "Follow-up · Jess Linklater")
    shot(page, "06-follow-up-overdue")
    box = reveal(page.get_by_role("checkbox", name="Visit him at the hostel", exact=True))
    expect(box).not_to_be_checked()
    box.click()
    _text(page, "Everything in the plan is done.")
    expect(reveal(page.get_by_role("checkbox", name="Visit him at the hostel", exact=True))).to_be_checked()
    shot(page, "07-follow-up-done")

    # A referral: the summary of all needs first, nothing sent by the app; then accepted, started.
    _open_form(page, "Refer", "Review referral")
    choose(page, "Kind of service", "Housing options")
    fill_field(reveal(textbox(page, "Referred to")), "Bristol Housing Options, Jo")
    choose(page, "Need (if any)", "Accommodation")
    shot(page, "08-refer")
    reveal(button(page, "Review referral")).click()
    expect(page.get_by_text("Referral summary", exact=True)).to_be_visible()
    _text(page, re.compile(r"^Gatepost sends nothing anywhere\."))
    _text(page, "My own flat, and to see my kids")
    _text(page, "Own tenancy from Monday")
    _text(page, re.compile(r"^Not rated yet: Education, training and employment, Drugs, .*Trauma"))
    shot(page, "09-referral-summary")
    _text(page, "No open action.")
    shot(page, "10-referral-summary-end")
    # Copy it for the worker to paste where the person agreed it may go (the browser's clipboard here).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reveal(button(page, "Copy summary")).click()
    _text(page, re.compile(r"^Summary copied\."))
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"Referral of {name} to Bristol Housing Options, Jo (Housing options)")
    for words in ("My own flat, and to see my kids", "- Accommodation: Green on", "Own tenancy from Monday", "Trauma"):
        assert words in copied
    _save(page, "Save referral as sent")
    _text(page, "Housing options: Bristol Housing Options, Jo")
    _text(page, f"Sent {day_text(today, today)} · for accommodation")
    for status in ("Accepted", "Started"):
        _open_form(page, "Update referral to Bristol Housing Options, Jo", "Save status")
        _pick(page, status)
        _save(page, "Save status")
        _text(page, f"{status} on {day_text(today, today)}")
    expect(button(page, "Update referral to Bristol Housing Options, Jo")).to_have_count(0)  # started: done
    shot(page, "11-referral-started")

    # Another referral, declined with its reason.
    _open_form(page, "Refer", "Review referral")
    choose(page, "Kind of service", "Hostel")
    fill_field(reveal(textbox(page, "Referred to")), "Salvation Army hostel")
    reveal(button(page, "Review referral")).click()
    _save(page, "Save referral as sent")
    _open_form(page, "Update referral to Salvation Army hostel", "Save status")
    _pick(page, "Declined")
    reveal(button(page, "Save status")).click()
    expect(page.get_by_text("Say why it was declined.").first).to_be_visible()  # next to the field
    shot(page, "12-declined-needs-a-reason")
    fill_field(reveal(textbox(page, "Why it was declined")), "No beds for six weeks")
    _save(page, "Save status")
    _text(page, f"Declined on {day_text(today, today)}")
    _text(page, "Why it was declined: No beds for six weeks")
    _text(page, "Hostel: Salvation Army hostel")  # the card on screen for the picture
    shot(page, "13-referral-declined")
