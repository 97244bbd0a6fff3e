"""The sync line every screen shows, in the words a worker reads at the prison gate."""

from __future__ import annotations

from typing import Literal

import pytest

from outreach_app.services import StoreRebuilt, SyncStatus, store_rebuilt_message
from outreach_app.state import kept_for, sync_status_text

NOW = 1_800_000_000_000


def status(pending: int = 0, *, offline: bool = False, synced_ago_ms: int | None = None) -> SyncStatus:
    last = None if synced_ago_ms is None else NOW - synced_ago_ms
    return SyncStatus(pending=pending, last_synced_at_ms=last, offline=offline, last_error=None)


@pytest.mark.parametrize(
    ("given", "syncing", "expected"),
    [
        (status(3, offline=True), False, "3 changes waiting — offline"),
        (status(1, offline=True), False, "1 change waiting — offline"),
        (status(2), False, "2 changes waiting"),
        (status(synced_ago_ms=20_000), False, "Synced just now"),
        (status(synced_ago_ms=2 * 60_000 + 5_000), False, "Synced 2 min ago"),
        (status(synced_ago_ms=3 * 3_600_000), False, "Synced 3 h ago"),
        (status(synced_ago_ms=3 * 86_400_000), False, "Synced 3 days ago"),
        (status(), False, "Not synced yet"),
        (status(offline=True, synced_ago_ms=60_000), False, "Offline — everything you saved is on this phone"),
        (status(5), True, "Syncing…"),
    ],
)
def test_sync_line(given: SyncStatus, syncing: bool, expected: str) -> None:
    assert sync_status_text(given, syncing=syncing, now_ms=NOW) == expected


@pytest.mark.parametrize(
    ("reason", "kept", "expected"),
    [
        (
            "damaged",
            1,
            "This phone's data was damaged and is being rebuilt from the server: "
            "1 unsent change was kept and will be sent after you sign in.",
        ),
        (
            "missing",
            0,
            "This phone's data went missing and is being rebuilt from the server: "
            "0 unsent changes were kept and will be sent after you sign in.",
        ),
    ],
)
def test_rebuilt_database_message(reason: Literal["damaged", "missing"], kept: int, expected: str) -> None:
    rebuilt = StoreRebuilt(reason=reason, kept=kept, moved_to=None, at_ms=NOW)
    assert StoreRebuilt.from_json(rebuilt.to_json()) == rebuilt
    assert store_rebuilt_message(rebuilt) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [(1, "1 day"), (30, "30 days"), (2192, "2192 days (about 6 years)"), (365, "365 days (about 1 year)")],
)
def test_retention_in_words(days: int, expected: str) -> None:
    assert kept_for(days) == expected
