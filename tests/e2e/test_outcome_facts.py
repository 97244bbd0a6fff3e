"""What the outcomes report counts, recorded on a phone in the real app in Chromium: where a person
lives (and whether it suits them), their work and training with the ETE stage reached, and that they
stopped engaging. Each shows on the record as the worker saved it."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Error, Locator, Page, expect

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
    """``ui.reveal``, again when the record was redrawn under it (after a save, and after its sync)."""
    for _attempt in range(3):
        try:
            return ui.reveal(locator)
        except Error:
            locator.page.wait_for_timeout(300)
    return ui.reveal(locator)


def _see(page: Page, text: str) -> None:
    expect(reveal(page.get_by_text(text, exact=True)).first).to_be_visible()


def _pick(page: Page, radio_name: str) -> None:
    radio = reveal(page.get_by_role("radio", name=radio_name, exact=True))
    radio.click()
    expect(radio).to_be_checked()


def _save(page: Page, button_name: str) -> None:
    reveal(button(page, button_name)).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)


def _open_form(page: Page, button_name: str, shown: str) -> None:
    reveal(button(page, button_name))
    tap_until(page, button_name, button(page, shown))


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def test_where_they_live_work_and_training_and_engagement_on_the_record(new_phone: NewPhone) -> None:
    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD)
    open_people(page)
    name = f"Kayleigh Marsh {secrets.token_hex(2).upper()}"
    add_person(page, PersonForm(name=name))
    today = dt.date.today()
    moved_in = today - dt.timedelta(days=10)

    # Where they live: nothing yet, then a bail hostel that does not suit her, then a tenancy.
    _see(page, "Where they live")
    _open_form(page, "Record where they live", "Save where they live")
    shot(page, "01-where-they-live-empty")
    reveal(button(page, "Save where they live")).click()
    expect(page.get_by_text("Choose where they live.").first).to_be_visible()
    choose(page, "Where they live", "Bail hostel")
    _pick(page, "No (overcrowded, unsafe, wrong area…)")
    fill_field(reveal(textbox(page, "Since")), moved_in.isoformat())
    shot(page, "02-where-they-live-filled")
    _save(page, "Save where they live")
    _see(page, f"Bail hostel, since {_day(moved_in)} (does not suit them)")

    _open_form(page, "Record where they live", "Save where they live")
    choose(page, "Where they live", "Council or housing association tenancy")
    _pick(page, "Yes, it suits them")
    _save(page, "Save where they live")  # since today, as the form starts
    _see(page, f"Council or housing association tenancy, since {_day(today)} (suits them)")
    _see(page, f"Before: Bail hostel, from {_day(moved_in)}")
    shot(page, "03-where-they-live-on-the-record")

    # Work and training: the stage reached on the ETE ladder, and in part-time work.
    _open_form(page, "Record work and training", "Save work and training")
    reveal(button(page, "Save work and training")).click()
    expect(page.get_by_text("Say whether they are in work.").first).to_be_visible()
    _pick(page, "In part-time work")
    choose(page, "Stage reached", "Employment")
    shot(page, "04-work-and-training")
    _save(page, "Save work and training")
    _see(page, f"In part-time work, since {_day(today)}. Stage reached: Employment")
    shot(page, "05-work-on-the-record")

    # She stopped engaging: the record's own detail, with its date.
    edit = reveal(page.get_by_role("button", name="Edit Working with us?"))
    edit.click()
    choose(page, "Working with us?", "Stopped engaging")
    shot(page, "06-engagement-dialog")
    button(page, "Save change").click()
    _see(page, "Stopped engaging")
    reveal(page.get_by_role("button", name="Edit Since")).click()
    fill_field(textbox(page, "Since"), today.isoformat())
    button(page, "Save change").click()
    expect(reveal(page.get_by_text(re.compile(rf"^{re.escape(today.isoformat())}$"))).first).to_be_visible()
    shot(page, "07-stopped-engaging")
