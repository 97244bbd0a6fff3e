"""The coordinator's outcomes report in the real app in Chromium: records made on another phone
(the harness's, through the client services) for a quarter of 2020 that no other test touches; the
coordinator opens Outcomes from the Desk, chooses the period, sees NI 143 as defined and the stricter
count, opens the people behind a figure and one of their records, and saves the anonymised CSV and
the printable summary."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Locator, Page, expect

from tests.e2e import ui
from tests.e2e.conftest import PHONE
from tests.e2e.processes import COORDINATOR, LOGS, PASSWORD, PIN, AppProcess, Team
from tests.e2e.ui import button, fill_field, open_app, shot, sign_in_with_new_pin, tap_until, textbox

pytestmark = pytest.mark.browser

NewPhone = Callable[[], Page]


def reveal(locator: Locator) -> Locator:
    for _attempt in range(3):
        try:
            return ui.reveal(locator)
        except Error:
            locator.page.wait_for_timeout(300)
    return ui.reveal(locator)


def figure(page: Page, label: str) -> Locator:
    """A figure of the report: Flutter reads the tappable row as one button named by its text."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(label)}\s")).first


def _seed(team: Team, tag: str) -> list[str]:
    """Six people whose licence ended in 2020's first quarter: five in a tenancy, one in a bail hostel."""
    phone = team.coordinator_device()
    names = []
    try:
        for n in range(6):
            name = f"Outcome {tag} {n}"
            case_id = phone.records.add_person(
                {"name": name, "supervision": "licence", "supervision_ends_on": f"2020-02-{10 + n:02d}"}
            )
            kind = "bail_hostel" if n == 5 else "social_tenancy"
            phone.casework.record_accommodation(case_id, accommodation_type=kind, suitable=True, from_on="2020-01-05")
            if n == 0:
                phone.casework.record_employment(
                    case_id, status="full_time", ete_stage="employment", from_on="2020-01-20"
                )
            names.append(name)
        assert not phone.sync.sync_now().offline
    finally:
        phone.close()
    return names


