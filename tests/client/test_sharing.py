"""Consent and sharing end to end, two organisations on one real server: a link worker records
consent, the partner's member receives exactly the named tiers, withdrawal purges them, and new
writes use rotated keys the partner never receives. Consent content never reaches the server."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from outreach_app.errors import NotReady, OfflineError, ValidationFailed
from outreach_app.state import AppState, Notice, Screen
from shared.kinds import Tier
from shared.protocol import Role, WithdrawShare, parse_case_key_id
from tests.client.conftest import SERVER_URL, InProcessServer, Phones, Team, TestDevice
from tests.client.test_mentors import rows_of
from tests.client.test_security import files_under
from tests.client.test_sync import log_note
from tests.support.server import bootstrap_organisation, invite_member

PARTNER = "Hope Street Probation"


@dataclass
class Partner:
    org_id: str
    coordinator: TestDevice
    worker: TestDevice


@pytest.fixture
def partner(server: InProcessServer, phones: Phones) -> Partner:
    """A second organisation on the same server: a coordinator and a link worker with its key."""
    org_id, invitation = bootstrap_organisation(server.app, PARTNER)
    coordinator = phones.register(
        "partner-coordinator", Role.COORDINATOR, "lead@probation.example", "Pat Probation", code=invitation.code
    )
    code = invite_member(server.app, org_id, Role.LINK_WORKER, "officer@probation.example").code
    worker = phones.register("partner-worker", Role.LINK_WORKER, "officer@probation.example", "Olu Officer", code=code)
    worker.app.sync.sync_now()
    assert coordinator.app.sync.sync_now().members_given_key == 1
    worker.app.sync.sync_now()
    return Partner(org_id, coordinator, worker)


def today(offset_days: int = 0) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset_days)).isoformat()


def consent(
    device: TestDevice, case_id: str, org_id: str, tiers: list[Tier], purposes: str = "Housing and supervision"
):  # type: ignore[no-untyped-def]
    return device.app.sharing.record_consent(
        case_id,
        recipients=[org_id],
        tiers=tiers,
        purposes=purposes,
        explained=True,
        consequences_explained=True,
        recorded_how="signed_form",
        consent_date=today(),
        review_date=today(90),
    )


def held_keys(device: TestDevice) -> set[str]:
    with sqlite3.connect(device.path) as connection:
        return {row[0] for row in connection.execute("SELECT key_id FROM keyring")}


def test_consent_shares_the_named_tiers_and_withdrawal_purges_and_rotates(
    team: Team, partner: Partner, server: InProcessServer, phones: Phones, tmp_path: Path
) -> None:
    worker = team.worker
    case_id = worker.app.records.add_person(
        {"name": "Dean Walsh", "establishment": "HMP Bristol", "risk_summary": "Do not meet alone"}
    )
    log_note(worker, case_id, "Met at the gate, wants help with housing.", Tier.BASIC)
    log_note(worker, case_id, "Disclosed a health matter in confidence.", Tier.FULL)
    other_id = worker.app.records.add_person({"name": "Kerry Lane"})
    worker.app.sync.sync_now()

    before = worker.app.sharing.case_sharing(case_id)
    assert before.statements == ()
    assert [entry.name for entry in before.directory] == [PARTNER]

    # The form refuses uninformed consent and missing answers, in plain words.
    with pytest.raises(ValidationFailed) as refused:
        worker.app.sharing.record_consent(
            case_id, recipients=[], tiers=[], purposes="", explained=False, consequences_explained=False,
            recorded_how="", consent_date=today(), review_date="",
        )  # fmt: skip
    assert set(refused.value.problems) == {
        "recipients", "tiers", "purposes", "explained", "consequences_explained", "recorded_how", "review_date",
    }  # fmt: skip

    purpose_canary = f"canary-purpose-{uuid.uuid4().hex}"
    shared = consent(worker, case_id, partner.org_id, [Tier.BASIC], purposes=f"Supervision {purpose_canary}")
    [statement] = shared.statements
    assert statement.startswith(f"{PARTNER} can see basic details since ")
    assert "the person consented, review by " in statement
    assert shared.directory == ()
    [record] = shared.records
    assert record.action == "given"
    assert record.recipients == (PARTNER,)
    assert record.explained
    assert record.consequences_explained
    assert purpose_canary in record.purposes

    # The partner's link worker receives the person, basic tier only, marked as shared.
    reader = partner.worker
    reader.app.sync.sync_now()
    [person] = reader.app.records.list_people()
    assert person.case_id == case_id
    assert person.name == "Dean Walsh"
    assert person.shared_by == "Test Outreach"
    seen = reader.app.records.person_record(case_id)
    assert seen.shared_by == "Test Outreach"
    assert seen.field("establishment").value == "HMP Bristol"
    assert seen.field("risk_summary").value is None
    assert [c.note for c in seen.contacts] == ["Met at the gate, wants help with housing."]
    assert seen.unreadable == ()
    assert other_id not in {p.case_id for p in reader.app.records.list_people()}
    assert "confidence" not in reader.path.read_bytes().decode("latin-1")
    # It reads; it does not write to another organisation's record.
    with pytest.raises(NotReady, match="only Test Outreach can add to it"):
        log_note(reader, case_id, "A note from probation.", Tier.BASIC)
    # The partner's coordinator gets it too; a third organisation's member would get nothing.
    partner.coordinator.app.sync.sync_now()
    assert [p.name for p in partner.coordinator.app.records.list_people()] == ["Dean Walsh"]

    # New basic notes keep flowing while consent stands.
    log_note(worker, case_id, "Housing appointment booked for Monday.", Tier.BASIC)
    worker.app.sync.sync_now()
    reader.app.sync.sync_now()
    assert "Housing appointment booked for Monday." in [
        c.note for c in reader.app.records.person_record(case_id).contacts
    ]

    # A peer mentor of the person, so the rotation below must reach them too.
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    team.coordinator.app.sync.sync_now()
    mentor_id = team.coordinator.app.mentors.mentors(case_id).available[0].user_id
    team.coordinator.app.mentors.assign_mentor(case_id, mentor_id)

    # Withdrawal: the partner's phones delete the person at their next sync.
    [share] = shared.active
    after = worker.app.sharing.withdraw(case_id, share.share_id)
    assert after.statements == ()
    assert [r.action for r in after.records] == ["withdrawn", "given"]
    assert after.records[0].amends == record.record_id
    reader.app.sync.sync_now()
    assert reader.app.records.list_people() == []
    assert rows_of(reader, case_id) == {"versions": 0, "grants": 0, "keys": 0}

    # The next basic note uses the rotated key, which the partner never receives.
    note_id = log_note(worker, case_id, "New address agreed with the council.", Tier.BASIC)
    with sqlite3.connect(worker.path) as connection:
        (key_id,) = connection.execute("SELECT key_id FROM local_version WHERE record_id = ?", (note_id,)).fetchone()
    parsed = parse_case_key_id(key_id)
    assert parsed is not None
    assert parsed[1:] == (Tier.BASIC, 2)
    worker.app.sync.sync_now()
    for device in (reader, partner.coordinator):
        device.app.sync.sync_now()
        assert rows_of(device, case_id) == {"versions": 0, "grants": 0, "keys": 0}
        assert key_id not in held_keys(device)
    # The mentor still assigned received the new key (sealed by the link worker's phone).
    mentor.app.sync.sync_now()
    assert "New address agreed with the council." in [
        c.note for c in mentor.app.records.person_record(case_id).contacts
    ]
    # The owner's coordinator still reads everything, the new note included.
    team.coordinator.app.sync.sync_now()
    notes = [c.note for c in team.coordinator.app.records.person_record(case_id).contacts]
    assert "New address agreed with the council." in notes

    # The consent's content never reached the server, nor any partner device, in plaintext.
    files = files_under(
        server.data_dir, tmp_path / "devices" / "partner-worker", tmp_path / "devices" / "partner-coordinator"
    )
    files[Path("server rows")] = server.rows_as_text().encode()
    for encoded in (purpose_canary.encode("utf-8"), purpose_canary.encode("utf-16-le")):
        assert [path for path, data in files.items() if encoded in data] == []


def test_sharing_without_consent_records_the_basis_and_is_listed_for_the_coordinator(
    team: Team, partner: Partner, phones: Phones
) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = worker.app.records.add_person({"name": "Dean Walsh", "risk_summary": "Threats to a former partner"})
    worker.app.sync.sync_now()
    with pytest.raises(ValidationFailed) as refused:
        worker.app.sharing.share_without_consent(
            case_id, recipients=[partner.org_id], tiers=[Tier.FULL], lawful_basis="", reason="", decided_by="",
            decision_date=today(),
        )  # fmt: skip
    assert set(refused.value.problems) == {"lawful_basis", "reason", "decided_by"}
    shared = worker.app.sharing.share_without_consent(
        case_id,
        recipients=[partner.org_id],
        tiers=[Tier.BASIC, Tier.FULL],
        lawful_basis="statutory_duty",
        reason="MAPPA level 2 meeting",
        decided_by="Priya Coordinator",
        decision_date=today(),
    )
    [statement] = shared.statements
    assert statement.startswith(f"{PARTNER} can see basic and full details since ")
    assert "without consent: statutory duty" in statement
    [record] = shared.records
    assert (record.action, record.lawful_basis, record.reason, record.decided_by) == (
        "without_consent", "statutory_duty", "MAPPA level 2 meeting", "Priya Coordinator",
    )  # fmt: skip
    listed = coordinator.app.sharing.without_consent()
    assert [(s.case_id, s.basis) for s in listed] == [(case_id, "statutory_duty")]
    coordinator.app.sync.sync_now()  # the reason and who decided are in the encrypted record
    [line] = coordinator.app.sharing.without_consent_lines({case_id: "Dean Walsh"})
    assert line.startswith(f"Dean Walsh: {PARTNER} can see basic and full details since ")
    assert line.endswith("Reason: MAPPA level 2 meeting. Decided by Priya Coordinator")
    with pytest.raises(NotReady, match="Only a coordinator"):
        worker.app.sharing.without_consent()
    partner.worker.app.sync.sync_now()
    seen = partner.worker.app.records.person_record(case_id)
    assert seen.field("risk_summary").value == "Threats to a former partner"

    # A mentor unassigned rotates the basic key: the partner still sharing gets the new one.
    phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(case_id).available[0].user_id
    coordinator.app.mentors.assign_mentor(case_id, mentor_id)
    coordinator.app.mentors.unassign_mentor(case_id, mentor_id)
    worker.app.sync.sync_now()
    log_note(worker, case_id, "Moved to the approved premises.", Tier.BASIC)
    worker.app.sync.sync_now()
    partner.worker.app.sync.sync_now()
    seen = partner.worker.app.records.person_record(case_id)
    assert "Moved to the approved premises." in [c.note for c in seen.contacts]
    assert seen.unreadable == ()


def test_expiry_stops_delivery_purges_and_the_owner_rotates_the_key(
    team: Team, partner: Partner, server: InProcessServer
) -> None:
    worker = team.worker
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    log_note(worker, case_id, "Met at the gate.", Tier.BASIC)
    worker.app.sync.sync_now()
    worker.app.sharing.record_consent(
        case_id, recipients=[partner.org_id], tiers=[Tier.BASIC], purposes="Housing", explained=True,
        consequences_explained=True, recorded_how="verbal", consent_date=today(), review_date=today(1),
    )  # fmt: skip
    reader = partner.worker
    reader.app.sync.sync_now()
    assert [p.name for p in reader.app.records.list_people()] == ["Dean Walsh"]

    server.clock_offset_ms = 3 * 86_400_000  # past the review date: the server stops delivery by time
    reader.app.sync.sync_now()
    assert reader.app.records.list_people() == []
    assert rows_of(reader, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    # The owner's next sync claims the rotation: new basic writes use a key the partner never had.
    worker.app.sync.sync_now()
    note_id = log_note(worker, case_id, "After the consent ended.", Tier.BASIC)
    with sqlite3.connect(worker.path) as connection:
        (key_id,) = connection.execute("SELECT key_id FROM local_version WHERE record_id = ?", (note_id,)).fetchone()
    assert key_id.endswith(":basic:v2")
    assert team.coordinator.app.sync.sync_now().not_accepted == ()  # only one device rotates
    worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    assert "After the consent ended." in [c.note for c in team.coordinator.app.records.person_record(case_id).contacts]
    reader.app.sync.sync_now()
    assert rows_of(reader, case_id) == {"versions": 0, "grants": 0, "keys": 0}


def test_screens_a_worker_records_consent_and_withdraws_and_the_partner_sees_who_shared(
    team: Team, partner: Partner
) -> None:
    worker = team.worker
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    desk = AppState(worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    probation = AppState(partner.worker.app, default_server_url=SERVER_URL, device_name="Olu's phone")
    notices: list[Notice] = []
    probation.on_notice = notices.append

    async def scenario() -> None:
        await desk.start()
        await desk.open_person(case_id)
        assert desk.sharing is not None
        assert desk.sharing.statements == ()
        [entry] = desk.sharing.directory
        desk.start_recording_consent()
        assert desk.screen is Screen.RECORD_CONSENT
        await desk.record_consent(
            recipients=[entry.org_id], tiers=["basic"], purposes="Supervision", explained=False,
            consequences_explained=True, recorded_how="signed_form", consent_date=today(), review_date=today(30),
        )  # fmt: skip
        assert "explained" in desk.form_problems
        assert desk.screen is Screen.RECORD_CONSENT
        await desk.record_consent(
            recipients=[entry.org_id], tiers=["basic"], purposes="Supervision", explained=True,
            consequences_explained=True, recorded_how="signed_form", consent_date=today(), review_date=today(30),
        )  # fmt: skip
        assert desk.screen is Screen.PERSON
        assert desk.sharing is not None
        [statement] = desk.sharing.statements
        assert statement.startswith(f"{PARTNER} can see basic details since ")

        await probation.start()
        await probation.show_caseload()
        await probation.sync_now()
        assert [(p.name, p.shared_by) for p in probation.people] == [("Dean Walsh", "Test Outreach")]
        await probation.open_person(case_id)
        assert probation.record is not None
        assert probation.record.shared_by == "Test Outreach"
        assert probation.sharing is None  # the partner does not manage the owner's sharing

        [share] = desk.sharing.active
        await desk.withdraw_share(share.share_id, share.partner_org_name)
        assert desk.sharing is not None
        assert desk.sharing.statements == ()
        await probation.sync_now()
        assert probation.screen is Screen.CASELOAD
        assert probation.people == []
        assert any("no longer on this phone" in notice.text for notice in notices)

    asyncio.run(scenario())


def test_a_sync_asks_for_shared_records_only_once_anything_is_shared(team: Team, partner: Partner) -> None:
    worker, reader = team.worker, partner.worker
    for device in (worker, reader):
        device.network.requests.clear()
        device.app.sync.sync_now()
        assert "POST /v1/sharing/pull" not in device.network.requests  # nothing shared: one request fewer
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    consent(worker, case_id, partner.org_id, [Tier.BASIC])
    for device in (reader, worker):  # the partner receives; the owner may have keys to rotate
        device.network.requests.clear()
        device.app.sync.sync_now()
        assert "POST /v1/sharing/pull" in device.network.requests
    assert [person.name for person in reader.app.records.list_people()] == ["Dean Walsh"]


def _note_key(device: TestDevice, case_id: str, note: str) -> str:
    note_id = log_note(device, case_id, note, Tier.BASIC)
    with sqlite3.connect(device.path) as connection:
        (key_id,) = connection.execute("SELECT key_id FROM local_version WHERE record_id = ?", (note_id,)).fetchone()
    return str(key_id)


def _withdraw_with_the_reply_lost(worker: TestDevice, partner: Partner) -> tuple[str, str]:
    """Dean shared with the partner, then withdrawn on a signal that drops the server's answer."""
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    log_note(worker, case_id, "Met at the gate.", Tier.BASIC)
    worker.app.sync.sync_now()
    share = consent(worker, case_id, partner.org_id, [Tier.BASIC]).active[0]
    partner.worker.app.sync.sync_now()
    assert [p.name for p in partner.worker.app.records.list_people()] == ["Dean Walsh"]
    worker.network.lose_reply_to.append(f"/v1/sharing/shares/{share.share_id}/withdraw")
    with pytest.raises(OfflineError):
        worker.app.sharing.withdraw(case_id, share.share_id)
    return case_id, share.share_id


