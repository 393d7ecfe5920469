"""Internal HTTP API of bulk-add jobs. Queuing one runs once per `Idempotency-Key`
(services/runtime/idempotency.py)."""

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.bulk import service as bulk_add
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.paging import Cursor, Limit
from services.runtime.service_app import RuntimeDep

router = APIRouter(prefix="/customer-batches", tags=["bulk add"])


@router.post("", status_code=202, response_model=bulk_add.BatchPublic)
async def create_batch(payload: bulk_add.BatchCreate, once: WriteOnceDep) -> Response:
    """Queue a bulk-add job; the service's worker creates the customers one by one."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await bulk_add.create_batch(session, payload), 202)

    return await once(work)


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
