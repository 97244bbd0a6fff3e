"""Working with no signal: a contact logged while the server cannot be reached is kept on the
phone, the sync line says it is waiting, and it goes up once the server is back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.processes import LOGS, PASSWORD, WORKER, ServerProcess, Team, make_team
from tests.e2e.ui import (
    SYNCED,
    WAITING_OFFLINE,
    ContactForm,
    PersonForm,
    add_person,
    log_contact,
    press_sync_now,
    shot,
    sign_in_with_new_pin,
    sync_status,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Team]:
    """A second sync server, just for this test, that the test can stop and start again."""
    server = ServerProcess(tmp_path / "server", LOGS / "offline-server.log")
    try:
        server.start()
        yield make_team(server, "Offline Test Outreach", tmp_path / "harness-devices")
    finally:
        server.stop()


def test_contact_logged_offline_waits_and_then_syncs(new_phone: Callable[[], Page], own_server: Team) -> None:
    server = own_server.server
    page = new_phone()
    sign_in_with_new_pin(page, WORKER, PASSWORD, server_url=server.url)
    person = PersonForm(name="Marcus Bailey", establishment="HMP Bristol", release_date="2026-12-05")
    add_person(page, person)
    expect(sync_status(page)).to_have_text(SYNCED, timeout=20_000)

    server.stop()
    note = "Waited at the gate; he came out at 10:40. No signal here."
    log_contact(page, ContactForm(note=note, where="Prison gate", contact_type="Met face to face"))
    expect(page.get_by_text(note)).to_be_visible()  # saved on the phone
    expect(sync_status(page)).to_have_text(WAITING_OFFLINE, timeout=20_000)
    shot(page, "01-waiting-offline")

    server.start()
    press_sync_now(page)
    expect(sync_status(page)).to_have_text(SYNCED, timeout=20_000)
    shot(page, "02-synced")

    # And it really is on the server: the coordinator's phone receives it.
    coordinator = own_server.coordinator_device()
    try:
        assert not coordinator.sync.sync_now().offline
        people = {summary.name: summary.case_id for summary in coordinator.records.list_people()}
        record = coordinator.records.person_record(people[person.name])
        assert [entry.note for entry in record.contacts] == [note]
        assert re.fullmatch(re.escape(WORKER.display_name), record.contacts[0].author.name)
    finally:
        coordinator.close()
