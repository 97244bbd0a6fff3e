"""Case summaries: what the coordinator's Desk works out from each case, kept encrypted on the phone
and used again after a lock only while the case and the keys held for it are unchanged.

Against the real server: a link worker records, the coordinator's phone syncs and counts; then
each way a summary could go stale (a new entry here, one from a colleague by sync, keys missing and
then back, a summary that no longer opens, an erased case) is made to happen, and the figures are
checked against a phone that works everything out afresh.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from outreach_app.services.facts import CaseloadFacts, caseload_facts
from shared.outcomes import Period
from tests.client.conftest import PIN, Team, TestDevice

Q4 = Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def sync(*devices: TestDevice) -> None:
    for device in devices:
        report = device.app.sync.sync_now()
        assert not report.offline, report.message


def contact(device: TestDevice, case_id: str, day: str, setting: str = "street") -> None:
    device.app.records.log_contact(
        case_id,
        occurred_at=f"{day}T10:00",
        setting=setting,
        contact_type="face_to_face",
        note="Talked through the week.",
        basis="fact",
        tier="full",
    )


def contacts_counted(device: TestDevice) -> int:
    return device.app.reports.outcomes(Q4).figure("work.contacts").count


def unlock_again(device: TestDevice) -> None:
    device.app.account.lock()
    device.app.account.unlock(PIN)


def facts_of(device: TestDevice) -> CaseloadFacts:
    return caseload_facts(device.app._device)


def summary_cases(device: TestDevice) -> set[str]:
    with sqlite3.connect(device.path) as connection:
        return {row[0] for row in connection.execute("SELECT case_id FROM case_summary")}


def test_summaries_are_used_again_after_a_lock_until_a_case_changes(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    people = [worker.app.records.add_person({"name": f"Person {n}", "supervision": "licence"}) for n in range(3)]
    for case_id in people:
        contact(worker, case_id, "2026-10-05")
    sync(worker, coordinator)

    first = facts_of(coordinator)
    assert first.worked_out == 3
    assert contacts_counted(coordinator) == 3
    assert summary_cases(coordinator) == set(people)

    # Locked and unlocked: nothing decrypted is left in memory, the summaries stand in for it.
    unlock_again(coordinator)
    again = facts_of(coordinator)
    assert again.worked_out == 0
    assert again.people == first.people
    assert {person.name for person in again.people} == {"Person 0", "Person 1", "Person 2"}

    # A contact logged on this phone: only that case is worked out again.
    contact(coordinator, people[0], "2026-10-06", setting="prison_gate")
    changed = facts_of(coordinator)
    assert changed.worked_out == 1
    assert contacts_counted(coordinator) == 4

    # A colleague's contact arriving by sync: that case again.
    contact(worker, people[1], "2026-10-07")
    sync(worker, coordinator)
    unlock_again(coordinator)
    assert facts_of(coordinator).worked_out >= 1
    assert contacts_counted(coordinator) == 5
    # The summaries hold nothing readable: no name, no note is in the phone's file as text.
    coordinator.app.close()
    stored = coordinator.path.read_bytes()
    assert b"Person 0" not in stored
    assert b"Talked through" not in stored
    coordinator.reopen().app.account.unlock(PIN)
    assert facts_of(coordinator).worked_out == 0
    assert contacts_counted(coordinator) == 5


def change_counts(device: TestDevice) -> dict[str, int]:
    with sqlite3.connect(device.path) as connection:
        return dict(connection.execute("SELECT case_id, changes FROM case_change").fetchall())


def test_every_version_that_reaches_a_phone_counts_as_a_change_of_its_case(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    first, second = (worker.app.records.add_person({"name": f"Person {n}"}) for n in range(2))
    sync(worker, coordinator)
    before = change_counts(coordinator)
    assert before[first] >= 1  # the people themselves, pulled
    assert before[second] >= 1

    # Two versions of one case written on the worker's phone, pulled in one page by the coordinator's.
    contact(worker, first, "2026-10-05")
    contact(worker, first, "2026-10-06")
    sync(worker, coordinator)
    after_pull = change_counts(coordinator)
    assert after_pull[first] == before[first] + 2
    assert after_pull[second] == before[second]

    # Written here: counted when written (and again when the server acknowledges it).
    contact(coordinator, second, "2026-10-07")
    assert change_counts(coordinator)[second] == before[second] + 1
    assert change_counts(coordinator)[first] == after_pull[first]


def test_a_summary_made_without_a_case_key_is_made_again_when_the_key_is_back(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    contact(worker, case_id, "2026-10-05")
    sync(worker, coordinator)
    device = coordinator.app._device
    keys = device.require_keys()
    held = {key_id: key for key_id, key in keys.keys.items() if case_id in key_id}
    for key_id in held:
        del keys.keys[key_id]
    device.forget_plaintext()
    assert caseload_facts(device).people == ()  # not a person this phone can read
    report = coordinator.app.reports.outcomes(Q4)
    assert (report.people, report.not_readable) == (0, 1)  # left out, and the report says so

    keys.keys.update(held)
    device.forget_plaintext()
    back = caseload_facts(device)
    assert (back.worked_out, back.not_readable) == (1, 0)
    assert [person.name for person in back.people] == ["Dean Walsh"]


def test_a_summary_that_does_not_open_is_worked_out_again(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    contact(worker, case_id, "2026-10-05")
    sync(worker, coordinator)
    assert contacts_counted(coordinator) == 1
    with sqlite3.connect(coordinator.path) as connection:
        # Damaged, or made under another device key: it does not open.
        connection.execute("UPDATE case_summary SET nonce = 'AAAAAAAAAAAAAAAA'")
    unlock_again(coordinator)
    facts = facts_of(coordinator)
    assert facts.worked_out == 1
    assert contacts_counted(coordinator) == 1


def test_erasing_a_case_leaves_no_summary_of_it(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    kept = worker.app.records.add_person({"name": "Kept Person"})
    erased = worker.app.records.add_person({"name": "Erased Person"})
    contact(worker, erased, "2026-10-05")
    sync(worker, coordinator)
    facts_of(coordinator)
    assert summary_cases(coordinator) == {kept, erased}

    coordinator.app.cases.erase_case(erased)
    assert summary_cases(coordinator) == {kept}
    assert [person.name for person in facts_of(coordinator).people] == ["Kept Person"]
