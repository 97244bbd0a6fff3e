"""Bugs the fault campaign found, each pinned by the shortest schedule that showed it."""

from __future__ import annotations

import sqlite3
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


@pytest.mark.parametrize("minutes", [11, 60])
def test_a_note_about_a_person_added_on_a_fast_phone_waits_for_its_person(pool: TeamPool, minutes: int) -> None:
    # A phone 11 (or 60) minutes fast adds a person and logs a contact with them, then syncs. The
    # server refuses the person's details for the clock and, since it holds no such person, the
    # note as "wrong case". The phone re-stamped the person but kept the note refused for good,
    # and the note's stamp (still fast) held every re-stamp of the person ahead of the server
    # too: on every later sync the person was refused again. No other phone ever got the person
    # ("This person is not on this phone") and the note was lost.
    team = pool.take()
    fast, other = team.phones[1], team.phones[2]
    fast.clock.ahead_ms = minutes * 60_000
    case_id = fast.app.records.add_person({"name": "Lou Marsh", "release_at": "2026-12-04"})
    record_id = fast.app.records.log_contact(
        case_id,
        occurred_at="2026-11-25T10:30",
        setting="prison_gate",
        contact_type="face_to_face",
        note="Met at the gate",
        basis="fact",
        tier=Tier.FULL,
    )
    report = fast.app.sync.sync_now()
    assert (report.restamped, report.sent, report.not_accepted) == (3, 3, ())

    for phone in (other, fast, other):
        assert not phone.app.sync.sync_now().offline
    status = fast.app.sync.status()
    assert (status.pending, status.not_accepted) == (0, 0)
    assert fast.change_ids() == other.change_ids() == team.server_change_ids(pool.server)
    records = [{case_id: phone.app.records.person_record(case_id)} for phone in (fast, other)]
    assert replica_view(fast, records[0]) == replica_view(other, records[1])
    assert [(c.record_id, c.note, c.sync_state) for c in records[1][case_id].contacts] == [
        (record_id, "Met at the gate", "synced")
    ]


def test_a_refused_note_stamped_far_ahead_does_not_hold_re_stamps_ahead(pool: TeamPool) -> None:
    # A phone an hour fast logs a note about a person the server never heard of (refused for
    # good), then the worker fixes nothing but the phone syncs again with a new detail for a
    # known person written while still fast. The refused note must not be the floor the
    # re-stamped detail follows, or the detail is refused for the clock on every sync.
    team = pool.take()
    fast, other = team.phones[1], team.phones[2]
    case_id = fast.app.records.list_people()[0].case_id
    fast.clock.ahead_ms = 60 * 60_000
    fast.app.records.update_person(case_id, "establishment", "HMP Leeds")
    fast.network.arm(Fault.DROP_REQUEST, PUSH)
    assert fast.app.sync.sync_now().offline
    with sqlite3.connect(fast.path) as db:  # what a refusal for good leaves: kept, not pending, not acknowledged
        db.execute(
            "UPDATE local_version SET pending = 0, acknowledged = 0 WHERE case_id = ? AND field = 'establishment'",
            (case_id,),
        )
    fast.app.records.update_person(case_id, "phone", "07700 900001")
    report = fast.app.sync.sync_now()
    assert (report.restamped, report.sent) == (1, 1)
    assert fast.app.sync.status().pending == 0
    other.app.sync.sync_now()
    assert other.app.records.person_record(case_id).field("phone").value == "07700 900001"
