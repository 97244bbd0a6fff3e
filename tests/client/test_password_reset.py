"""A worker forgets their password: the coordinator gives a reset code, the worker sets a new
password on a new phone and, once the coordinator's phone has synced, reads everything again; the
note they had left unsent on their old phone still arrives."""

from __future__ import annotations

import pytest

from outreach_app.errors import SessionExpired, SignInFailed
from outreach_app.services import AccountStatus
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, Phones, Team
from tests.client.test_sync import log_note, shared_case

NEW_PASSWORD = "a brand new passphrase"


def test_forgotten_password_recovered_with_nothing_lost(team: Team, phones: Phones) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    log_note(worker, case_id, "Synced before the password was forgotten.")
    worker.app.sync.sync_now()
    worker.network.down = True
    log_note(worker, case_id, "Written offline on the old phone, never sent.")
    worker.app.account.lock()

    reset = coordinator.app.account.create_password_reset(worker.app.account.profile().user_id)
    new_phone = phones.new("new-phone", worker.email, worker.display_name)
    profile = new_phone.app.account.reset_password(SERVER_URL, reset.code, worker.email, NEW_PASSWORD, "New phone")
    new_phone.app.account.set_pin(PIN)
    assert not profile.has_organisation_key  # waiting for a coordinator's phone
    new_phone.app.sync.sync_now()
    assert coordinator.app.sync.sync_now().members_given_key == 1
    new_phone.app.sync.sync_now()
    assert new_phone.app.account.profile().has_organisation_key
    notes = [entry.note for entry in new_phone.app.records.person_record(case_id).contacts]
    assert notes == ["Synced before the password was forgotten."]

    # The old password is gone everywhere.
    other = phones.new("other", worker.email, worker.display_name)
    with pytest.raises(SignInFailed):
        other.app.account.sign_in(SERVER_URL, worker.email, PASSWORD, "Other phone")

    # The old phone: its PIN still opens it, the server asks for the new password, and the unsent note goes.
    worker.network.down = False
    worker.app.account.unlock(PIN)
    with pytest.raises(SessionExpired):
        worker.app.sync.sync_now()
    worker.app.account.sign_in(SERVER_URL, worker.email, NEW_PASSWORD, "Old phone")
    assert worker.app.account.status() is AccountStatus.UNLOCKED
    assert worker.app.sync.sync_now().sent >= 1
    coordinator.app.sync.sync_now()
    notes = sorted(entry.note for entry in coordinator.app.records.person_record(case_id).contacts)
    assert notes == ["Synced before the password was forgotten.", "Written offline on the old phone, never sent."]


def test_a_reset_code_is_refused_for_someone_else(team: Team, phones: Phones) -> None:
    reset = team.coordinator.app.account.create_password_reset(team.worker.app.account.profile().user_id)
    stranger = phones.new("stranger", "coordinator@example.org", "Someone")
    with pytest.raises(SignInFailed):
        stranger.app.account.reset_password(SERVER_URL, reset.code, "coordinator@example.org", NEW_PASSWORD, "Phone")
