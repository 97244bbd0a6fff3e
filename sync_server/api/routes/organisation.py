from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shared.protocol import (
    CaseMentors,
    Invitation,
    InvitationRequest,
    MemberRemoval,
    OrganisationInfo,
    OrganisationKeySetup,
    PendingInvitation,
    PendingInvitationList,
    TeamMemberList,
)
from sync_server.api.deps import ContextDep, CoordinatorDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import mentors, organisation, team

router = APIRouter(prefix="/v1", tags=["organisation"], responses=problem_responses(401, 403, 413, 422, 426))


@router.post(
    "/org/keys",
    response_model=OrganisationInfo,
    summary="Set up the organisation key (first coordinator, once)",
    responses=problem_responses(409),
)
def setup_keys(
    body: OrganisationKeySetup, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> OrganisationInfo:
    return organisation.setup_keys(context, session, caller, body)


@router.post("/invitations", response_model=Invitation, summary="Invite someone (coordinators)")
def invite(body: InvitationRequest, caller: CoordinatorDevice, context: ContextDep, session: SessionDep) -> Invitation:
    return organisation.invite(context, session, caller, body)


@router.get(
    "/invitations",
    response_model=PendingInvitationList,
    summary="Invitations nobody has used yet, newest first (coordinators)",
)
def pending_invitations(caller: CoordinatorDevice, context: ContextDep, session: SessionDep) -> PendingInvitationList:
    return team.pending_invitations(context, session, caller)


InvitationId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@router.post(
    "/invitations/{invitation_id}/cancel",
    response_model=PendingInvitation,
    summary="Cancel an invitation: its code can no longer create an account (coordinators)",
    responses=problem_responses(404, 409),
)
def cancel_invitation(
    invitation_id: InvitationId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> PendingInvitation:
    return team.cancel_invitation(context, session, caller, invitation_id)


@router.get(
    "/org/members",
    response_model=TeamMemberList,
    summary="The organisation's members: accounts, devices and mentors' assigned case ids, no record content",
)
def team_members(caller: CoordinatorDevice, session: SessionDep) -> TeamMemberList:
    return team.members(session, caller)


MemberId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@router.post(
    "/org/members/{user_id}/remove",
    response_model=MemberRemoval,
    summary="Remove a member: every device signed out, sessions ended, mentor assignments ended (coordinators)",
    responses=problem_responses(404, 409),
)
def remove_member(
    user_id: MemberId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> MemberRemoval:
    return team.remove_member(context, session, caller, user_id)


@router.post(
    "/members/{user_id}/password-reset",
    response_model=Invitation,
    summary="A one-day code with which a member sets a new password (coordinators)",
    responses=problem_responses(404, 409),
)
def password_reset(
    user_id: MemberId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> Invitation:
    return organisation.create_password_reset(context, session, caller, user_id)


CaseId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@router.get(
    "/cases/{case_id}/mentors",
    response_model=CaseMentors,
    summary="A person's peer mentors and the organisation's mentors to choose from (coordinators)",
    responses=problem_responses(404),
)
def case_mentors(case_id: CaseId, caller: CoordinatorDevice, session: SessionDep) -> CaseMentors:
    return mentors.case_mentors(session, caller, case_id)


@router.post(
    "/cases/{case_id}/mentors/{user_id}",
    response_model=CaseMentors,
    summary="Assign a peer mentor to a person (coordinators)",
    responses=problem_responses(404, 409),
)
def assign_mentor(
    case_id: CaseId, user_id: MemberId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> CaseMentors:
    return mentors.assign(context, session, caller, case_id, user_id)


@router.delete(
    "/cases/{case_id}/mentors/{user_id}",
    response_model=CaseMentors,
    summary="Unassign a peer mentor: their devices stop receiving the person and delete them (coordinators)",
    responses=problem_responses(404, 409),
)
def unassign_mentor(
    case_id: CaseId, user_id: MemberId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> CaseMentors:
    return mentors.unassign(context, session, caller, case_id, user_id)
