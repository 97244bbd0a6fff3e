"""The service directory in the real app in Chromium: a link worker opens Services from the bottom
bar, adds a hostel, finds it by search and by its kind, corrects its opening hours by tapping its
card, and then chooses it from the directory in a referral, which fills the kind of service and
"Referred to". A peer mentor's phone has no directory, and says so."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from shared.protocol import Role
from tests.e2e.processes import PASSWORD, WORKER, Team, TeamMember, join_team
from tests.e2e.ui import (
    PersonForm,
    add_person,
    button,
    choose,
    expect_value,
    fill_field,
    open_services,
    reveal,
    service_card,
    shot,
    sign_in_with_new_pin,
    tap_until,
    textbox,
    today_screen,
)

pytestmark = pytest.mark.browser


def _text(page: Page, text: str) -> Locator:
    """``text`` on screen, as a text or within a card (which a screen reader reads as one)."""
    found = page.get_by_text(text, exact=True).or_(page.get_by_role("group", name=re.compile(re.escape(text))))
    return reveal(found).first


def test_a_worker_adds_a_service_finds_it_edits_it_and_refers_to_it(new_phone: Callable[[], Page]) -> None:
    tag = secrets.token_hex(2).upper()
    hostel = f"Bridge House Hostel {tag}"
    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD)
    expect(today_screen(page)).to_be_visible()

    # Services is the third button at the bottom, beside Today and People.
    open_services(page)
    shot(page, "01-services")
    tap_until(page, "Add a service", button(page, "Save service"))
    reveal(button(page, "Save service")).click()
    expect(page.get_by_text("Give the name of the service.").first).to_be_visible()  # next to the field
    fill_field(reveal(textbox(page, "Name of the service")), hostel)
    choose(page, "Kind of service", "Hostel")
    fill_field(reveal(textbox(page, "Area or borough")), "Easton, Bristol")
    fill_field(reveal(textbox(page, "Phone")), "0117 955 0101")
    fill_field(reveal(textbox(page, "Opening hours")), "Referrals Mon-Fri 9:00-17:00")
    fill_field(reveal(textbox(page, "What to know")), "Ask for the duty worker. No dogs.")
    shot(page, "02-add-a-service")
    reveal(button(page, "Save service")).click()
    expect(button(page, "Add a service")).to_be_visible(timeout=20_000)
    card = service_card(page, hostel)
    expect(reveal(card)).to_be_visible()
    for words in ("Hostel", "Easton, Bristol", "0117 955 0101", "Referrals Mon-Fri 9:00-17:00", "No dogs."):
        expect(card).to_have_accessible_name(re.compile(re.escape(words)))
    shot(page, "03-service-added")

    # Found by search (any of its words), and by its kind of service.
    fill_field(reveal(textbox(page, "Search services")), f"hostel {tag}".lower())
    expect(reveal(service_card(page, hostel))).to_be_visible()
    fill_field(reveal(textbox(page, "Search services")), f"duty worker {tag}")
    _text(page, "No service matches.")
    fill_field(reveal(textbox(page, "Search services")), tag)
    expect(page.get_by_role("button", name=re.compile(r"^Bridge House Hostel"))).to_have_count(1)
    shot(page, "04-found-by-search")
    choose(page, "Show", "GP")
    _text(page, "No service matches.")
    choose(page, "Show", "Hostel")
    expect(reveal(service_card(page, hostel))).to_be_visible()

    # Tapping the card edits it: the opening hours changed.
    reveal(service_card(page, hostel)).click()
    expect(page.get_by_text(f"Edit {hostel}", exact=True)).to_be_visible(timeout=10_000)
    hours = reveal(textbox(page, "Opening hours"))
    expect_value(hours, "Referrals Mon-Fri 9:00-17:00")
    fill_field(hours, "Referrals Mon-Thu 9:00-16:00, Fri until 12:00")
    shot(page, "05-edit-opening-hours")
    reveal(button(page, "Save service")).click()
    expect(button(page, "Add a service")).to_be_visible(timeout=20_000)
    expect(reveal(service_card(page, hostel))).to_have_accessible_name(re.compile(r"Fri until 12:00"))
    expect(service_card(page, hostel)).not_to_have_accessible_name(re.compile(r"Mon-Fri 9:00-17:00"))
    shot(page, "06-service-edited")

    # A referral chooses it from the directory: the kind of service and "Referred to" are filled in.
    name = f"Kyle Dunn {tag}"
    add_person(page, PersonForm(name=name))
    reveal(button(page, "Refer"))
    tap_until(page, "Refer", button(page, "Review referral"))
    tap_until(page, "Choose from the service directory", page.get_by_text("Choose a service", exact=True))
    fill_field(reveal(textbox(page, "Search services")), tag)
    shot(page, "07-choose-from-the-directory")
    reveal(service_card(page, hostel)).click()
    expect(button(page, "Review referral")).to_be_visible(timeout=10_000)
    expect_value(reveal(textbox(page, "Referred to")), hostel)
    shot(page, "08-referral-filled-in")
    reveal(button(page, "Review referral")).click()
    expect(page.get_by_text("Referral summary", exact=True)).to_be_visible()
    _text(page, f"Hostel: {hostel}")
    reveal(button(page, "Save referral as sent")).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)
    expect(_text(page, f"Hostel: {hostel}")).to_be_visible()
    shot(page, "09-referral-saved")

    # The hostel closes: kept (the referral names it), but no longer listed unless asked for.
    open_services(page)
    fill_field(reveal(textbox(page, "Search services")), tag)
    reveal(service_card(page, hostel)).click()
    expect(page.get_by_text(f"Edit {hostel}", exact=True)).to_be_visible(timeout=10_000)
    choose(page, "Still running?", "No longer running")
    reveal(button(page, "Save service")).click()
    expect(button(page, "Add a service")).to_be_visible(timeout=20_000)
    expect(service_card(page, hostel)).to_have_count(0)
    closed = reveal(page.get_by_role("checkbox", name="Show services no longer running", exact=True))
    closed.click()
    expect(reveal(service_card(page, hostel))).to_have_accessible_name(re.compile("No longer running"))
    shot(page, "10-service-no-longer-running")


def test_a_peer_mentors_phone_says_plainly_that_it_has_no_directory(
    new_phone: Callable[[], Page], team: Team, tmp_path: Path
) -> None:
    mentor = TeamMember(
        f"mentor-{secrets.token_hex(3)}@e2e.test", f"Mo Mentor {secrets.token_hex(2).upper()}", Role.PEER_MENTOR
    )
    join_team(team, mentor, tmp_path, "Mo's phone")
    page = new_phone()
    sign_in_with_new_pin(page, mentor, PASSWORD)
    open_services(page)
    expect(
        page.get_by_text(re.compile(r"^The service directory is kept by link workers and coordinators\."))
    ).to_be_visible()
    expect(button(page, "Add a service")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Search services")).to_have_count(0)
    shot(page, "01-mentor-services")
