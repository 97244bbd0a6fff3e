from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from shared.protocol import DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, PullResponse, PushRequest, PushResponse
from sync_server.api.bodies import documented, json_body
from sync_server.api.deps import ContextDep, CurrentDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import sync

router = APIRouter(prefix="/v1/sync", tags=["sync"], responses=problem_responses(401, 413, 422, 426))

# Sequence numbers are 64-bit on the server.
MAX_SEQ = 2**63 - 1

# Both answers are written once, by the service's own encoder (``PushedBatch``, ``PulledPage``),
# and returned as bytes: returned as a model, FastAPI would dump it, validate the dump against
# ``response_model`` and serialise that. ``response_model`` stays for the OpenAPI document.

# Validated from the raw bytes in one pass (up to 500 versions, about half a megabyte).
PushBody = Annotated[PushRequest, Depends(json_body(PushRequest))]


@router.post(
    "/push",
    response_model=PushResponse,
    summary="Push a batch of changes and key grants",
    openapi_extra=documented(PushRequest),
)
def push(caller: CurrentDevice, body: PushBody, context: ContextDep, session: SessionDep) -> Response:
    return Response(content=sync.push(context, session, caller, body).to_json(), media_type="application/json")


@router.get("/pull", response_model=PullResponse, summary="Pull what changed after a cursor")
def pull(
    caller: CurrentDevice,
    context: ContextDep,
    session: SessionDep,
    since: Annotated[int, Query(ge=0, le=MAX_SEQ, description="the last seq already received")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT, description="at most this many items")] = DEFAULT_PULL_LIMIT,
) -> Response:
    return Response(content=sync.pull(context, session, caller, since, limit).to_json(), media_type="application/json")
