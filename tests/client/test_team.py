"""The coordinator's team from the phone, against the real server: members and who waits for
access, invitations made and cancelled, a mentor's people by name, devices signed out, a member
removed (their phones erase themselves, a mentor's people get new basic keys)."""

from __future__ import annotations

import sqlite3

import pytest

from outreach_app.errors import AppError, DeviceRevoked, NotAllowed, ServerRejected, SignInFailed, ValidationFailed
from outreach_app.services import AccountStatus, how_to_join
from shared.kinds import Tier
from shared.protocol import Role, parse_case_key_id
from tests.client.conftest import PASSWORD, SERVER_URL, Phones, Team, TestDevice
from tests.client.test_sync import log_note


def test_the_team_lists_members_access_mentors_people_and_devices(team: Team, phones: Phones) -> None:
    coordinator, worker = team.coordinator, team.worker
    phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    dean = worker.app.records.add_person({"name": "Dean Walsh"})
    jade = worker.app.records.add_person({"name": "Jade Porter"})
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(dean).available[0].user_id
    coordinator.app.mentors.assign_mentor(jade, mentor_id)
    coordinator.app.mentors.assign_mentor(dean, mentor_id)
    newcomer = phones.register("newcomer", Role.LINK_WORKER, "nia@example.org", "Nia New")

    listed = coordinator.app.team.team()
    assert [(m.name, m.role) for m in listed.members] == [
        ("Priya Coordinator", Role.COORDINATOR),
        ("Amira Link", Role.LINK_WORKER),
        ("Nia New", Role.LINK_WORKER),
        ("Mo Mentor", Role.PEER_MENTOR),
    ]
    members = {m.name: m for m in listed.members}
    assert members["Priya Coordinator"].is_me
    # Nia has not been given the organisation key yet: nobody's phone has synced since she joined.
    assert members["Nia New"].waiting_for_access
    assert not members["Amira Link"].waiting_for_access
    assert not members["Mo Mentor"].waiting_for_access  # mentors get people's keys one by one instead
    # The mentor's people, by name from this phone's records, by name.
    assert [(p.name, p.case_id) for p in members["Mo Mentor"].assigned] == [("Dean Walsh", dean), ("Jade Porter", jade)]
    assert members["Amira Link"].assigned == ()
    assert members["Amira Link"].email == "amira@example.org"
    assert members["Amira Link"].device_count == 1
    assert members["Amira Link"].last_seen_at_ms is not None
    assert {d.owner for d in listed.devices_of(members["Nia New"].user_id)} == {"Nia New"}

    # After the coordinator's next sync Nia holds the key and waits no more.
    coordinator.app.sync.sync_now()
    assert not {m.name: m for m in coordinator.app.team.team().members}["Nia New"].waiting_for_access

    # Signing Nia's phone out: her device count drops, and her phone erases itself at its next contact.
    nia_phone = coordinator.app.team.team().devices_of(members["Nia New"].user_id)[0]
    coordinator.app.account.sign_out_device(nia_phone.device_id)
    after = coordinator.app.team.team()
    assert {m.name: m for m in after.members}["Nia New"].device_count == 0
    assert after.devices_of(members["Nia New"].user_id)[0].signed_out
    with pytest.raises(AppError):
        newcomer.app.sync.sync_now()


def test_invite_list_cancel_and_join(team: Team, phones: Phones) -> None:
    coordinator = team.coordinator
    invited = coordinator.app.team.invite(Role.LINK_WORKER, " Sam@Example.org ")
    spare = coordinator.app.team.invite(Role.PEER_MENTOR)
    assert invited.email == "sam@example.org"
    words = how_to_join(invited, coordinator.app.team.server_url())
    assert SERVER_URL in words
    assert "I have an invitation code" in words
    assert "sam@example.org" in words

    pending = coordinator.app.team.team().invitations
    assert [(i.role, i.email, i.invited_by) for i in pending] == [
        (Role.PEER_MENTOR, None, "Priya Coordinator"),
        (Role.LINK_WORKER, "sam@example.org", "Priya Coordinator"),
    ]
    assert spare.invitation_id is not None
    cancelled = coordinator.app.team.cancel_invitation(spare.invitation_id)
    assert cancelled.role is Role.PEER_MENTOR
    assert [i.email for i in coordinator.app.team.team().invitations] == ["sam@example.org"]
    trail = [event.text for event in coordinator.app.account.audit_trail()]
    assert "Priya Coordinator cancelled an invitation for a peer mentor" in trail

    # The cancelled code opens no account; the other one does, and leaves the pending list.
    late = phones.new("late", "lee@example.org", "Lee Late")
    with pytest.raises(AppError):
        late.app.account.register(SERVER_URL, spare.code, "lee@example.org", PASSWORD, "Lee Late", "Lee's phone")
    phones.register("sam", Role.LINK_WORKER, "sam@example.org", "Sam Link", code=invited.code)
    after = coordinator.app.team.team()
    assert after.invitations == ()
    assert "Sam Link" in {m.name for m in after.members}

    with pytest.raises(ValidationFailed):
        coordinator.app.team.invite(Role.LINK_WORKER, "not an email")


