"""Bulk add through the gateway: the sale is checked against the catalog once, then the
customers service queues the job and its worker makes the customers."""

from pydantic import TypeAdapter

from gateway.downstream import Downstream, parse_as, segment
from gateway.schemas.customer_batches import (
    CustomerBatch,
    CustomerBatchCreate,
    CustomerBatchItemPage,
)

_BATCH = TypeAdapter(CustomerBatch)
_ITEMS = TypeAdapter(CustomerBatchItemPage)


async def create_batch(downstream: Downstream, payload: CustomerBatchCreate) -> CustomerBatch:
    """The queued job (a repeated Idempotency-Key: the first job)."""
    sale = payload.model_dump(
        mode="json", include={"webshop_id", "product_id", "plan_id", "extra_product_ids"}
    )
    await downstream.call("billing", "POST", "/orders/check", json_body=sale)
    data = await downstream.call(
        "customers", "POST", "/customer-batches", json_body=payload.model_dump(mode="json")
    )
    return parse_as(_BATCH, data, "customers")


async def get_batch(downstream: Downstream, batch_id: str) -> CustomerBatch:
    data = await downstream.call("customers", "GET", f"/customer-batches/{segment(batch_id)}")
    return parse_as(_BATCH, data, "customers")


async def list_items(
    downstream: Downstream, batch_id: str, *, limit: int, cursor: str | None
) -> CustomerBatchItemPage:
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if cursor:
        params.append(("cursor", cursor))
    path = f"/customer-batches/{segment(batch_id)}/items"
    data = await downstream.call("customers", "GET", path, params=params)
    return parse_as(_ITEMS, data, "customers")
