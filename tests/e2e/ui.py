"""Driving the Gatepost app in Chromium the way a worker does, by the labels they see.

Flutter draws on a canvas; its accessibility tree (turned on in ``open_app``) gives every control
a role and a name, so the tests find controls by the same labels a screen reader reads out.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.processes import ARTIFACTS, PIN, TeamMember

__all__ = [
    "SCREENSHOTS",
    "SYNCED",
    "WAITING",
    "WAITING_OFFLINE",
    "ContactForm",
    "PersonForm",
    "add_person",
    "appears",
    "button",
    "choose",
    "expect_value",
    "fill_field",
    "find_person",
    "go_back",
    "log_contact",
    "open_app",
    "open_people",
    "open_today",
    "press_sync_now",
    "reveal",
    "set_pin",
    "settle",
    "shot",
    "sign_in",
    "sign_in_with_new_pin",
    "sync_status",
    "tap_until",
    "textbox",
    "today_screen",
]

SCREENSHOTS = ARTIFACTS / "screenshots"

SYNCED = re.compile(r"^(All changes synced|Synced just now|Synced \d+ min ago)$")
WAITING_OFFLINE = re.compile(r"^\d+ changes? waiting — offline$")
WAITING = re.compile(r"^\d+ changes? waiting$")
_STATUS = re.compile(
    r"^(All changes synced|Synced just now|Synced \d+ min ago|\d+ changes? waiting( — offline)?|Syncing…)$"
)


# --- the app in a browser -------------------------------------------------------------------


def open_app(context: BrowserContext, url: str) -> Page:
    """A new tab on the app, with the accessibility tree on, once the app's first screen shows."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    page.evaluate("document.querySelector('flt-semantics-placeholder')?.click()")
    first_screen = (
        page.get_by_role("button", name="Sign in", exact=True)
        .or_(page.get_by_role("button", name="Unlock", exact=True))
        .or_(page.get_by_role("button", name="Set PIN", exact=True))
        .or_(today_screen(page))
    )
    expect(first_screen.first).to_be_visible(timeout=30_000)
    return page


def settle(locator: Locator, *, tries: int = 20) -> Locator:
    """Wait until ``locator``'s box stops moving. Flutter updates its accessibility nodes a frame or
    more after a scroll; clicking a node that is still moving can land on whatever is under it."""
    previous = None
    for _ in range(tries):
        box = locator.bounding_box()
        if box is not None and box == previous:
            return locator
        previous = box
        locator.page.wait_for_timeout(80)
    return locator


def fill_field(field: Locator, text: str) -> None:
    """Type into a Flet ``TextField`` so the value reaches Python.

    A bare ``fill()`` can be lost: Flutter attaches its text-editing session a moment after focus
    and resets the DOM value. The attach flips ``autocorrect`` to "on" (the ``TextField`` default),
    so wait for that; fields without autocorrect (passwords) get a short pause and a re-check.
    """
    for _attempt in range(3):
        settle(field).click()
        try:
            expect(field).to_have_attribute("autocorrect", "on", timeout=1_500)
        except AssertionError:
            field.page.wait_for_timeout(300)
        field.fill(text)
        try:
            expect(field).to_have_value(text, timeout=2_000)
            field.page.wait_for_timeout(150)
            expect(field).to_have_value(text, timeout=1_000)
            return
        except AssertionError:
            continue
    expect(field).to_have_value(text)


def reveal(locator: Locator, *, steps: int = 12) -> Locator:
    """Bring ``locator`` onto the screen. Scrolling the accessibility node into view scrolls the
    Flutter list too; a node not built yet (a lazy list) is looked for by turning the wheel."""
    page = locator.page
    target = locator.first
    height = (page.viewport_size or {"height": 915})["height"]
    for direction in (1, -1):
        for _ in range(steps):
            if target.count():
                try:
                    target.scroll_into_view_if_needed()
                except PlaywrightError:
                    # Redrawn under us (a background sync rebuilt the screen): look again.
                    page.wait_for_timeout(200)
                    continue
                return settle(target)
            page.mouse.move(206, height * 0.6)
            page.mouse.wheel(0, 300 * direction)
            page.wait_for_timeout(120)
    expect(target).to_be_attached()
    return target


def appears(locator: Locator, *, timeout: float = 30_000) -> Locator:
    """Wait for something that comes after a save or a sync to be drawn, then bring it on screen
    (``reveal`` alone looks for it only briefly)."""
    expect(locator.first).to_be_attached(timeout=timeout)
    return reveal(locator)


def expect_value(field: Locator, expected: str | re.Pattern[str]) -> None:
    """Check what a text field holds. Flutter puts a field's text into the DOM only while the
    field is being edited, so focus it first (as a worker would, to check it)."""
    field.click()
    try:
        expect(field).to_have_attribute("autocorrect", "on", timeout=1_500)
    except AssertionError:
        field.page.wait_for_timeout(300)
    expect(field).to_have_value(expected)


