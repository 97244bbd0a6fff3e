"""A person's case: its status, closing and reopening it, erasing it; the retention period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shared.protocol import CaseErased, CaseStatus, EraseCase, RetentionPolicy
from sync_server.api.deps import ContextDep, CoordinatorDevice, CurrentDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import cases

router = APIRouter(prefix="/v1", tags=["cases"], responses=problem_responses(401, 403, 413, 422, 426))

CaseId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@router.get(
    "/cases/{case_id}",
    response_model=CaseStatus,
    summary="Whether a person's case is closed, and when its retention runs out (coordinators and link workers)",
    responses=problem_responses(404, 409),
)
def case_status(case_id: CaseId, caller: CurrentDevice, session: SessionDep) -> CaseStatus:
    return cases.case_status(session, caller, case_id)


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseStatus,
    summary="Close a person's case: the retention period starts (coordinators)",
    responses=problem_responses(404, 409),
)
def close_case(case_id: CaseId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep) -> CaseStatus:
    return cases.close_case(context, session, caller, case_id)


@router.post(
    "/cases/{case_id}/reopen",
    response_model=CaseStatus,
    summary="Reopen a closed case (coordinators)",
    responses=problem_responses(404, 409),
)
def reopen_case(case_id: CaseId, caller: CoordinatorDevice, context: ContextDep, session: SessionDep) -> CaseStatus:
    return cases.reopen_case(context, session, caller, case_id)


@router.post(
    "/cases/{case_id}/erase",
    response_model=CaseErased,
    summary="Erase a person's record: the server deletes its ciphertext and every device purges it (coordinators)",
    responses=problem_responses(404, 409),
)
def erase_case(
    case_id: CaseId,
    caller: CoordinatorDevice,
    context: ContextDep,
    session: SessionDep,
    body: EraseCase | None = None,
) -> CaseErased:
    return cases.erase_case(context, session, caller, case_id, body)


@router.get(
    "/org/retention",
    response_model=RetentionPolicy,
    summary="How long a closed case is kept (coordinators)",
)
def retention(caller: CoordinatorDevice, session: SessionDep) -> RetentionPolicy:
    return cases.retention(session, caller)


@router.put(
    "/org/retention",
    response_model=RetentionPolicy,
    summary="Change how long a closed case is kept (coordinators)",
)
def set_retention(
    body: RetentionPolicy, caller: CoordinatorDevice, context: ContextDep, session: SessionDep
) -> RetentionPolicy:
    return cases.set_retention(context, session, caller, body)
