"""Bulk add: a range of numbered customers on one sale, run as one audited job."""

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.audit import AuditDep
from gateway.composition import customer_batches
from gateway.deps import DownstreamDep
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.customer_batches import (
    CustomerBatch,
    CustomerBatchCreate,
    CustomerBatchItemPage,
)
from services.runtime.paging import Cursor, Limit

router = APIRouter(prefix=f"{API_PREFIX}/customer-batches", tags=["bulk add"])

BatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@router.post(
    "",
    status_code=202,
    response_model=CustomerBatch,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_batch(
    payload: CustomerBatchCreate,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> CustomerBatch:
    """Queue a job that adds `count` (1 to 10,000) numbered customers on one sale.

    The sale is checked against the catalog first (422 naming the field); patterned logins
    already in use refuse the whole job (409). The customers service then creates the
    customers one by one, each exactly like a single add (so billing opens each subscription);
    a job cut off by a crash resumes without creating any number twice. Follow it at
    `GET /customer-batches/{id}`; read the customers and their one-time passwords at
    `GET /customer-batches/{id}/items`.
    """
    async with audit.record("customer_batch.create") as entry:
        batch = await customer_batches.create_batch(downstream, payload)
        entry.after = batch.model_dump(mode="json")
        entry.status_code = 202
    return batch


@router.get(
    "/{batch_id}", response_model=CustomerBatch, responses=problem_responses(*AUTH_ERRORS, 404, 503)
)
async def get_batch(
    batch_id: BatchId, _: CanReadCustomers, downstream: DownstreamDep
) -> CustomerBatch:
    """The job's status and progress (`created` and `failed` of `count`)."""
    return await customer_batches.get_batch(downstream, batch_id)


@router.get(
    "/{batch_id}/items",
    response_model=CustomerBatchItemPage,
    responses=problem_responses(*AUTH_ERRORS, 422, 404, 503),
)
async def list_batch_items(
    batch_id: BatchId,
    _: CanSell,
    downstream: DownstreamDep,
    audit: AuditDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> CustomerBatchItemPage:
    """The job's items in number order: customer id, login, and the generated password.

    Each password is in the first answer that lists its item only, and is erased from the
    customers service as it is handed out (operators only; each read is audited, without the
    passwords). Read the items when the job is completed, or page by page as it goes.
    """
    async with audit.record("customer_batch.items_read") as entry:
        page = await customer_batches.list_items(downstream, batch_id, limit=limit, cursor=cursor)
        revealed = [item.number for item in page.items if item.password is not None]
        entry.after = {"batch_id": batch_id, "passwords_revealed_for": revealed}
    return page