def textbox(page: Page, name: str) -> Locator:
    """The text field labelled ``name``. While an empty field has focus Flutter adds its hint to
    the accessible name ("Date of birth YYYY-MM-DD"), so a trailing hint is allowed."""
    return page.get_by_role("textbox", name=re.compile(rf"^{re.escape(name)}(\s.*)?$", re.DOTALL))


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def choose(page: Page, dropdown_label: str, option_text: str) -> None:
    """Open the dropdown named ``dropdown_label``, pick ``option_text``, and see the menu close.

    (Flutter does not expose the chosen option to the accessibility tree; the saved record shows it.)
    """
    dropdown = page.get_by_role("button", name=dropdown_label, exact=True)
    reveal(dropdown).click()
    expect(page.get_by_role("button", name=dropdown_label, exact=True, expanded=True)).to_have_count(1)
    page.get_by_role("button", name=option_text, exact=True).last.click()
    expect(page.get_by_role("button", name=dropdown_label, exact=True, expanded=True)).to_have_count(0)
    expect(page.get_by_role("button", name=option_text, exact=True)).to_have_count(0)


def shot(page: Page, name: str, *, always: bool = False) -> Path | None:
    """Save what the worker sees to ``test-artifacts/screenshots/<test>/<name>.png``.

    A picture of every step costs the suite about a second each, so the steps are pictured when
    ``GATEPOST_SCREENSHOTS=1``; ``always`` (a failing test's screens) pictures them regardless.
    """
    if not (always or os.environ.get("GATEPOST_SCREENSHOTS") == "1"):
        return None
    current = os.environ.get("PYTEST_CURRENT_TEST", "outside-a-test")
    test_name = current.split("::")[-1].split(" ")[0]
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.wait_for_timeout(600)  # the canvas paints a little after the accessibility tree updates
    page.screenshot(path=str(path))
    return path


def sync_status(page: Page) -> Locator:
    """The sync status line that is always visible once the app is unlocked."""
    return page.get_by_text(_STATUS)


# --- what a worker does ---------------------------------------------------------------------


def sign_in(page: Page, member: TeamMember, password: str, *, server_url: str | None = None) -> None:
    """On the sign-in screen: (the server address is filled in already) email, password, Sign in."""
    expect(button(page, "Sign in")).to_be_visible()
    expect(button(page, "I have an invitation code")).to_be_visible()
    server = textbox(page, "Server address")
    if server_url is not None:
        fill_field(server, server_url)
    fill_field(textbox(page, "Email"), member.email)
    fill_field(textbox(page, "Password"), password)
    button(page, "Sign in").click()
    # On a loaded machine the tap can reach the app before the typed text does; the app then says
    # what is missing, as it would to a worker, who types it again.
    missing = page.get_by_text(re.compile(r"^(Email|Password) is needed\.$"))
    signed_in = button(page, "Set PIN")
    expect(missing.first.or_(signed_in)).to_be_visible(timeout=30_000)
    if not missing.count():
        return
    fill_field(textbox(page, "Email"), member.email)
    fill_field(textbox(page, "Password"), password)
    button(page, "Sign in").click()


def set_pin(page: Page, pin: str = PIN) -> None:
    expect(button(page, "Set PIN")).to_be_visible(timeout=20_000)
    fill_field(textbox(page, "New PIN"), pin)
    fill_field(textbox(page, "Repeat PIN"), pin)
    button(page, "Set PIN").click()
    expect(today_screen(page)).to_be_visible(timeout=20_000)
    # Setting the PIN syncs by itself (the new phone fetches its keys); let it finish, as a worker
    # watching the sync line would, so the next tap does not race the caseload being redrawn.
    expect(sync_status(page)).to_have_text(SYNCED, timeout=20_000)


def sign_in_with_new_pin(page: Page, member: TeamMember, password: str, *, server_url: str | None = None) -> None:
    sign_in(page, member, password, server_url=server_url)
    set_pin(page)


@dataclass(frozen=True)
class PersonForm:
    name: str
    other_names: str = ""
    date_of_birth: str = ""
    phone: str = ""
    local_connection: str = ""
    establishment: str = ""
    release_date: str = ""
    release_time: str = ""
    risk: str = ""
    goals: str = ""
    lead_professional: str = ""

    def by_label(self) -> dict[str, str]:
        return {
            "Name": self.name,
            "Other names they use": self.other_names,
            "Date of birth": self.date_of_birth,
            "Phone": self.phone,
            "Local connection (borough)": self.local_connection,
            "Prison or establishment": self.establishment,
            "Release date": self.release_date,
            "Release time": self.release_time,
            "Risk, in plain words": self.risk,
            "Their own goals, in their words": self.goals,
            "Lead professional": self.lead_professional,
        }


def add_person(page: Page, person: PersonForm, *, screenshot: str | None = None) -> None:
    """From Today or the caseload: Add person, fill the form, Save person; ends on the person's record."""
    open_people(page)
    tap_until(page, "Add person", button(page, "Save person"))
    for label, value in person.by_label().items():
        field = reveal(textbox(page, label))  # every field of the contract is there
        if value:
            fill_field(field, value)
    if screenshot:
        shot(page, screenshot)
    reveal(button(page, "Save person")).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)
    expect(page.get_by_text(person.name, exact=True).first).to_be_visible()


