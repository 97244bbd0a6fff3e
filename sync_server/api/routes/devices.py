from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shared.protocol import DeviceInfo, DeviceList
from sync_server.api.deps import ContextDep, CurrentDevice, SessionDep
from sync_server.api.problems import problem_responses
from sync_server.services import devices

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=problem_responses(401, 413, 422, 426))

DeviceId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@router.get("", response_model=DeviceList, summary="Your devices (a coordinator: the organisation's)")
def list_devices(caller: CurrentDevice, session: SessionDep) -> DeviceList:
    return devices.list_devices(session, caller)


@router.post(
    "/{device_id}/revoke",
    response_model=DeviceInfo,
    summary="Sign a device out: its tokens stop at once and it erases itself at its next contact",
    responses=problem_responses(404),
)
def revoke_device(device_id: DeviceId, caller: CurrentDevice, context: ContextDep, session: SessionDep) -> DeviceInfo:
    return devices.revoke_device(context, session, caller, device_id)
