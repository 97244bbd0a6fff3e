from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.protocol import AuditPage
from sync_server.api.deps import CoordinatorDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=problem_responses(401, 403, 422, 426))


@router.get("", response_model=AuditPage, summary="The organisation's audit trail, newest first (coordinators)")
def audit_trail(
    caller: CoordinatorDevice,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="entries older than this position")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    return audit.trail(session, caller, before, limit)
