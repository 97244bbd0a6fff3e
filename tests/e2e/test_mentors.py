"""Peer mentors, in the browser: the coordinator assigns a mentor on a person's record; the mentor's
browser shows that person and the note mentors may see, not the link-worker-only note."""

from __future__ import annotations

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
    button,
    choose,
    log_contact,
    open_people,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    sync_status,
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
    person = PersonForm(name=f"Lee Marsh {secrets.token_hex(2).upper()}", establishment="HMP Leyhill", risk="Private")
    add_person(desk, person)
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
    expect(reveal(button(desk, f"Unassign {mentor.display_name}"))).to_be_visible(timeout=30_000)
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
