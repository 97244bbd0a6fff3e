"""Peer mentors, in the browser: the coordinator assigns a mentor on a person's record; the mentor's
browser shows that person and the note mentors may see, not the link-worker-only note."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import COORDINATOR, PASSWORD, Team, TeamMember, join_team
from tests.e2e.ui import (
    SYNCED,
    ContactForm,
    PersonForm,
    add_person,
    appears,
    button,
    choose,
    fill_field,
    log_contact,
    open_people,
    open_today,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
    textbox,
)

pytestmark = pytest.mark.browser


def test_coordinator_assigns_a_mentor_who_sees_the_basic_tier_only(
    new_phone: Callable[[], Page], team: Team, tmp_path: Path
) -> None:
    # A mentor of our own (unique email), registered on a harness phone, so other tests are unaffected.
    mentor = TeamMember(
        f"mentor-{secrets.token_hex(3)}@e2e.test", f"Mo Mentor {secrets.token_hex(2).upper()}", Role.PEER_MENTOR
    )
    join_team(team, mentor, tmp_path, "Mo's phone")

    desk = new_phone()
    sign_in_with_new_pin(desk, COORDINATOR, PASSWORD)
    person = PersonForm(
        name=f"Lee Marsh {secrets.token_hex(2).upper()}",
        establishment="HMP Leyhill",
        risk="Private",
        release_date=dt.date.today().isoformat(),
        release_time="10:00",
    )
    add_person(desk, person)
    # The link worker's side of the gate day: where and when the mentor meets him.
    reveal(button(desk, "Gate checklist")).click()
    fill_field(reveal(textbox(desk, "Meet them where")), "Main gate, by the bus stop")
    fill_field(reveal(textbox(desk, "Who meets them")), mentor.display_name)
    reveal(button(desk, "Save release plan")).click()
    expect(desk.get_by_text(re.compile("Meeting: today at 10:00, Main gate, by the bus stop"))).to_be_visible(
        timeout=20_000
    )
    basic = "Walked to the jobcentre together."
    full = "Spoke about a family court matter in confidence."
    log_contact(desk, ContactForm(note=basic, who_can_see="Mentors can see this"))
    log_contact(desk, ContactForm(note=full))
    press_sync_now(desk)
    expect(sync_status(desk)).to_have_text(SYNCED, timeout=20_000)
    # The record is rebuilt once the sync has put the person on the server and the mentors are listed.
    expect(desk.get_by_text("No peer mentor yet.", exact=True)).to_have_count(1, timeout=20_000)
    desk.wait_for_timeout(500)
    choose(desk, "Assign a mentor", mentor.display_name)
    reveal(button(desk, "Assign mentor")).click()
    expect(appears(button(desk, f"Unassign {mentor.display_name}"), timeout=30_000)).to_be_visible()
    shot(desk, "01-mentor-assigned")

    mentor_page = new_phone()
    sign_in_with_new_pin(mentor_page, mentor, PASSWORD)
    open_people(mentor_page)
    person_button = mentor_page.get_by_role("button", name=re.compile("^" + re.escape(person.name)))
    expect(person_button).to_be_visible(timeout=20_000)
    person_button.click()
    expect(mentor_page.get_by_text(basic)).to_be_visible(timeout=20_000)
    expect(mentor_page.get_by_text("You see the details a mentor may see.")).to_be_visible()
    expect(mentor_page.get_by_text(full)).to_have_count(0)
    expect(mentor_page.get_by_text("Risk, in plain words")).to_have_count(0)
    shot(mentor_page, "02-mentor-record")

    # The mentor's gate day: Today says where and when; one tap records that they met and the help given.
    expect(mentor_page.get_by_text("Needs", exact=True)).to_have_count(0)  # needs and plan are full tier
    expect(button(mentor_page, "Gate checklist")).to_have_count(0)
    open_today(mentor_page)
    card = mentor_page.get_by_role("group", name=re.compile("^" + re.escape(person.name)))
    expect(card).to_have_accessible_name(re.compile("Meet today at 10:00, Main gate, by the bus stop"))
    shot(mentor_page, "03-mentor-today")
    button(mentor_page, f"Gate outcome for {person.name}").click()
    met = mentor_page.get_by_role("radio", name="We met them", exact=True)
    met.click()
    expect(met).to_be_checked()
    help_given = "Bought breakfast, topped up his phone, walked him to probation."
    fill_field(reveal(textbox(mentor_page, "Help given")), help_given)
    shot(mentor_page, "04-mentor-gate-outcome")
    reveal(button(mentor_page, "Save gate outcome")).click()
    expect(
        appears(mentor_page.get_by_text(re.compile("help given: " + re.escape(help_given))), timeout=20_000)
    ).to_be_visible()
    expect(sync_status(mentor_page)).to_have_text(SYNCED, timeout=30_000)

    press_sync_now(desk)
    expect(
        appears(desk.get_by_text(re.compile("met at the gate · help given: Bought breakfast")), timeout=30_000)
    ).to_be_visible()
    shot(desk, "05-coordinator-sees-the-gate-outcome")
