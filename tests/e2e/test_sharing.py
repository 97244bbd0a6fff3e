"""Consent and sharing, in the browser: a link worker records a person's consent to share the basic
details with a partner organisation; the partner's officer sees the person, marked as shared; the
worker withdraws (with a confirmation) and the partner's browser loses the person at its next sync."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import PASSWORD, WORKER, Team, TeamMember, make_team
from tests.e2e.ui import (
    SYNCED,
    ContactForm,
    PersonForm,
    add_person,
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


def test_a_worker_shares_with_consent_and_withdraws_and_the_partner_loses_the_person(
    new_phone: Callable[[], Page], team: Team, tmp_path: Path
) -> None:
    # A partner organisation of our own on the same server, with a coordinator and an officer.
    tag = secrets.token_hex(3)
    partner_name = f"Probation {tag.upper()}"
    officer = TeamMember(f"officer-{tag}@e2e.test", f"Olu Officer {tag.upper()}", Role.LINK_WORKER)
    make_team(
        team.server,
        partner_name,
        tmp_path / "partner-devices",
        coordinator_member=TeamMember(f"lead-{tag}@e2e.test", f"Pat Lead {tag.upper()}", Role.COORDINATOR),
        worker_member=officer,
    )

    desk = new_phone()
    sign_in_with_new_pin(desk, WORKER, PASSWORD)
    person = PersonForm(name=f"Rae Holt {tag.upper()}", establishment="HMP Eastwood Park", risk="Private")
    add_person(desk, person)
    note = "Met at the gate; wants help with a tenancy."
    log_contact(desk, ContactForm(note=note, who_can_see="Mentors can see this"))
    press_sync_now(desk)
    expect(sync_status(desk)).to_have_text(SYNCED, timeout=20_000)
    expect(desk.get_by_text("Only your organisation can see this record.", exact=True)).to_have_count(1, timeout=20_000)
    desk.wait_for_timeout(500)

    reveal(button(desk, "Record consent")).click()
    expect(button(desk, "Record consent and share")).to_have_count(1, timeout=10_000)
    reveal(desk.get_by_role("checkbox", name=partner_name, exact=True)).click()
    fill_field(reveal(textbox(desk, "Purposes of sharing")), "Supervision and housing on release")
    for label in (
        "I explained what will be shared, why and with whom",
        "I explained the likely consequences of sharing",
    ):
        box = reveal(desk.get_by_role("checkbox", name=label, exact=True))
        box.click()
        expect(box).to_be_checked()
    choose(desk, "How consent was recorded", "Signed consent form")
    review = (dt.date.today() + dt.timedelta(days=10)).isoformat()  # soon: Today asks for a review
    fill_field(reveal(textbox(desk, "Review or expiry date")), review)
    shot(desk, "01-record-consent")
    reveal(button(desk, "Record consent and share")).click()
    statement = desk.get_by_text(re.compile("^" + re.escape(f"{partner_name} can see basic details since ")))
    expect(statement).to_be_visible(timeout=30_000)
    expect(desk.get_by_text(re.compile("the person consented, review by "))).to_have_count(1)
    expect(
        desk.get_by_text(re.compile(re.escape(f"consent to {partner_name} (basic), signed consent form")))
    ).to_have_count(1)
    shot(desk, "02-sharing")
    expect(desk.get_by_role("button", name="Edit Prison or establishment")).to_have_count(1)

    probation = new_phone()
    sign_in_with_new_pin(probation, officer, PASSWORD)
    open_people(probation)
    person_button = probation.get_by_role("button", name=re.compile("^" + re.escape(person.name)))
    expect(person_button).to_be_visible(timeout=30_000)
    expect(person_button).to_have_accessible_name(re.compile("Shared by Browser Test Outreach"))
    person_button.click()
    expect(probation.get_by_text(note)).to_be_visible(timeout=20_000)
    expect(probation.get_by_text(re.compile("^Shared with your organisation by Browser Test Outreach"))).to_be_visible()
    expect(button(probation, "Log contact")).to_have_count(0)
    expect(probation.get_by_role("button", name="Edit Prison or establishment")).to_have_count(0)
    expect(probation.get_by_text("Risk, in plain words")).to_have_count(0)
    shot(probation, "03-partner-record")

    # Today says the consent ends soon; from there, the record, and the person agrees again: the
    # consent is renewed and the partner keeps the record.
    open_today(desk)
    expect(reveal(desk.get_by_text("Consent to review", exact=True))).to_be_visible(timeout=20_000)
    shot(desk, "04-today-consent-to-review")
    reveal(button(desk, f"Review consent for {person.name}")).click()
    reveal(button(desk, f"Renew consent with {partner_name}")).click()
    expect(button(desk, "Renew consent")).to_have_count(1, timeout=10_000)
    # The purposes agreed before are filled in (Flutter does not expose a text area's value to the page).
    for label in (
        "I explained again what is shared, why and with whom",
        "I explained the likely consequences of sharing",
    ):
        box = reveal(desk.get_by_role("checkbox", name=label, exact=True))
        box.click()
        expect(box).to_be_checked()
    renewed_to = (dt.date.today() + dt.timedelta(days=180)).isoformat()
    fill_field(reveal(textbox(desk, "New review or expiry date")), renewed_to)
    shot(desk, "05-renew-consent")
    reveal(button(desk, "Renew consent")).click()
    expect(desk.get_by_text(re.compile(re.escape(f"consent to {partner_name} (basic) renewed")))).to_have_count(
        1, timeout=30_000
    )
    expect(statement).to_be_visible()
    press_sync_now(probation)
    expect(probation.get_by_text(note)).to_be_visible(timeout=20_000)

    reveal(button(desk, f"Withdraw sharing with {partner_name}")).click()
    expect(desk.get_by_text("What they have already read cannot be recalled", exact=False)).to_be_visible()
    shot(desk, "06-withdraw-confirmation")
    button(desk, "Withdraw").click()
    expect(desk.get_by_text("Only your organisation can see this record.", exact=True)).to_have_count(1, timeout=30_000)

    press_sync_now(probation)
    expect(probation.get_by_text(note)).to_have_count(0, timeout=30_000)
    expect(probation.get_by_role("button", name=re.compile("^" + re.escape(person.name)))).to_have_count(0)
    shot(probation, "07-partner-after-withdrawal")
