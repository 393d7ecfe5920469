"""Internal HTTP API of the tickets service (called by the gateway only)."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.runtime.service_app import RuntimeDep
from services.tickets import service
from services.tickets.schemas import MessagePage

router = APIRouter(tags=["messages"])


@router.get("/customers/{customer_id}/messages", response_model=MessagePage)
async def list_messages(
    customer_id: str,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> MessagePage:
    """The messages sent to a customer, newest first."""
    async with rt.db.sessions() as session:
        return await service.list_messages(session, customer_id, limit=limit, cursor=cursor)