def test_only_a_coordinator_has_the_team(team: Team) -> None:
    with pytest.raises(NotAllowed):
        team.worker.app.team.team()
    with pytest.raises(NotAllowed):
        team.worker.app.team.invite(Role.LINK_WORKER)


def _basic_key_version(device: TestDevice, case_id: str) -> int:
    note_id = log_note(device, case_id, "A note after the removal.", Tier.BASIC)
    with sqlite3.connect(device.path) as connection:
        (key_id,) = connection.execute("SELECT key_id FROM local_version WHERE record_id = ?", (note_id,)).fetchone()
    parsed = parse_case_key_id(key_id)
    assert parsed is not None
    return parsed[2]


def test_a_removed_mentor_is_signed_out_everywhere_and_their_people_get_new_keys(team: Team, phones: Phones) -> None:
    coordinator, worker = team.coordinator, team.worker
    mentor = phones.register("mentor", Role.PEER_MENTOR, "mo@example.org", "Mo Mentor")
    dean = worker.app.records.add_person({"name": "Dean Walsh"})
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()
    mentor_id = coordinator.app.mentors.mentors(dean).available[0].user_id
    coordinator.app.mentors.assign_mentor(dean, mentor_id)
    mentor.app.sync.sync_now()
    assert [person.name for person in mentor.app.records.list_people()] == ["Dean Walsh"]
    mentor.network.down = True  # the mentor's phone is off when they are removed

    removed = coordinator.app.team.remove_member(mentor_id)
    assert removed.removed
    assert removed.name == "Mo Mentor"
    assert removed.device_count == 0
    # Listed as removed, after the team, with no people and no access.
    listed = coordinator.app.team.team().members
    assert [m.name for m in listed if not m.removed] == ["Priya Coordinator", "Amira Link"]
    assert listed[-1].name == "Mo Mentor"
    assert listed[-1].removed
    assert listed[-1].assigned == ()
    assert coordinator.app.mentors.mentors(dean).available == ()
    # The person's basic key was rotated for new writes by the coordinator's phone, as after unassigning.
    assert _basic_key_version(coordinator, dean) == 2
    coordinator.app.sync.sync_now()
    worker.app.sync.sync_now()
    assert _basic_key_version(worker, dean) == 2
    # Again: the same answer, nothing more rotated.
    assert coordinator.app.team.remove_member(mentor_id).removed_at_ms == removed.removed_at_ms
    assert _basic_key_version(coordinator, dean) == 2

    # The mentor's phone erases itself at its next contact; their password opens nothing any more,
    # with the answer a wrong password gets.
    mentor.network.down = False
    with pytest.raises(DeviceRevoked):
        mentor.app.sync.sync_now()
    assert mentor.app.account.status() is AccountStatus.SIGNED_OUT
    with sqlite3.connect(mentor.path) as connection:
        assert connection.execute("SELECT count(*) FROM local_version").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM keyring").fetchone() == (0,)
    fresh = phones.new("mentor-again", "mo@example.org", "Mo Mentor")
    with pytest.raises(SignInFailed) as refused:
        fresh.app.account.sign_in(SERVER_URL, "mo@example.org", PASSWORD, "New phone")
    with pytest.raises(SignInFailed) as wrong:
        fresh.app.account.sign_in(SERVER_URL, "amira@example.org", "not the password", "New phone")
    assert refused.value.message == wrong.value.message

    trail = [event.text for event in coordinator.app.account.audit_trail()]
    assert "Priya Coordinator removed a peer mentor from the organisation and signed out 1 device" in trail


def test_removing_yourself_or_as_a_worker_is_refused(team: Team) -> None:
    me = next(m for m in team.coordinator.app.team.team().members if m.is_me)
    with pytest.raises(NotAllowed, match="yourself"):
        team.coordinator.app.team.remove_member(me.user_id)
    with pytest.raises(NotAllowed):
        team.worker.app.team.remove_member(me.user_id)
    with pytest.raises(ServerRejected) as unknown:
        team.coordinator.app.team.remove_member("00000000-0000-4000-8000-000000000000")
    assert unknown.value.status == 404
    assert all(not m.removed for m in team.coordinator.app.team.team().members)
