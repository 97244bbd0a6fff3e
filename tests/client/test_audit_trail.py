"""The coordinator reads the team's audit trail on their phone, in plain words."""

from __future__ import annotations

import pytest

from outreach_app.errors import ServerRejected, SignInFailed
from shared.protocol import Role
from tests.client.conftest import PASSWORD, SERVER_URL, Phones, Team
from tests.client.test_sync import add_dean


def test_coordinator_reads_who_did_what_and_workers_may_not(team: Team, phones: Phones) -> None:
    team.coordinator.app.account.create_invitation(Role.PEER_MENTOR, "danny@example.org")
    add_dean(team.worker)
    team.worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    other = phones.new("other", team.worker.email, "Someone")
    with pytest.raises(SignInFailed):
        other.app.account.sign_in(SERVER_URL, team.worker.email, "not " + PASSWORD, "Another phone")

    texts = [event.text for event in team.coordinator.app.account.audit_trail()]
    assert "Amira Link sent 3 changes and 2 keys from Amira Link's phone" in texts
    assert "Priya Coordinator received 3 changes and 2 keys on Priya Coordinator's phone" in texts
    assert "A sign-in as Amira Link failed (wrong password)" in texts
    assert "Priya Coordinator invited a new peer mentor" in texts
    assert "The server admin invited a new coordinator" in texts  # outreach-server init-org
    assert "Priya Coordinator sent 1 key from Priya Coordinator's phone" in texts  # the organisation key, to Amira

    with pytest.raises(ServerRejected) as refused:
        team.worker.app.account.audit_trail()
    assert refused.value.status == 403
