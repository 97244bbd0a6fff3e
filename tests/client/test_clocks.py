"""Phones whose clocks are hours wrong: the hybrid clock still orders every edit after what its
writer saw, so a slow phone's correction wins and raises no conflict on any replica."""

from __future__ import annotations

from shared.protocol import Role
from tests.client.conftest import Phones, Team, system_ms
from tests.client.test_sync import shared_case

FIVE_HOURS_MS = 5 * 3600 * 1000


def test_a_phone_hours_behind_corrects_a_field_after_seeing_the_colleagues_edit(team: Team, phones: Phones) -> None:
    slow = phones.register(
        "slow", Role.LINK_WORKER, "jo@example.org", "Jo Slow", now_ms=lambda: system_ms() - FIVE_HOURS_MS
    )
    slow.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()  # gives Jo the organisation key
    case_id = shared_case(team)

    team.coordinator.app.records.update_person(case_id, "release_at", "2026-12-04T09:30")
    team.coordinator.app.sync.sync_now()
    slow.app.sync.sync_now()
    assert slow.app.records.person_record(case_id).field("release_at").value == "2026-12-04T09:30"

    # Jo's phone thinks it is five hours earlier, yet Jo's correction comes after what Jo saw.
    slow.app.records.update_person(case_id, "release_at", "2026-12-04T11:00")
    assert slow.app.sync.sync_now().not_accepted == ()
    for device in (team.coordinator, team.worker, slow):
        device.app.sync.sync_now()
        record = device.app.records.person_record(case_id)
        release = record.field("release_at")
        assert release.value == "2026-12-04T11:00", device.display_name
        assert release.conflicts == ()
        assert record.open_conflicts == ()


def test_concurrent_edits_from_a_slow_phone_are_a_conflict_not_a_silent_loss(team: Team, phones: Phones) -> None:
    slow = phones.register(
        "slow", Role.LINK_WORKER, "jo@example.org", "Jo Slow", now_ms=lambda: system_ms() - FIVE_HOURS_MS
    )
    slow.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    case_id = shared_case(team)
    slow.app.sync.sync_now()

    # Both change the release time from the same starting point, neither having seen the other.
    team.coordinator.app.records.update_person(case_id, "release_at", "2026-12-04T09:30")
    slow.app.records.update_person(case_id, "release_at", "2026-12-05T14:00")
    for device in (team.coordinator, slow, team.coordinator, team.worker):
        device.app.sync.sync_now()
    seen = []
    for device in (team.coordinator, team.worker, slow):
        release = device.app.records.person_record(case_id).field("release_at")
        assert len(release.conflicts) == 1, device.display_name
        conflict = release.conflicts[0]
        values = {release.value, conflict.earlier.value, conflict.later.value}
        assert {"2026-12-04T09:30", "2026-12-05T14:00"} <= values
        seen.append((release.value, release.conflicts[0].conflict_id))
    assert len(set(seen)) == 1  # every replica shows the same value and the same conflict
