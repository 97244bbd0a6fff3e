"""Push and pull: sequence numbers, paging, idempotent replay, and per-change rejections."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import Session

from shared.crypto import b64decode, decrypt_field, field_associated_data
from shared.kinds import Tier
from shared.protocol import CHANGE_RESULT_FIELDS, VERSION_FIELDS, ChangeStatus, RejectReason, Role, case_key_id
from tests.server.helpers import (
    Harness,
    MovableClock,
    case_key_grant,
    contact_change,
    hlc_for,
    make_change,
    new_id,
    now_ms,
    person_change,
)


def _counts(app: FastAPI, org_id: str) -> dict[str, int]:
    with Session(app.state.engine) as session:
        counts = {
            table: session.execute(text(f"SELECT count(*) FROM {table} WHERE org_id = :org"), {"org": org_id}).one()[0]
            for table in ("version", "record", "key_grant")
        }
        counts["last_seq"] = session.execute(
            text("SELECT last_seq FROM organisation WHERE id = :org"), {"org": org_id}
        ).one()[0]
    return counts


def test_the_server_writes_every_field_of_each_result_and_version(harness: Harness) -> None:
    """The server writes push results and pull pages itself (not through the models): every field
    the protocol has must be in them, with nothing left to a client's defaults."""
    org = harness.new_org()
    person = new_id()
    # Accepted; the same change again in the batch; a field a person record does not have.
    changes = [person_change(org, org.coordinator, person), person_change(org, org.coordinator, person, "surname")]
    answer = harness.push_raw(org.coordinator, [changes[0], changes[0], changes[1]])
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [result["status"] for result in results] == ["accepted", "rejected", "rejected"]
    assert all(tuple(result) == CHANGE_RESULT_FIELDS for result in results)
    pulled = harness.client.get("/v1/sync/pull?since=0", headers=org.coordinator.headers)
    assert [tuple(version) for version in pulled.json()["versions"]] == [VERSION_FIELDS]


