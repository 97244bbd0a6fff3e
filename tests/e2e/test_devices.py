"""A lost phone, in the browser: the worker finds their device's name on the Devices screen, the
coordinator signs it out from the Team screen (and the audit trail says so), and the lost phone
erases itself at its next sync and shows why."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.processes import COORDINATOR, PASSWORD, WORKER
from tests.e2e.ui import (
    appears,
    button,
    press_sync_now,
    reveal,
    shot,
    sign_in_with_new_pin,
    tap_until,
    today_screen,
)

pytestmark = pytest.mark.browser


def _open_devices(page: Page) -> None:
    button(page, "Devices").click()
    expect(page.get_by_text("Devices", exact=True).first).to_be_visible()


def test_coordinator_signs_out_a_lost_phone_which_erases_itself(new_phone: Callable[[], Page]) -> None:
    lost = new_phone()
    sign_in_with_new_pin(lost, WORKER, PASSWORD)
    _open_devices(lost)
    this_device = lost.get_by_role("group", name=re.compile(r"^Web browser [0-9a-f]{4} \(this device\) Last synced"))
    expect(this_device).to_be_visible()
    sign_out_mine = this_device.get_by_role("button", name=re.compile(r"^Sign out Web browser [0-9a-f]{4}$"))
    device_name = (sign_out_mine.get_attribute("aria-label") or sign_out_mine.inner_text()).removeprefix("Sign out ")
    shot(lost, "01-worker-devices")
    button(lost, "Back").first.click()
    expect(today_screen(lost)).to_be_visible()

    desk = new_phone()
    sign_in_with_new_pin(desk, COORDINATOR, PASSWORD)
    # The coordinator's own Devices screen lists only their own; the team's are on the Team screen.
    _open_devices(desk)
    expect(desk.get_by_role("group", name=re.compile(rf"^{re.escape(device_name)} Last synced"))).to_have_count(0)
    button(desk, "Back").first.click()
    tap_until(desk, "Desk", button(desk, "Team"))
    tap_until(desk, "Team", desk.get_by_text("Invite someone", exact=True))
    # Member by member: the worker, then their devices.
    expect(reveal(desk.get_by_text(WORKER.display_name, exact=True).first)).to_be_visible()
    their_device = desk.get_by_role("group", name=re.compile(rf"^{re.escape(device_name)} Last synced"))
    expect(reveal(their_device)).to_be_visible()
    reveal(button(desk, f"Sign out {device_name}")).click()
    expect(desk.get_by_text(f"Sign out {device_name}?")).to_be_visible()
    shot(desk, "02-confirm-sign-out")
    button(desk, "Sign it out").click()
    signed_out = rf"^{re.escape(device_name)}\s+Signed out$"
    expect(desk.get_by_text(re.compile(signed_out))).to_be_visible()
    expect(button(desk, f"Sign out {device_name}")).to_have_count(0)
    shot(desk, "03-signed-out")

    # The coordinator's audit trail says who signed which device out.
    button(desk, "Back").first.click()
    appears(button(desk, "Team"))
    button(desk, "Audit trail").click()
    audited = rf"^{re.escape(COORDINATOR.display_name)} signed out {re.escape(device_name)}\s"
    expect(desk.get_by_text(re.compile(audited))).to_be_visible()
    shot(desk, "03b-audit-trail")

    # The lost phone's next contact: it is told, erases itself and shows the sign-in screen.
    press_sync_now(lost)
    expect(button(lost, "Sign in")).to_be_visible(timeout=20_000)
    expect(lost.get_by_text(re.compile("This phone was signed out by your organisation")).first).to_be_visible()
    expect(today_screen(lost)).to_have_count(0)
    shot(lost, "04-lost-phone-erased")
