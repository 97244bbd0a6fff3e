from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from shared.protocol import (
    OrganisationDirectory,
    RenewShare,
    RotationDue,
    SharedPullRequest,
    SharedPullResponse,
    ShareInfo,
    ShareList,
    ShareRequest,
    SharingGrants,
    SharingGrantsResult,
    WithdrawShare,
)
from sync_server.api.deps import ContextDep, CurrentDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import sharing

router = APIRouter(prefix="/v1", tags=["sharing"], responses=problem_responses(401, 403, 413, 422, 426))

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CaseId = Annotated[str, Path(pattern=_UUID)]
ShareId = Annotated[str, Path(pattern=_UUID)]


@router.get(
    "/organisations",
    response_model=OrganisationDirectory,
    summary="Organisations a person's record can be shared with (names and public keys only)",
)
def organisation_directory(caller: CurrentDevice, session: SessionDep) -> OrganisationDirectory:
    return sharing.directory(session, caller)


@router.get(
    "/cases/{case_id}/shares",
    response_model=ShareList,
    summary="Who a person's record is shared with, on what basis, since and until when",
    responses=problem_responses(404),
)
def case_shares(case_id: CaseId, caller: CurrentDevice, context: ContextDep, session: SessionDep) -> ShareList:
    return sharing.case_shares(context, session, caller, case_id)


@router.post(
    "/sharing/shares",
    response_model=ShareInfo,
    summary="Share a person's record with a partner organisation (consent or a lawful basis)",
    responses=problem_responses(404, 409),
)
def create_share(body: ShareRequest, caller: CurrentDevice, context: ContextDep, session: SessionDep) -> ShareInfo:
    return sharing.create_share(context, session, caller, body)


@router.post(
    "/sharing/shares/{share_id}/withdraw",
    response_model=RotationDue,
    summary="Withdraw a share: delivery stops at once and the partner's devices purge the person",
    responses=problem_responses(404, 409),
)
def withdraw_share(
    share_id: ShareId, body: WithdrawShare, caller: CurrentDevice, context: ContextDep, session: SessionDep
) -> RotationDue:
    return sharing.withdraw(context, session, caller, share_id, body)


@router.post(
    "/sharing/shares/{share_id}/renew",
    response_model=ShareInfo,
    summary="Renew a share before it ends: a new consent record and review date; delivery goes on",
    responses=problem_responses(404, 409),
)
def renew_share(
    share_id: ShareId, body: RenewShare, caller: CurrentDevice, context: ContextDep, session: SessionDep
) -> ShareInfo:
    return sharing.renew(context, session, caller, share_id, body)


@router.post(
    "/sharing/shares/{share_id}/rotation",
    response_model=RotationDue,
    summary="Take on rotating the keys of a share that ended (once per share)",
    responses=problem_responses(404, 409),
)
def claim_rotation(share_id: ShareId, caller: CurrentDevice, context: ContextDep, session: SessionDep) -> RotationDue:
    return sharing.claim_rotation(context, session, caller, share_id)


@router.post(
    "/sharing/grants",
    response_model=SharingGrantsResult,
    summary="Rotated case keys for the partner organisations that still share a person's record",
)
def sharing_grants(
    body: SharingGrants, caller: CurrentDevice, context: ContextDep, session: SessionDep
) -> SharingGrantsResult:
    return sharing.store_grants(context, session, caller, body)


@router.get(
    "/sharing/without-consent",
    response_model=ShareList,
    summary="Shares made without consent, on a recorded lawful basis (coordinators)",
)
def without_consent(caller: CurrentDevice, context: ContextDep, session: SessionDep) -> ShareList:
    return sharing.without_consent(context, session, caller)


@router.post(
    "/sharing/pull",
    response_model=SharedPullResponse,
    summary="Pull what other organisations share with yours (a cursor per owning organisation)",
)
def shared_pull(body: SharedPullRequest, caller: CurrentDevice, context: ContextDep, session: SessionDep) -> Response:
    reply = sharing.shared_pull(context, session, caller, body)
    return Response(content=reply.model_dump_json(), media_type="application/json")