def test_a_withdrawal_whose_reply_was_lost_still_rotates_the_keys_once(team: Team, partner: Partner) -> None:
    worker = team.worker
    case_id, share_id = _withdraw_with_the_reply_lost(worker, partner)
    # The server ended the share: delivery stopped and the partner purges Dean.
    partner.worker.app.sync.sync_now()
    assert partner.worker.app.records.list_people() == []
    assert not worker.app.sharing.case_sharing(case_id).active
    # The withdrawing phone never got the answer that tells it to rotate; its next sync does it.
    assert team.coordinator.app.sync.sync_now().not_accepted == ()  # claimed by the worker's phone
    worker.app.sync.sync_now()
    assert _note_key(worker, case_id, "After the withdrawal.").endswith(":basic:v2")
    # Once rotated, nobody rotates it again: the keys stay at v2 through more syncs on both phones.
    worker.app.sync.sync_now()
    team.coordinator.app.sync.sync_now()
    worker.app.sync.sync_now()
    assert _note_key(worker, case_id, "Later still.").endswith(":basic:v2")
    assert _note_key(team.coordinator, case_id, "The coordinator's note.").endswith(":basic:v2")
    partner.worker.app.sync.sync_now()
    assert rows_of(partner.worker, case_id) == {"versions": 0, "grants": 0, "keys": 0}
    # The withdrawal said again (as a retry would) answers with nothing left to rotate.
    record_id = next(r.record_id for r in worker.app.sharing.consent_records(case_id) if r.action == "withdrawn")
    again = worker.app._device.api().withdraw_share(share_id, WithdrawShare(record_id=record_id))
    assert again.tiers == []


