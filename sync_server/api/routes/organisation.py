from __future__ import annotations

from fastapi import APIRouter

from shared.protocol import Invitation, InvitationRequest, OrganisationInfo, OrganisationKeySetup
from sync_server.api.deps import ContextDep, CoordinatorDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import organisation

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
