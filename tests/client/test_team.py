"""The coordinator's team from the phone, against the real server: members and who waits for
access, invitations made and cancelled, a mentor's people by name, devices signed out."""

from __future__ import annotations

import pytest

from outreach_app.errors import AppError, NotAllowed, ValidationFailed
from outreach_app.services import how_to_join
from shared.protocol import Role
from tests.client.conftest import PASSWORD, SERVER_URL, Phones, Team


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
