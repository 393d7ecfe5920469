"""Internal HTTP API of bulk-add jobs."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.customers.bulk import service as bulk_add
from services.runtime.paging import Cursor, Limit
from services.runtime.service_app import RuntimeDep

IdempotencyKey = Annotated[str | None, Header(max_length=200)]


router = APIRouter(prefix="/customer-batches", tags=["bulk add"])


@router.post("", status_code=202, response_model=bulk_add.BatchPublic)
async def create_batch(
    payload: bulk_add.BatchCreate,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> bulk_add.BatchPublic:
    """Queue a bulk-add job; the service's worker creates the customers one by one."""
    async with rt.db.transaction() as session:
        batch, is_new = await bulk_add.create_batch(session, payload, idempotency_key)
    if not is_new:
        response.status_code = 200
    return batch


@router.get("/{batch_id}", response_model=bulk_add.BatchPublic)
async def get_batch(batch_id: str, rt: RuntimeDep) -> bulk_add.BatchPublic:
    async with rt.db.sessions() as session:
        return await bulk_add.get_batch(session, batch_id)


@router.get("/{batch_id}/items", response_model=bulk_add.BatchItemPage)
async def list_batch_items(
    batch_id: str,
    rt: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> bulk_add.BatchItemPage:
    """Items in number order; each generated password is in the first answer only."""
    async with rt.db.transaction() as session:
        return await bulk_add.list_items(session, batch_id, limit=limit, cursor=cursor)
