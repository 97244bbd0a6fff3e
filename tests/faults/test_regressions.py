"""Bugs the fault campaign found, each pinned by the shortest schedule that showed it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.kinds import Tier
from tests.faults.machine import replica_view
from tests.faults.world import PUSH, Fault, TeamPool


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[TeamPool]:
    made = TeamPool(tmp_path)
    yield made
    made.close()


@pytest.mark.parametrize("what", ["contact", "field"])
def test_a_restamped_write_whose_old_copy_got_through_converges(pool: TeamPool, what: str) -> None:
    # A phone 11 minutes fast saves something; its push is held up in the network. The next push
    # is refused (clock ahead), so the phone re-stamps the write (same change id and value) and
    # sends it again, and that is held up too. Two minutes later both arrive: the server takes
    # the old copy (now within 10 minutes) and refuses the re-stamped one as a conflicting
    # duplicate. The phone used to keep its re-stamped copy as "not accepted", out of its merge,
    # while every other replica held the server's copy.
    team = pool.take()
    fast, other = team.phones[1], team.phones[2]
    case_id = fast.app.records.list_people()[0].case_id
    fast.clock.ahead_ms = 11 * 60_000
    if what == "contact":
        fast.app.records.log_contact(
            case_id,
            occurred_at="2026-11-25T10:30",
            setting="prison_gate",
            contact_type="face_to_face",
            note="Met at the gate",
            basis="fact",
            tier=Tier.FULL,
        )
    else:
        fast.app.records.update_person(case_id, "release_at", "2026-12-05")
    fast.network.arm(Fault.HOLD, PUSH)
    assert fast.app.sync.sync_now().offline
    fast.network.arm(Fault.HOLD, PUSH, after=1)  # the refused push goes through, the re-stamped one is held
    report = fast.app.sync.sync_now()
    assert (report.restamped, report.offline) == (1, True)
    pool.time_passes(2 * 60_000)
    while fast.network.deliver_held():
        pass

    for phone in (fast, other, fast, other):
        assert not phone.app.sync.sync_now().offline
    assert fast.app.sync.status().not_accepted == 0
    assert fast.change_ids() == other.change_ids() == team.server_change_ids(pool.server)
    records = [{case_id: phone.app.records.person_record(case_id)} for phone in (fast, other)]
    assert replica_view(fast, records[0]) == replica_view(other, records[1])
    assert all(c.sync_state == "synced" for c in records[0][case_id].contacts)