@dataclass(frozen=True)
class ContactForm:
    note: str
    where: str = "Prison gate"
    contact_type: str = "Met face to face"
    basis: str = "Fact"  # or "My opinion or judgement"
    who_can_see: str = "Link workers and coordinators only"  # or "Mentors can see this"


def tap_until(page: Page, button_name: str, shown: Locator, *, tries: int = 3) -> None:
    """Tap a button until what it opens is on screen. A screen that is redrawn at the very moment
    of a tap (after a background sync) can drop that tap, as a worker would see; they tap again."""
    for attempt in range(tries):
        try:
            # A tab whose renderer is busy (charts drawn on a loaded machine) may not take the tap in time.
            button(page, button_name).click()
            expect(shown.first).to_be_visible(timeout=5_000)
            return
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == tries - 1:
                raise


def log_contact(page: Page, contact: ContactForm, *, screenshot: str | None = None) -> None:
    """From a person's record: Log contact, fill the form, Save contact; ends on the record."""
    tap_until(page, "Log contact", button(page, "Save contact"))
    expect_value(textbox(page, "Date and time"), re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    choose(page, "Where", contact.where)
    choose(page, "Type of contact", contact.contact_type)
    fill_field(reveal(textbox(page, "Note")), contact.note)
    for radio_name in (contact.basis, contact.who_can_see):
        radio = reveal(page.get_by_role("radio", name=radio_name, exact=True))
        radio.click()
        expect(radio).to_be_checked()
    if screenshot:
        shot(page, screenshot)
    reveal(button(page, "Save contact")).click()
    expect(button(page, "Log contact")).to_be_visible(timeout=20_000)


def today_screen(page: Page) -> Locator:
    """What shows that Today, the first screen after the PIN, is on screen."""
    return page.get_by_text("At the gate today", exact=True)


def _to_top_level(page: Page) -> None:
    """From a person's record (or another screen under Today or the caseload), Back to the top."""
    people = button(page, "People")
    for attempt in range(3):
        if people.is_visible():
            return
        go_back(page)  # a tap can be lost to a redraw after a background sync: tap again
        try:
            expect(people).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def open_people(page: Page) -> None:
    """Go to the caseload, the list of people, as a worker would: Back to the top, then People."""
    _to_top_level(page)
    tap_until(page, "People", page.get_by_text("Caseload", exact=True))


def find_person(page: Page, name: str) -> Locator:
    """On People, search for ``name`` as a coordinator with a long list would, and return the
    person's button (a lazy list builds only the rows on screen, so an unsearched row may not exist)."""
    fill_field(reveal(textbox(page, "Search people")), name)
    listed = page.get_by_role("button", name=re.compile("^" + re.escape(name)))
    expect(listed).to_be_visible(timeout=20_000)
    return listed


def open_today(page: Page) -> None:
    _to_top_level(page)
    tap_until(page, "Today", today_screen(page))


# Notes, in the page, each time the Sync now button is drawn disabled (a sync running).
_WATCH_SYNC = """() => {
    window.__gatepostSyncSeen = false;
    const look = () => {
        for (const element of document.querySelectorAll('[aria-disabled="true"]')) {
            if ((element.getAttribute('aria-label') || element.textContent || '').trim() === 'Sync now') {
                window.__gatepostSyncSeen = true;
            }
        }
    };
    window.__gatepostSyncWatch?.disconnect();
    window.__gatepostSyncWatch = new MutationObserver(look);
    window.__gatepostSyncWatch.observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def press_sync_now(page: Page) -> None:
    """Tap Sync now and wait for the sync it started to end (the button is disabled while a sync
    runs). The sync line alone cannot tell: it may say "Synced" from the sync before."""
    sync = button(page, "Sync now")
    expect(sync).to_be_enabled(timeout=15_000)  # disabled while a sync is already running
    page.evaluate(_WATCH_SYNC)
    sync.click()
    # A sync that ends within one frame (refused at once, say) is never drawn disabled; one that
    # runs longer is. Either way, once this returns the sync the tap started has ended.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function("() => window.__gatepostSyncSeen === true", timeout=5_000)
    page.evaluate("() => window.__gatepostSyncWatch?.disconnect()")
    expect(sync.or_(button(page, "Sign in"))).to_be_enabled(timeout=60_000)


def go_back(page: Page) -> None:
    button(page, "Back").first.click()


# --- the service directory ------------------------------------------------------------------


def open_services(page: Page) -> None:
    """Go to the service directory: Back to the top, then Services (the third button at the bottom)."""
    _to_top_level(page)
    no_directory = page.get_by_text(re.compile(r"Peer mentors' phones do not hold it"))  # a mentor's phone
    tap_until(page, "Services", button(page, "Add a service").or_(no_directory))


def service_card(page: Page, name: str) -> Locator:
    """A service's card in the directory. Flutter reads a tappable card as one button named by all
    its text, which starts with the service's name."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b")).first
