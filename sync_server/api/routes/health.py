from __future__ import annotations

from fastapi import APIRouter

from shared.protocol import SUPPORTED_PROTOCOL_VERSIONS, Health
from sync_server.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness and the protocol versions served")
def healthz(context: ContextDep) -> Health:
    return Health(status="ok", protocol_versions=list(SUPPORTED_PROTOCOL_VERSIONS), server_time_ms=context.now_ms())