def test_the_coordinator_opens_the_figures_the_people_behind_them_and_saves_the_anonymised_csv(
    new_phone: NewPhone, team: Team
) -> None:
    names = _seed(team, secrets.token_hex(2).upper())
    page = new_phone()
    sign_in_with_new_pin(page, COORDINATOR, PASSWORD)
    expect(button(page, "Outcomes report")).to_have_count(0)  # on the Desk, not Today
    tap_until(page, "Desk", page.get_by_text("Team caseloads", exact=True))
    reveal(button(page, "Outcomes report"))
    shot(page, "00-desk")
    tap_until(page, "Outcomes report", button(page, "Show figures"))
    fill_field(reveal(textbox(page, "From")), "2020-01-01")
    fill_field(reveal(textbox(page, "To (included)")), "2020-03-31")
    shot(page, "01-period")
    reveal(button(page, "Show figures")).click()
    expect(page.get_by_text(re.compile(r"^1 Jan 2020 to 31 Mar 2020, counted on this phone"))).to_be_visible(
        timeout=20_000
    )
    expect(reveal(figure(page, "Order or licence ended in the period"))).to_have_accessible_name(re.compile(r"\s6$"))
    as_defined = "Settled and suitable, counting hostels and Approved Premises (as defined)"
    strict = "Settled and suitable, not counting hostels, Approved Premises or supported housing"
    expect(reveal(figure(page, as_defined))).to_have_accessible_name(re.compile(r"\s6 of 6$"))
    expect(reveal(figure(page, strict))).to_have_accessible_name(re.compile(r"\s5 of 6$"))
    shot(page, "02-ni143")
    expect(reveal(figure(page, "In employment, part-time or full-time"))).to_have_accessible_name(
        re.compile(r"\s1 of 6$")
    )
    shot(page, "03-ni144")

    # The strict count opens the five people in a tenancy (and not the one in the bail hostel).
    reveal(figure(page, strict)).click()
    expect(page.get_by_text(re.compile(r"^5 people, 1 Jan 2020 to 31 Mar 2020\. For you only\."))).to_be_visible()
    for name in names[:5]:
        expect(reveal(button(page, name))).to_be_visible()
    expect(button(page, names[5])).to_have_count(0)
    shot(page, "04-people-behind-the-figure")
    reveal(button(page, names[0])).click()
    expect(page.get_by_text(names[0], exact=True).first).to_be_visible(timeout=20_000)
    expect(reveal(page.get_by_text("In full-time work, since 20 Jan 2020. Stage reached: Employment"))).to_be_visible()
    shot(page, "05-their-record")

    # Back to the Desk, the report again (it keeps the period), and the CSV for commissioners.
    reveal(button(page, "Back")).click()
    reveal(button(page, "Outcomes report"))
    tap_until(page, "Outcomes report", button(page, "Show figures"))
    expect(page.get_by_text(re.compile(r"^1 Jan 2020 to 31 Mar 2020, counted on this phone"))).to_be_visible()
    save = reveal(button(page, "Save anonymised figures"))
    with page.expect_download() as download_info:
        save.click()
    download = download_info.value
    assert download.suggested_filename == "outcomes-2020-01-01-to-2020-03-31.csv"
    content = Path(download.path()).read_text(encoding="utf-8")
    assert "Outcome" not in content
    rows = {row["measure"]: row["value"] for row in csv.DictReader(io.StringIO(content))}
    assert rows["Order or licence ended in the period"] == "6"
    assert rows[as_defined] == "6"
    assert rows[strict] == "*"  # 5 of 6: the one in the hostel would show by subtraction
    assert rows["In employment, part-time or full-time"] == "*"
    assert not [value for value in rows.values() if value in ("1", "2", "3", "4")]
    expect(page.get_by_text(re.compile(r"^Saved outcomes-2020-01-01-to-2020-03-31\.csv"))).to_be_visible()
    shot(page, "06-saved")

    # The printable summary: the same figures on one page, with charts, and no names.
    with page.expect_download() as download_info:
        reveal(button(page, "Save printable summary")).click()
    summary = download_info.value
    assert summary.suggested_filename == "outcomes-summary-2020-01-01-to-2020-03-31.html"
    printable = Path(summary.path()).read_text(encoding="utf-8")
    assert "Outcome " not in printable
    assert "6 of 6 (100%)" in printable
    assert printable.count("<svg") == 3  # the charts, drawn by matplotlib
    assert f"{strict}: *" in printable  # in the chart's description for screen readers


@pytest.fixture
def quick_lock_app(team: Team, tmp_path: Path) -> Iterator[AppProcess]:
    # Long enough for a loaded machine between taps, short enough to wait for.
    process = AppProcess(
        tmp_path / "app-data", team.server.url, LOGS / "report-lock-app.log", {"OUTREACH_LOCK_AFTER_SECONDS": "15"}
    )
    try:
        yield process.start()
    finally:
        process.stop()


def test_after_a_lock_the_pin_brings_the_report_back_for_the_same_period(
    browser: Browser, quick_lock_app: AppProcess
) -> None:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = open_app(context, quick_lock_app.url)
        sign_in_with_new_pin(page, COORDINATOR, PASSWORD)
        tap_until(page, "Desk", page.get_by_text("Team caseloads", exact=True))
        tap_until(page, "Outcomes report", button(page, "Show figures"))
        fill_field(reveal(textbox(page, "From")), "2019-10-01")
        fill_field(reveal(textbox(page, "To (included)")), "2019-12-31")
        reveal(button(page, "Show figures")).click()
        period = page.get_by_text(re.compile(r"^1 Oct 2019 to 31 Dec 2019, counted on this phone"))
        expect(period).to_be_visible(timeout=20_000)
        shot(page, "01-report")

        locked = page.get_by_text("Gatepost is locked", exact=True)
        expect(locked).to_be_visible(timeout=45_000)
        expect(period).to_have_count(0)  # nothing of the report shows while locked
        shot(page, "02-locked")

        fill_field(textbox(page, "PIN"), PIN)
        button(page, "Unlock").click()
        expect(period).to_be_visible(timeout=20_000)
        expect(reveal(button(page, "Save anonymised figures"))).to_be_visible()
        shot(page, "03-back-to-the-report")
    finally:
        context.close()
