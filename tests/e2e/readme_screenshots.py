"""Retake the README's phone screenshots from a running ``make demo``.

    make demo            # in one terminal
    .venv/bin/python -m tests.e2e.readme_screenshots   # in another

Signs in as the demo link worker in a fresh Chromium context at 412x915 and saves
``assets/screenshots/{today,gate-checklist,caseload,record,log-contact}.png``, then as the demo
coordinator at laptop size for ``dashboard.png`` (the Desk's caseload dashboard). Nothing is saved
to the demo's record (the contact form is left without saving).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from shared.protocol import Role
from tests.e2e.conftest import CHROMIUM_ARGS, PHONE
from tests.e2e.processes import TeamMember
from tests.e2e.ui import (
    SYNCED,
    button,
    choose,
    fill_field,
    open_app,
    open_people,
    reveal,
    set_pin,
    sign_in,
    sync_status,
    tap_until,
    textbox,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "assets" / "screenshots"
DEMO_WORKER = TeamMember("worker@demo.test", "Sam Okoro", Role.LINK_WORKER)
DEMO_COORDINATOR = TeamMember("coordinator@demo.test", "Priya Shah", Role.COORDINATOR)
LAPTOP = {"width": 1280, "height": 1000}


def main() -> None:
    app_url = f"http://127.0.0.1:{os.environ.get('OUTREACH_APP_PORT', '8550')}/"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("OUTREACH_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(30_000)
        page = open_app(context, app_url)
        sign_in(page, DEMO_WORKER, "demo-password")
        set_pin(page, "1234")
        expect(sync_status(page)).to_have_text(SYNCED, timeout=30_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "today.png"))

        button(page, "Open Jade Porter").click()
        reveal(button(page, "Gate checklist")).click()
        expect(button(page, "Save release plan")).to_be_visible()
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "gate-checklist.png"))
        button(page, "Back").first.click()
        expect(button(page, "Log contact")).to_be_visible()

        open_people(page)
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "caseload.png"))

        person = page.get_by_role("button", name=re.compile(r"^Dean Walsh"))
        reveal(person).click()
        expect(button(page, "Log contact")).to_be_visible()
        page.mouse.move(206, 600)
        page.mouse.wheel(0, 900)  # past the contacts, to the gate, the lead and the needs
        page.wait_for_timeout(1_200)
        page.screenshot(path=str(OUT / "record.png"))
        page.mouse.wheel(0, -3000)
        page.wait_for_timeout(600)

        tap_until(page, "Log contact", button(page, "Save contact"))
        choose(page, "Where", "Prison gate")
        choose(page, "Type of contact", "Met face to face")
        fill_field(
            textbox(page, "Note"),
            "Met at the gate at 08:40 with a travel warrant. Walked to housing options; bedspace held.",
        )
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "log-contact.png"))
        context.close()

        # The coordinator's Desk in a laptop's browser: the team's caseloads and the charts.
        context = browser.new_context(viewport=LAPTOP)
        context.set_default_timeout(30_000)
        page = open_app(context, app_url)
        sign_in(page, DEMO_COORDINATOR, "demo-password")
        set_pin(page, "1234")
        expect(sync_status(page)).to_have_text(SYNCED, timeout=30_000)
        tap_until(page, "Desk", page.get_by_text("Team caseloads", exact=True))
        expect(button(page, "See Aisha Khan's people")).to_be_visible()
        page.wait_for_timeout(1_200)
        page.screenshot(path=str(OUT / "dashboard.png"))
        context.close()
        browser.close()
    print(f"Saved to {OUT}")


if __name__ == "__main__":
    main()
