"""A lost phone: the coordinator signs it out; the phone erases itself at its next contact, even if it
was offline when it was signed out; the worker's other phone and the record are untouched."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from outreach_app.errors import DeviceRevoked, ServerRejected
from outreach_app.services import AccountStatus
from outreach_app.state import AppState, Notice, Screen
from outreach_app.storage.store import journal_path
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, Phones, Team, TestDevice
from tests.client.test_sync import add_dean, log_note

_PERSONAL_TABLES = ("local_version", "keyring", "key_grant", "push_rejection", "device_state")


def _rows(device: TestDevice) -> dict[str, int]:
    with sqlite3.connect(device.path) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in _PERSONAL_TABLES}


def test_everyone_sees_their_devices_and_the_coordinator_the_teams(team: Team, phones: Phones) -> None:
    second = phones.new("worker-2", team.worker.email, team.worker.display_name)
    second.app.account.sign_in(SERVER_URL, team.worker.email, PASSWORD, "Second phone")

    mine = team.worker.app.account.devices()
    assert sorted(device.name for device in mine) == ["Amira Link's phone", "Second phone"]
    assert [device.name for device in mine if device.this_device] == ["Amira Link's phone"]
    team_devices = team.coordinator.app.account.devices()
    assert {device.owner for device in team_devices} == {"Amira Link", "Priya Coordinator"}
    assert len(team_devices) == 3


def test_a_lost_phone_signed_out_while_offline_erases_itself_when_it_reconnects(team: Team, phones: Phones) -> None:
    lost = phones.new("lost", team.worker.email, team.worker.display_name)
    lost.app.account.sign_in(SERVER_URL, team.worker.email, PASSWORD, "Phone left on the bus")
    lost.app.account.set_pin(PIN)
    case_id = add_dean(team.worker)
    log_note(team.worker, case_id, "Bedspace held at the hostel until 6pm.")
    team.worker.app.sync.sync_now()
    lost.app.sync.sync_now()
    assert lost.app.records.person_record(case_id).name == "Dean Walsh"
    lost.network.down = True  # the phone is somewhere with no signal

    lost_id = next(
        device.device_id for device in team.coordinator.app.account.devices() if device.name.startswith("Phone left")
    )
    signed_out = team.coordinator.app.account.sign_out_device(lost_id)
    assert signed_out.signed_out

    log_note(lost, case_id, "Written on the lost phone after it went missing.")
    assert lost.app.sync.sync_now().offline  # nothing happens while it cannot reach the server
    assert _rows(lost)["local_version"] > 0
    assert team.worker.email.encode() in journal_path(lost.path).read_bytes()
    lost.network.down = False
    with pytest.raises(DeviceRevoked) as told:
        lost.app.sync.sync_now()
    assert "erased" in told.value.message
    assert _rows(lost) == dict.fromkeys(_PERSONAL_TABLES, 0)
    # Nor is anything left in the outbox journal beside the database (not even who it belonged to).
    journal = journal_path(lost.path)
    assert team.worker.email.encode() not in journal.read_bytes()
    assert b'"version"' not in journal.read_bytes()
    assert lost.app.account.status() is AccountStatus.SIGNED_OUT
    # And after reopening (the app restarted), there is still nothing.
    lost.reopen()
    assert lost.app.account.status() is AccountStatus.SIGNED_OUT

    # The worker's own phone and the record are untouched.
    assert not team.worker.app.sync.sync_now().offline
    team.coordinator.app.sync.sync_now()
    notes = [entry.note for entry in team.coordinator.app.records.person_record(case_id).contacts]
    assert notes == ["Bedspace held at the hostel until 6pm."]


def test_a_worker_signs_out_their_own_old_phone_but_not_a_colleagues(team: Team, phones: Phones) -> None:
    old = phones.new("old", team.worker.email, team.worker.display_name)
    old.app.account.sign_in(SERVER_URL, team.worker.email, PASSWORD, "Old phone")
    old.app.account.set_pin(PIN)
    coordinator_phone = next(device for device in team.coordinator.app.account.devices() if device.this_device)

    old_id = next(device.device_id for device in team.worker.app.account.devices() if device.name == "Old phone")
    assert team.worker.app.account.sign_out_device(old_id).signed_out
    with pytest.raises(DeviceRevoked):
        old.app.sync.sync_now()
    assert old.app.account.status() is AccountStatus.SIGNED_OUT

    with pytest.raises(ServerRejected) as refused:
        team.worker.app.account.sign_out_device(coordinator_phone.device_id)
    assert refused.value.status == 404
    assert not team.coordinator.app.sync.sync_now().offline


def test_the_phone_says_on_its_sign_in_screen_why_it_was_emptied_until_someone_signs_in(
    team: Team, phones: Phones
) -> None:
    lost = phones.new("lost", team.worker.email, team.worker.display_name)
    lost.app.account.sign_in(SERVER_URL, team.worker.email, PASSWORD, "Phone left in the car")
    lost.app.account.set_pin(PIN)
    lost_id = next(device.device_id for device in team.worker.app.account.devices() if device.name.endswith("car"))
    state = AppState(lost.app, default_server_url=SERVER_URL, device_name="Phone left in the car")
    notices: list[Notice] = []
    state.on_notice = notices.append

    async def scenario() -> tuple[Screen, str | None]:
        await state.start()
        await state.unlock(PIN)
        assert state.screen is Screen.TODAY
        assert team.coordinator.app.account.sign_out_device(lost_id).signed_out
        await state.sync_now()
        told = (state.screen, state.sign_in_message)
        await state.sign_in(SERVER_URL, team.worker.email, PASSWORD)
        return told

    screen, message = asyncio.run(scenario())
    # Not a notice that fades while they look for their caseload: it stays on the screen.
    assert (screen, message) == (Screen.SIGN_IN, DeviceRevoked.default_message)
    assert not [notice for notice in notices if notice.text == DeviceRevoked.default_message]
    assert (state.screen, state.sign_in_message) == (Screen.SET_PIN, None)
