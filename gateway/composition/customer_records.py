"""A customer's record through the gateway: edits (with the webshop checked against billing's
catalog) and the CSV export streamed from the customers service."""

from collections.abc import AsyncIterator

import httpx

from gateway.clients import ServiceClients
from gateway.schemas.customer_records import CustomerUpdate
from gateway.schemas.customers import CustomerPublic
from services.runtime.problems import Problem


async def check_webshop(services: ServiceClients, webshop_id: str) -> None:
    """422 naming `webshop_id` unless billing's catalog has that webshop."""
    webshops = await services.billing.list_webshops()
    if webshop_id not in {w.id for w in webshops}:
        message = f"no webshop {webshop_id!r} in the catalog"
        raise Problem(
            422,
            "Unknown webshop",
            message,
            extra={"errors": [{"field": "webshop_id", "message": message}]},
        )


async def update_customer(
    services: ServiceClients,
    customer_id: str,
    payload: CustomerUpdate,
    *,
    idempotency_key: str | None,
) -> CustomerPublic:
    if payload.webshop_id is not None:
        await check_webshop(services, payload.webshop_id)
    return await services.customers.update_customer(
        customer_id, payload, idempotency_key=idempotency_key
    )


async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
