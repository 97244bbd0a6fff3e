"""A forgotten password, in the browser: the coordinator makes a reset code on the Team screen,
the worker sets a new password with it on a new phone, and the coordinator's next sync gives their
access back."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.protocol import Role
from tests.e2e.processes import PASSWORD, Team, TeamMember, join_team, make_team
from tests.e2e.ui import (
    SYNCED,
    button,
    fill_field,
    press_sync_now,
    reveal,
    set_pin,
    shot,
    sign_in_with_new_pin,
    sync_status,
    tap_until,
    textbox,
)

pytestmark = pytest.mark.browser


def test_coordinator_gives_a_reset_code_and_the_worker_gets_back_in(
    new_phone: Callable[[], Page], team: Team, tmp_path: Path
) -> None:
    # An organisation of its own: no coordinator's app session left running by another test may
    # sync (and so give the access back) before this test's coordinator does.
    tag = secrets.token_hex(3)
    coordinator = TeamMember(f"coordinator-{tag}@e2e.test", f"Kit Lead {tag.upper()}", Role.COORDINATOR)
    team = make_team(
        team.server, f"Reset Outreach {tag}", tmp_path / "devices", coordinator_member=coordinator, worker_member=None
    )
    # A member of the team who has used Gatepost before (registered on a phone of the harness's).
    email = f"forgetful-{tag}@e2e.test"
    name = f"Robin Ashby {tag.upper()}"
    join_team(team, TeamMember(email, name, Role.LINK_WORKER), tmp_path, "Robin's old phone")

    desk = new_phone()
    sign_in_with_new_pin(desk, coordinator, PASSWORD)
    tap_until(desk, "Desk", button(desk, "Team"))
    tap_until(desk, "Team", desk.get_by_text("Invite someone", exact=True))
    reveal(button(desk, f"New password for {name}")).click()
    dialog_title = desk.get_by_text(f"Reset code for {name}", exact=True)
    expect(dialog_title).to_be_visible()
    code_text = desk.get_by_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$"))
    expect(code_text).to_be_visible()
    reset_code = code_text.inner_text()
    shot(desk, "01-reset-code")
    button(desk, "Done").click()

    worker = new_phone()
    button(worker, "I forgot my password").click()
    expect(button(worker, "Set new password")).to_be_visible()
    fill_field(textbox(worker, "Reset code"), reset_code)
    fill_field(textbox(worker, "Email"), email)
    fill_field(textbox(worker, "New password"), "a new and better passphrase")
    shot(worker, "02-set-new-password")
    button(worker, "Set new password").click()
    set_pin(worker)
    waiting = worker.get_by_text(re.compile("Waiting for a coordinator to give this account access"))
    expect(waiting).to_be_visible()

    # The coordinator's phone seals the organisation key to the new keys when it syncs. Its sync line
    # may say "Synced" before the tap's sync has run, so both tap again, as people would, until the
    # worker is let in.
    for _attempt in range(4):
        press_sync_now(desk)
        expect(sync_status(desk)).to_have_text(SYNCED, timeout=20_000)
        press_sync_now(worker)
        try:
            expect(waiting).to_have_count(0, timeout=8_000)
            break
        except AssertionError:
            pass
    expect(waiting).to_have_count(0)
    shot(worker, "03-back-in")
