"""Internal HTTP API of the activity service (called by the gateway only)."""

from fastapi import APIRouter

from services.activity import service
from services.activity.schemas import DevicePage
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["devices"])


@router.get("/customers/{customer_id}/devices", response_model=DevicePage)
async def list_devices(customer_id: str, rt: RuntimeDep) -> DevicePage:
    """The customer's devices and how many may connect at once."""
    async with rt.db.sessions() as session:
        return await service.list_devices(session, customer_id)


@router.get("/customers/{customer_id}/device-limit", response_model=int | None)
async def device_limit(customer_id: str, rt: RuntimeDep) -> int | None:
    async with rt.db.sessions() as session:
        return (await service.list_devices(session, customer_id)).max_devices
