"""Left on a table with a form half-filled: the app locks itself, and the PIN brings the worker back
to the same form with what they had typed. (This app process locks after 6 seconds.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import PHONE
from tests.e2e.processes import LOGS, PASSWORD, PIN, WORKER, AppProcess, Team
from tests.e2e.ui import button, expect_value, fill_field, open_app, open_people, shot, sign_in_with_new_pin, textbox

pytestmark = pytest.mark.browser


@pytest.fixture
def quick_lock_app(team: Team, tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(
        tmp_path / "app-data", team.server.url, LOGS / "quick-lock-app.log", {"OUTREACH_LOCK_AFTER_SECONDS": "6"}
    )
    try:
        yield process.start()
    finally:
        process.stop()


def test_an_idle_app_locks_and_returns_to_the_half_filled_form(browser: Browser, quick_lock_app: AppProcess) -> None:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = open_app(context, quick_lock_app.url)
        sign_in_with_new_pin(page, WORKER, PASSWORD)
        open_people(page)
        button(page, "Add person").click()
        fill_field(textbox(page, "Name"), "Lorraine Pike")

        locked = page.get_by_text("Gatepost is locked", exact=True)
        expect(locked).to_be_visible(timeout=20_000)
        expect(textbox(page, "Name")).to_have_count(0)  # nothing of the form shows while locked
        shot(page, "01-locked")

        fill_field(textbox(page, "PIN"), PIN)
        button(page, "Unlock").click()
        expect(button(page, "Save person")).to_be_visible()
        expect_value(textbox(page, "Name"), "Lorraine Pike")
        shot(page, "02-back-to-the-form")
    finally:
        context.close()


@pytest.fixture
def own_app(team: Team, tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "app-data", team.server.url, LOGS / "killed-app.log")
    try:
        yield process.start()
    finally:
        process.stop()


def test_a_form_half_filled_when_the_app_is_killed_comes_back_after_the_pin(
    browser: Browser, own_app: AppProcess
) -> None:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = open_app(context, own_app.url)
        sign_in_with_new_pin(page, WORKER, PASSWORD)
        open_people(page)
        button(page, "Add person").click()
        fill_field(textbox(page, "Name"), "Marcus Hale")
        fill_field(textbox(page, "Other names they use"), "Marky")
        # The worker pauses; the draft is kept on the phone a second after the last keystroke (the
        # wait leaves room for a loaded machine).
        page.wait_for_timeout(4_000)

        # The phone kills the app (no goodbye), and the worker opens it again.
        assert own_app.process is not None
        own_app.process.kill()
        own_app.process.wait(timeout=10)
        own_app.start()
        page.reload()
        page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
        page.evaluate("document.querySelector('flt-semantics-placeholder')?.click()")
        fill_field(textbox(page, "PIN"), PIN)
        button(page, "Unlock").click()
        expect(button(page, "Save person")).to_be_visible(timeout=20_000)
        expect_value(textbox(page, "Name"), "Marcus Hale")
        expect_value(textbox(page, "Other names they use"), "Marky")
        shot(page, "01-back-after-the-app-was-killed")
    finally:
        context.close()
