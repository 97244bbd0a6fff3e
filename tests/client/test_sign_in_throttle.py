"""Someone guessing a worker's password on another phone is stopped, and told so in plain words."""

from __future__ import annotations

import pytest

from outreach_app.errors import ServerRejected, SignInFailed
from tests.client.conftest import PASSWORD, SERVER_URL, Phones, Team


def test_repeated_wrong_passwords_are_throttled_with_plain_words(team: Team, phones: Phones) -> None:
    other_phone = phones.new("other-phone", team.worker.email, "Someone")
    for _ in range(5):
        with pytest.raises(SignInFailed):
            other_phone.app.account.sign_in(SERVER_URL, team.worker.email, "not the password", "Another phone")
    with pytest.raises(ServerRejected) as refused:
        other_phone.app.account.sign_in(SERVER_URL, team.worker.email, PASSWORD, "Another phone")
    assert refused.value.status == 429
    assert refused.value.message.startswith("Too many sign-in attempts. Wait 15 minutes")
    # The worker's own phone, already signed in, keeps syncing.
    assert not team.worker.app.sync.sync_now().offline