def test_a_rotation_left_by_a_phone_that_is_signed_out_is_done_by_another(team: Team, partner: Partner) -> None:
    worker = team.worker
    case_id, _ = _withdraw_with_the_reply_lost(worker, partner)
    # The worker's phone is lost before it syncs again; the coordinator signs it out.
    device_id = next(device.device_id for device in worker.app.account.devices() if device.this_device)
    team.coordinator.app.account.sign_out_device(device_id)
    team.coordinator.app.sync.sync_now()
    assert _note_key(team.coordinator, case_id, "After the phone was lost.").endswith(":basic:v2")


def test_screens_a_worker_renews_consent_before_it_ends_and_the_partner_keeps_the_record(
    team: Team, partner: Partner, server: InProcessServer
) -> None:
    worker = team.worker
    case_id = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    worker.app.sharing.record_consent(
        case_id, recipients=[partner.org_id], tiers=[Tier.BASIC], purposes="Supervision", explained=True,
        consequences_explained=True, recorded_how="signed_form", consent_date=today(), review_date=today(1),
    )  # fmt: skip
    desk = AppState(worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    # Today tells the worker the consent ends soon (offline: from the consent records on the phone).
    [due] = worker.app.casework.today().consents_due
    assert (due.name, due.recipients) == ("Dean Walsh", (PARTNER,))

    async def scenario() -> None:
        await desk.start()
        await desk.open_person(case_id)
        assert desk.sharing is not None
        [share] = desk.sharing.active
        desk.start_renewing_consent(share.share_id)
        assert desk.screen is Screen.RENEW_CONSENT
        assert desk.draft["purposes"] == "Supervision"  # what was agreed before, to ask again
        assert desk.draft["recorded_how"] == "signed_form"
        await desk.renew_consent(
            purposes="Supervision and housing", explained=True, consequences_explained=False,
            recorded_how="verbal", consent_date=today(), review_date=today(200),
        )  # fmt: skip
        assert "consequences_explained" in desk.form_problems
        await desk.renew_consent(
            purposes="Supervision and housing", explained=True, consequences_explained=True,
            recorded_how="verbal", consent_date=today(), review_date=today(-1),
        )  # fmt: skip
        assert "review_date" in desk.form_problems
        await desk.renew_consent(
            purposes="Supervision and housing", explained=True, consequences_explained=True,
            recorded_how="verbal", consent_date=today(), review_date=today(200),
        )  # fmt: skip
        assert desk.screen is Screen.PERSON
        assert desk.sharing is not None
        [renewed] = desk.sharing.active
        assert renewed.share_id == share.share_id
        assert desk.sharing.records[0].action == "renewed"
        assert desk.sharing.records[0].amends == share.record_id
        assert desk.sharing.records[0].purposes == "Supervision and housing"

    asyncio.run(scenario())
    assert worker.app.casework.today().consents_due == ()  # renewed for 200 days
    # Past the first review date the partner still receives Dean; the old end no longer applies.
    server.clock_offset_ms = 3 * 86_400_000
    partner.worker.app.sync.sync_now()
    assert [p.name for p in partner.worker.app.records.list_people()] == ["Dean Walsh"]
    with pytest.raises(ValidationFailed, match="Give a date like"):  # not a crash on a mistyped date
        worker.app.sharing.renew(
            case_id, share_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, purposes="x", explained=True,
            consequences_explained=True, recorded_how="verbal", consent_date=today(), review_date="not a date",
        )  # fmt: skip
