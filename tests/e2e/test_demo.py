"""``make demo`` as a newcomer uses it: the launcher starts the server and the app, seeds the demo
organisation, the link worker signs in in a browser and logs a contact, and the coordinator's demo
phone receives it. Stopping with Ctrl-C stops both; a second start reuses the demo data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from outreach_app.demo import (
    COORDINATOR,
    DEMO_PASSWORD,
    DEMO_PIN,
    PARTNER,
    PARTNER_ORGANISATION,
    SECOND_WORKER,
    SHARED_WITH_PARTNER,
    WORKER,
)
from outreach_app.services import Gatepost, device_store_path
from shared.outcomes import Period
from tests.e2e.conftest import PHONE
from tests.e2e.processes import LOGS, ROOT, TeamMember, free_port
from tests.e2e.ui import (
    SYNCED,
    ContactForm,
    button,
    log_contact,
    open_app,
    open_people,
    reveal,
    set_pin,
    shot,
    sign_in,
    sync_status,
    tap_until,
)

pytestmark = pytest.mark.browser

BANNER = "Gatepost demo is running."
START_TIMEOUT_S = 240.0


class Launcher:
    """``python -m outreach_app.demo_launcher`` (what ``make demo`` runs) on free ports."""

    def __init__(self, data_dir: Path, server_port: int, app_port: int, log_path: Path) -> None:
        self.data_dir = data_dir
        self.server_url = f"http://127.0.0.1:{server_port}"
        self.app_url = f"http://127.0.0.1:{app_port}/"
        self.env = dict(os.environ, OUTREACH_SERVER_PORT=str(server_port), OUTREACH_APP_PORT=str(app_port))
        self.log_path = log_path
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> Launcher:
        self.output.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "outreach_app.demo_launcher", "--data-dir", str(self.data_dir)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(BANNER in line for line in self.output):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"make demo did not come up. It printed:\n{self.printed()}", pytrace=False)
            time.sleep(0.2)
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in self.process.stdout:
                self.output.append(line)
                log.write(line)
                log.flush()

    def printed(self) -> str:
        return "".join(self.output)

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the launcher's exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return self.process.returncode


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Launcher]:
    LOGS.mkdir(parents=True, exist_ok=True)
    launcher = Launcher(tmp_path / "demo", free_port(), free_port(), LOGS / "demo-launcher.log")
    try:
        yield launcher
    finally:
        if launcher.process is not None:
            launcher.stop()


def _port_is_free(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=2)
    except (urllib.error.URLError, OSError):
        return True
    return False


def test_make_demo_worker_logs_a_contact_and_the_coordinator_receives_it(demo: Launcher, browser: Browser) -> None:
    demo.start()
    printed = demo.printed()
    for expected in (
        demo.app_url,
        demo.server_url,
        "worker@demo.test",
        "worker2@demo.test",
        "coordinator@demo.test",
        "mentor@demo.test",
        "partner@demo.test",
    ):
        assert expected in printed, f"the banner does not show {expected}:\n{printed}"
    assert f"password: {DEMO_PASSWORD}" in printed
    assert "people added: 19" in printed
    assert "conflict seeded: Sam Okoro and Aisha Khan on Marcus Bailey's release" in printed

    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(30_000)
    try:
        page = open_app(context, demo.app_url)
        sign_in(page, TeamMember(WORKER.email, WORKER.display_name, WORKER.role), DEMO_PASSWORD)
        set_pin(page, DEMO_PIN)
        shot(page, "01-demo-today")
        open_people(page)
        shot(page, "01-demo-caseload")
        person = page.get_by_role("button", name=re.compile(r"^Kayleigh Dawson"))
        expect(person).to_be_visible()
        person.click()
        note = "Met Kayleigh at the visitor centre; she wants her GP appointment moved to Friday."
        log_contact(page, ContactForm(note=note, where="Prison (in-reach visit)", contact_type="Met face to face"))
        expect(page.get_by_text(note)).to_be_visible()
        expect(sync_status(page)).to_have_text(SYNCED, timeout=30_000)
        shot(page, "02-demo-contact-logged")
    finally:
        context.close()

    # The coordinator's demo phone (made by the seeding, unlocked with the demo PIN) receives it.
    coordinator = Gatepost.open(device_store_path(demo.data_dir / "app-data", COORDINATOR.slot))
    try:
        coordinator.account.unlock(DEMO_PIN)
        assert not coordinator.sync.sync_now().offline
        people = {summary.name: summary.case_id for summary in coordinator.records.list_people()}
        assert len(people) == 19
        # Every workflow has something to work on: the gate today, needs, a referral, the services.
        today = coordinator.casework.today()
        assert [item.name for item in today.gate_meetings] == ["Jade Porter"]
        assert [need.label for need in coordinator.casework.needs(people["Dean Walsh"])] == [
            "Accommodation",
            "Finance, benefits and debt",
        ]
        assert coordinator.casework.referrals(people["Dean Walsh"])[0].status == "accepted"
        assert len(coordinator.directory.entries()) == 3
        contacts = coordinator.records.person_record(people["Kayleigh Dawson"]).contacts
        mine = [entry for entry in contacts if entry.note == note]
        assert len(mine) == 1
        assert mine[0].author.name == WORKER.display_name
        # The outcomes report over the last two months counts the six licences that ended, as the
        # unit-tested definitions say (an Approved Premises counts as settled only as defined), and
        # the anonymised export shows 6 of 6 in work but hides "5 of 6 settled" (1 by subtraction).
        report = coordinator.reports.outcomes(Period(dt.date.today() - dt.timedelta(days=60), dt.date.today()))
        counts = {figure.key: figure.count for figure in report.figures}
        assert (counts["ni143.ended"], counts["ni143.settled_suitable"]) == (6, 5)
        assert counts["ni143.settled_suitable_strict"] == 4
        assert (counts["ni144.ended"], counts["ni144.employed"]) == (6, 6)
        exported = coordinator.reports.anonymised_csv(report.period).content.decode("utf-8")
        assert "Wayne" not in exported
        rows = {row[1]: row[3] for row in csv.reader(io.StringIO(exported))}
        assert rows["Order or licence ended in the period"] == "6"
        assert rows["In employment, part-time or full-time"] == "6"
        assert rows["Settled and suitable, counting hostels and Approved Premises (as defined)"] == "*"
        # Dean's consent to share with the partner organisation is on his record, in plain words.
        statements = coordinator.sharing.case_sharing(people[SHARED_WITH_PARTNER]).statements
        assert len(statements) == 1
        assert statements[0].startswith(f"{PARTNER_ORGANISATION} can see basic details since"), statements
        # Two demo workers disagreed about Marcus's release: one conflict for the coordinator to settle.
        [conflict] = coordinator.conflicts.open_conflicts()
        assert (conflict.person, conflict.label, conflict.safety_critical) == (
            "Marcus Bailey",
            "Release date and time",
            True,
        )
        assert {value.author.name for value in conflict.values} == {WORKER.display_name, SECOND_WORKER.display_name}
    finally:
        coordinator.close()

    # The partner organisation's coordinator holds Dean's basic details, and nobody else's.
    partner = Gatepost.open(device_store_path(demo.data_dir / "app-data", PARTNER.slot))
    try:
        partner.account.unlock(DEMO_PIN)
        assert not partner.sync.sync_now().offline
        shared = partner.records.list_people()
        assert [person.name for person in shared] == [SHARED_WITH_PARTNER]
        assert shared[0].shared_by == "Demo Outreach"
        record = partner.records.person_record(shared[0].case_id)
        assert record.field("release_at").value is not None  # basic tier: shared
        assert record.field("supervision").value is None  # full tier: never shared
    finally:
        partner.close()

    # The coordinator, in a browser, finds it on the Desk.
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(30_000)
    try:
        page = open_app(context, demo.app_url)
        sign_in(page, TeamMember(COORDINATOR.email, COORDINATOR.display_name, COORDINATOR.role), DEMO_PASSWORD)
        set_pin(page, DEMO_PIN)
        expect(reveal(button(page, "1 conflict to settle"))).to_be_visible()
        tap_until(page, "Desk", page.get_by_text("Conflicts to settle (1)", exact=True))
        expect(page.get_by_text("Marcus Bailey", exact=True)).to_be_visible()
        for name in (WORKER.display_name, SECOND_WORKER.display_name):
            expect(page.get_by_text(re.compile("^" + re.escape(f"{name}: ")))).to_have_count(1)
        shot(page, "03-demo-desk")
    finally:
        context.close()

    assert demo.stop() == 0
    assert "Demo stopped." in demo.printed()
    assert _port_is_free(f"{demo.server_url}/healthz")
    assert _port_is_free(demo.app_url)

    # A second `make demo` reuses what is there: nobody is added twice, the contact is still there.
    demo.start()
    assert "The demo organisation exists" in demo.printed()
    assert "people added: 0, contacts added: 0; caseload: 19" in demo.printed()
    assert f"{SHARED_WITH_PARTNER} with {PARTNER_ORGANISATION}: already shared" in demo.printed()
    assert demo.stop() == 0
