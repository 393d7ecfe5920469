"""A customer's record through the gateway: edits (with the webshop checked against billing's
catalog) and the CSV export streamed from the customers service."""

from collections.abc import AsyncIterator

import httpx

from gateway.clients import ServiceClients
from gateway.schemas.customer_records import CustomerUpdate
from gateway.schemas.customers import CustomerPublic
from services.runtime.problems import Problem, field_error


async def check_webshop_move(services: ServiceClients, customer_id: str, webshop_id: str) -> None:
    """422 naming `webshop_id` unless billing may move the customer's subscription there: the
    webshop exists, is not archived, and sells the running product and plan."""
    move = await services.billing.webshop_move(customer_id, webshop_id)
    if not move.allowed:
        message = move.reason or f"cannot move to webshop {webshop_id!r}"
        raise Problem(
            422,
            "Webshop move not allowed",
            message,
            errors=[field_error("webshop_id", message)],
        )


async def update_customer(
    services: ServiceClients,
    customer_id: str,
    payload: CustomerUpdate,
) -> CustomerPublic:
    if payload.webshop_id is not None:
        await check_webshop_move(services, customer_id, payload.webshop_id)
    return await services.customers.update_customer(customer_id, payload)


async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
