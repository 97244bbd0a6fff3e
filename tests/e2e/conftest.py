"""Browser tests: the real sync server and the real Flet app as processes, driven in Chromium.

Session-wide: one sync server (uvicorn, SQLite in a temporary folder, environment ``test``), its
organisation made with ``outreach-server init-org``, a coordinator and a link worker registered
through the client services, one app process in web mode, and one Chromium. Each test opens new
browser contexts; each context is a new phone (412x915).

Chromium is Debian's (``OUTREACH_CHROMIUM``, default ``/usr/bin/chromium``); without it the tests
fail and say how to install it (``make browser-deps``). They are never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

from tests.e2e.processes import LOGS, AppProcess, ServerProcess, Team, make_team, tail_of_log
from tests.e2e.ui import SCREENSHOTS, open_app, shot

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 412, "height": 915}

expect.set_options(timeout=10_000)
_CALL_FAILED = pytest.StashKey[bool]()

# A browser test takes under 30 s here. One that runs for two minutes is stuck: Playwright waits for
# ever on a page whose renderer died (microsoft/playwright#31907), and once in CI a phone's page
# stopped answering in mid-test. Such a test fails with its stacks and runs once more; a test that
# fails an assertion is never run again.
BROWSER_TEST_TIMEOUT_S = 120
STUCK_BROWSER = [r"^Failed: Timeout \(>", r"Target crashed", r"Page crashed"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S))
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=STUCK_BROWSER))


def _chromium_path() -> str:
    path = os.environ.get("OUTREACH_CHROMIUM") or "/usr/bin/chromium"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"The browser tests need Chromium at {path}, which is not there. Install it with "
            "`make browser-deps` (Debian/Ubuntu: apt-get install chromium), or point OUTREACH_CHROMIUM "
            "at a Chromium binary.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for folder in (LOGS, SCREENSHOTS):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def sync_server(e2e_dir: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(e2e_dir / "server", LOGS / "server.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def team(sync_server: ServerProcess, e2e_dir: Path) -> Team:
    return make_team(sync_server, "Browser Test Outreach", e2e_dir / "harness-devices")


@pytest.fixture(scope="session")
def app(team: Team, e2e_dir: Path) -> Iterator[AppProcess]:
    process = AppProcess(e2e_dir / "app-data", team.server.url, LOGS / "app.log")
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_phone(request: pytest.FixtureRequest, browser: Browser, app: AppProcess) -> Iterator[Callable[[], Page]]:
    """``new_phone()``: a new browser context (a new device) with the app open in it.

    When the test fails, every phone's screen is saved as ``failure-<n>.png`` next to its screenshots.
    """
    contexts: list[BrowserContext] = []

    crashed: set[int] = set()

    def make() -> Page:
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(15_000)
        contexts.append(context)
        number = len(contexts)

        def on_crash(_: Page) -> None:
            crashed.add(number)
            print(f"phone {number}: Chromium's renderer for this page crashed", flush=True)

        context.on("page", lambda page: page.on("crash", on_crash))
        started = time.monotonic()
        page = open_app(context, app.url)
        print(f"app usable in a new context after {time.monotonic() - started:.1f} s")
        return page

    yield make
    failed = request.node.stash.get(_CALL_FAILED, False)
    for number, context in enumerate(contexts, start=1):
        if failed and number not in crashed:  # a crashed page would never answer
            for page in context.pages:
                with contextlib.suppress(Exception):
                    shot(page, f"failure-{number}", always=True)
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    if report.failed:
        # What the app and the server said last is often the only clue to a failure seen in CI.
        for name in ("app.log", "server.log"):
            report.sections.append((f"end of {LOGS / name}", tail_of_log(LOGS / name)))
    return report