def test_push_then_pull_delivers_readable_versions_in_seq_order(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    person = new_id()
    grants = [case_key_grant(org, person, Tier.FULL), case_key_grant(org, person, Tier.BASIC)]
    changes = [
        person_change(org, worker, person, "name", "Sam Example"),
        person_change(org, worker, person, "risk_summary", "No known risk to workers."),
        contact_change(org, worker, person),
    ]
    pushed = harness.push(worker, changes, grants)
    assert [result.status for result in pushed.grant_results] == ["accepted"] * 2
    assert [result.status for result in pushed.results] == ["accepted"] * 3
    # Two grants came with the organisation key setup; grants of a push come before its changes.
    assert [result.seq for result in pushed.grant_results] == [3, 4]
    assert [result.seq for result in pushed.results] == [5, 6, 7]

    pulled = harness.pull(org.coordinator)
    assert [version.seq for version in pulled.versions] == [5, 6, 7]
    assert [grant.seq for grant in pulled.key_grants] == [1, 2, 3, 4]
    assert pulled.next == 7
    assert not pulled.has_more
    for sent, got in zip(changes, pulled.versions, strict=True):
        assert got.model_dump(include=set(type(sent).model_fields)) == sent.model_dump()
        assert got.author_user_id == worker.user_id
        assert got.org_id == org.org_id
    contact = pulled.versions[2]
    plaintext = decrypt_field(
        org.case_key(person, contact.tier),
        b64decode(contact.nonce),
        b64decode(contact.ciphertext),
        field_associated_data(contact.record_id, contact.field, contact.hlc, contact.key_id),
    )
    assert json.loads(plaintext)["setting"] == "prison_gate"

    later = harness.pull(org.coordinator, since=7)
    assert later.versions == []
    assert later.key_grants == []
    assert later.next == 7
    assert not later.has_more


def test_paging_with_has_more_covers_everything_once(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    person = new_id()
    fields = ["name", "other_names", "phone", "local_connection", "establishment", "goals", "lead_professional"]
    changes = [person_change(org, worker, person, name, f"value {name}") for name in fields]
    changes += [contact_change(org, worker, person) for _ in range(6)]
    pushed = harness.push(worker, changes, [case_key_grant(org, person)])
    assert all(result.status == "accepted" for result in pushed.results)

    seen: list[int] = []
    since, pages = 0, 0
    while True:
        page = harness.pull(worker, since=since, limit=4)
        items = sorted([v.seq for v in page.versions] + [g.seq for g in page.key_grants])
        assert len(items) <= 4
        assert all(seq > since for seq in items)
        if items:
            assert page.next == items[-1]
        seen += items
        since, pages = page.next, pages + 1
        if not page.has_more:
            break
    # The worker receives the organisation's grants (private key, case key) but not the
    # coordinator's personal grant.
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert seen == [1, *range(3, 3 + 1 + len(changes))]
    assert pages == -(-len(seen) // 4)


def test_a_stored_version_an_older_rule_let_in_is_still_delivered_as_stored(app: FastAPI, harness: Harness) -> None:
    org = harness.new_org()
    member = org.coordinator
    person_id = new_id()
    first, second = person_change(org, member, person_id), contact_change(org, member, person_id)
    harness.push(member, [first, second])
    with Session(app.state.engine) as session:  # a tag of a shape today's rule refuses
        session.execute(text("UPDATE version SET tag = 'ABC' WHERE change_id = :id"), {"id": second.change_id})
        session.commit()
    response = harness.client.get("/v1/sync/pull", params={"since": 0}, headers=member.headers)
    assert response.status_code == 200, response.text  # not a 500: the page is sent as stored
    delivered = {version["change_id"]: version for version in response.json()["versions"]}
    assert set(delivered) == {first.change_id, second.change_id}
    assert delivered[second.change_id]["tag"] == "ABC"
    assert delivered[first.change_id]["ciphertext"] == first.ciphertext


def test_replayed_push_changes_nothing(app: FastAPI, harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    person = new_id()
    changes = [person_change(org, worker, person), contact_change(org, worker, person)]
    grants = [case_key_grant(org, person)]
    first = harness.push(worker, changes, grants)
    before = _counts(app, org.org_id)

    replay = harness.push(worker, changes, grants)
    assert [r.status for r in replay.results] == ["duplicate", "duplicate"]
    assert [r.seq for r in replay.results] == [r.seq for r in first.results]
    assert [r.status for r in replay.grant_results] == ["duplicate"]
    assert [r.seq for r in replay.grant_results] == [r.seq for r in first.grant_results]
    assert _counts(app, org.org_id) == before
    # Another device of the same author replaying it is still a duplicate, not a forgery.
    assert harness.pull(org.coordinator).next == before["last_seq"]


def test_every_rejection_reason_while_the_rest_is_accepted(harness: Harness) -> None:
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    colleague = harness.join(org, Role.LINK_WORKER)
    other = harness.new_org()
    other_person = new_id()
    assert harness.push(other.coordinator, [person_change(other, other.coordinator, other_person)]).results[0].seq

    person, new_person = new_id(), new_id()
    earlier = person_change(org, worker, person, "name", "Sam")
    old_contact = contact_change(org, worker, person)
    assert [r.status for r in harness.push(worker, [earlier, old_contact]).results] == ["accepted", "accepted"]

    good_contact = contact_change(org, worker, new_person)
    far_ahead = now_ms() + 3600_000
    cases: list[tuple[object, str | None]] = [
        (person_change(org, worker, new_person, "name", "Jo"), None),
        (
            contact_change(org, worker, person, old_contact.record_id, change_id=old_contact.change_id),
            "conflicting_duplicate",
        ),
        (earlier, "duplicate"),
        (good_contact, None),  # its case is the person created earlier in this batch
        (good_contact, "duplicate_in_batch"),
        (person_change(org, worker, person, "phone", "0700", author_device_id=colleague.device_id), "forged_author"),
        (person_change(org, worker, other_person, "phone", "0700"), "wrong_organisation"),
        (
            make_change(org, worker, record_id=new_id(), case_id=person, kind="needle", field="entry", tier=Tier.FULL),
            "unknown_kind",
        ),
        (person_change(org, worker, person, "favourite_colour", "blue", tier=Tier.BASIC), "unknown_field"),
        (person_change(org, worker, person, "risk_summary", "x", tier=Tier.BASIC), "wrong_tier"),
        (person_change(org, worker, person, "phone", "1", key_id=case_key_id(new_person, Tier.BASIC, 1)), "wrong_key"),
        (person_change(org, worker, person, "phone", "1", key_id=case_key_id(person, Tier.FULL, 1)), "wrong_key"),
        (person_change(org, worker, new_id(), "name", "x", case_id=person), "wrong_case"),
        (contact_change(org, worker, new_id()), "wrong_case"),  # no such person
        (contact_change(org, worker, person, case_id=None, key_id=case_key_id(person, Tier.BASIC, 1)), "wrong_case"),
        (contact_change(org, worker, other_person), "wrong_case"),  # another organisation's person
        (contact_change(org, worker, new_person, old_contact.record_id), "wrong_case"),  # record moved case
        (contact_change(org, worker, person, old_contact.record_id), "append_only"),
        (contact_change(org, worker, new_person, good_contact.record_id), "append_only"),  # written in this batch
        (person_change(org, worker, person, "phone", "2", hlc=hlc_for(worker, far_ahead)), "clock_ahead"),
        (person_change(org, worker, person, "phone", "0700 900 123"), None),
    ]
    pushed = harness.push(worker, [change for change, _ in cases])  # type: ignore[misc]
    assert len(pushed.results) == len(cases)
    accepted_seqs = []
    for (change, expected), result in zip(cases, pushed.results, strict=True):
        assert result.change_id == change.change_id  # type: ignore[attr-defined]
        if expected is None:
            assert result.status is ChangeStatus.ACCEPTED, result
            accepted_seqs.append(result.seq)
        elif expected == "duplicate":
            assert result.status is ChangeStatus.DUPLICATE, result
            assert result.seq is not None
        else:
            assert result.status is ChangeStatus.REJECTED, result
            assert result.reason is RejectReason(expected), (expected, result)
            assert result.seq is None
            assert result.detail
    clock_detail = pushed.results[-2].detail or ""
    assert re.search(r"\b(3599|3600) s ahead of the server clock \(limit 600 s\)", clock_detail), clock_detail
    start = accepted_seqs[0]
    assert accepted_seqs == [start, start + 1, start + 2]
    pulled = {version.change_id for version in harness.pull(org.coordinator).versions}
    for (change, expected), _result in zip(cases, pushed.results, strict=True):
        stored = change.change_id in pulled  # type: ignore[attr-defined]
        assert stored == (expected in (None, "duplicate", "conflicting_duplicate", "duplicate_in_batch")), (
            expected,
            change,
        )


def test_clock_ahead_limit_comes_from_settings(harness: Harness, clock: MovableClock) -> None:
    org = harness.new_org()
    person = new_id()
    just_inside = hlc_for(org.coordinator, clock() + 9 * 60_000)
    result = harness.push(org.coordinator, [person_change(org, org.coordinator, person, hlc=just_inside)])
    assert result.results[0].status == "accepted"


def test_peer_mentors_may_not_write_unassigned_cases(harness: Harness) -> None:
    org = harness.new_org()
    mentor = harness.join(org, Role.PEER_MENTOR)
    person = new_id()
    assert harness.push(org.coordinator, [person_change(org, org.coordinator, person)]).results[0].status == "accepted"
    attempts = [
        person_change(org, mentor, person, "phone", "0700"),
        contact_change(org, mentor, person),
        person_change(org, mentor, new_id(), "name", "New person"),
    ]
    results = harness.push(mentor, attempts).results
    assert [(r.status, r.reason) for r in results] == [("rejected", RejectReason.NOT_ENTITLED)] * 3


def test_concurrent_pushes_get_unique_gap_free_seqs(harness: Harness) -> None:
    org = harness.new_org()
    workers = [harness.join(org, Role.LINK_WORKER) for _ in range(3)]

    def push_some(index: int) -> list[int]:
        worker = workers[index % len(workers)]
        seqs: list[int] = []
        for _ in range(4):
            person = new_id()
            batch = [person_change(org, worker, person, name) for name in ("name", "phone", "goals")]
            seqs += [result.seq or 0 for result in harness.push(worker, batch).results]
        return seqs

    with ThreadPoolExecutor(max_workers=6) as pool:
        all_seqs = [seq for seqs in pool.map(push_some, range(6)) for seq in seqs]
    assert len(all_seqs) == 6 * 4 * 3 == len(set(all_seqs))
    assert sorted(all_seqs) == list(range(3, 3 + len(all_seqs)))
    pulled = [v.seq for page in harness.pull_all(org.coordinator, limit=7) for v in page.versions]
    assert pulled == sorted(all_seqs)
