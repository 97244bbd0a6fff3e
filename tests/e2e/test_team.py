"""The coordinator's Team screen, in the browser: invite a link worker (the code to pass on), see
the pending invitation, cancel another, see a peer mentor's assigned person and open their
record, sign a member's device out, and remove the mentor from the organisation."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import PASSWORD, Team, TeamMember, join_team, make_team
from tests.e2e.ui import appears, button, choose, fill_field, reveal, shot, sign_in_with_new_pin, tap_until, textbox

pytestmark = pytest.mark.browser


def test_coordinator_invites_cancels_sees_mentors_people_signs_a_device_out_and_removes_a_member(
    new_phone: Callable[[], Page], team: Team, tmp_path: Path
) -> None:
    # An organisation of its own, so the members and invitations listed are this test's alone.
    tag = secrets.token_hex(3)
    coordinator = TeamMember(f"coordinator-{tag}@e2e.test", f"Tess Lead {tag.upper()}", Role.COORDINATOR)
    own = make_team(
        team.server, f"Team Outreach {tag}", tmp_path / "devices", coordinator_member=coordinator, worker_member=None
    )
    mentor = TeamMember(f"mentor-{tag}@e2e.test", f"Mo Mentor {tag.upper()}", Role.PEER_MENTOR)
    join_team(own, mentor, tmp_path / "mentor", "Mo's phone")
    worker = TeamMember(f"worker-{tag}@e2e.test", f"Rae Worker {tag.upper()}", Role.LINK_WORKER)
    join_team(own, worker, tmp_path / "worker", "Rae's old phone")
    # The coordinator's harness phone records a person and assigns the mentor (as on the record).
    person = f"Lee Marsh {tag.upper()}"
    harness = own.coordinator_device()
    try:
        case_id = harness.records.add_person({"name": person})
        harness.sync.sync_now()
        mentor_id = next(m.user_id for m in harness.mentors.mentors(case_id).available)
        harness.mentors.assign_mentor(case_id, mentor_id)
    finally:
        harness.close()

    desk = new_phone()
    sign_in_with_new_pin(desk, coordinator, PASSWORD)
    tap_until(desk, "Desk", button(desk, "Team"))
    tap_until(desk, "Team", desk.get_by_text("Invite someone", exact=True))
    expect(desk.get_by_text("Invitations not used yet (0)", exact=True)).to_be_visible()
    shot(desk, "01-team")

    # Invite a link worker by email: the code, and how to pass it on.
    invited = f"new-{tag}@e2e.test"
    fill_field(textbox(desk, "Their email (optional)"), invited)
    button(desk, "Make an invitation code").click()
    expect(desk.get_by_text(f"Invitation code for {invited}", exact=True)).to_be_visible(timeout=20_000)
    expect(desk.get_by_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$"))).to_be_visible()
    expect(desk.get_by_text(re.compile('they choose "I have an invitation code"'))).to_be_visible()
    shot(desk, "02-invitation-code")
    button(desk, "Done").click()
    expect(appears(desk.get_by_text(f"Link worker · {invited}", exact=True))).to_be_visible()

    # Another, for a peer mentor with no email; then cancel it.
    reveal(textbox(desk, "Their email (optional)"))
    choose(desk, "They will be a", "Peer mentor")
    fill_field(textbox(desk, "Their email (optional)"), "")
    button(desk, "Make an invitation code").click()
    expect(desk.get_by_text("Invitation code for the new peer mentor", exact=True)).to_be_visible(timeout=20_000)
    button(desk, "Done").click()
    expect(appears(desk.get_by_text("Invitations not used yet (2)", exact=True))).to_be_visible()
    shot(desk, "03-two-pending")
    reveal(button(desk, "Cancel invitation for a peer mentor (any email)")).click()
    expect(appears(desk.get_by_text("Invitations not used yet (1)", exact=True))).to_be_visible(timeout=20_000)
    expect(button(desk, "Cancel invitation for a peer mentor (any email)")).to_have_count(0)
    expect(desk.get_by_text(f"Link worker · {invited}", exact=True)).to_be_visible()
    shot(desk, "04-cancelled")

    # The members, by role: the mentor's person, by name from this phone's records.
    expect(reveal(desk.get_by_text("Peer mentors (1)", exact=True))).to_be_visible()
    expect(reveal(desk.get_by_text(mentor.display_name, exact=True))).to_be_visible()
    open_person = reveal(desk.get_by_role("button", name=re.compile(rf"^{re.escape(person)}")))
    shot(desk, "05-mentor-and-person")
    open_person.click()
    expect(desk.get_by_text(person, exact=True).first).to_be_visible(timeout=20_000)
    expect(desk.get_by_text("Invite someone", exact=True)).to_have_count(0)
    shot(desk, "06-record-opened")
    button(desk, "Back").first.click()
    tap_until(desk, "Team", desk.get_by_text("Invite someone", exact=True))

    # Sign the worker's old phone out, from their place in the team.
    reveal(button(desk, "Sign out Rae's old phone")).click()
    expect(desk.get_by_text("Sign out Rae's old phone?")).to_be_visible()
    button(desk, "Sign it out").click()
    expect(appears(desk.get_by_text(re.compile(r"^Rae's old phone\s+Signed out$")))).to_be_visible(timeout=20_000)
    expect(button(desk, "Sign out Rae's old phone")).to_have_count(0)
    shot(desk, "07-device-signed-out")

    # Remove the mentor: the confirm step says what happens and what cannot be undone.
    reveal(button(desk, f"Remove {mentor.display_name} from the organisation")).click()
    expect(desk.get_by_text(f"Remove {mentor.display_name} from the organisation?", exact=True)).to_be_visible()
    expect(desk.get_by_text(re.compile(r"already shown cannot be recalled\. This cannot be undone\.$"))).to_be_visible()
    expect(desk.get_by_text(re.compile(r"stop receiving the 1 person they mentor"))).to_be_visible()
    shot(desk, "08-remove-confirm")
    button(desk, f"Remove {mentor.display_name}").click()
    expect(appears(desk.get_by_text("No longer in the organisation (1)", exact=True))).to_be_visible(timeout=30_000)
    expect(reveal(desk.get_by_text("Peer mentors (0)", exact=True))).to_be_visible()
    expect(
        reveal(desk.get_by_text(re.compile(r"^Was a peer mentor · removed on .* · no devices, no access$")))
    ).to_be_visible()
    expect(button(desk, f"Remove {mentor.display_name} from the organisation")).to_have_count(0)
    expect(button(desk, "Sign out Mo's phone")).to_have_count(0)
    shot(desk, "09-member-removed")
