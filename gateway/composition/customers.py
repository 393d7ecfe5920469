"""Customers through the gateway: a sale checked against the catalog, the list, one record."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from gateway.clients import ServiceClients
from gateway.downstream import QueryParams
from gateway.schemas.customers import (
    CustomerCreate,
    CustomerCreated,
    CustomerPage,
    CustomerSort,
    CustomerStatus,
    StatusGroup,
)
from services.runtime.problems import Problem

_PAGE = TypeAdapter(CustomerPage)


def catalog_refusal(problem: Problem) -> Problem:
    """Billing's refusal of a sale as the gateway's 422, with `errors` naming the field."""
    errors = problem.extra.get("errors")
    if not isinstance(errors, list) or not errors:
        field = problem.extra.get("field", "(body)")
        errors = [{"field": str(field), "message": problem.detail or problem.title}]
    return Problem(
        422,
        "Order not allowed",
        problem.detail or "the catalog does not allow this sale",
        extra={"errors": errors},
    )


async def sell(
    services: ServiceClients, payload: CustomerCreate, *, idempotency_key: str | None
) -> tuple[CustomerCreated, bool]:
    """Check the sale against billing's catalog, then create the customer and account.

    Returns the customer (with the password when it was generated) and whether it is new; a
    repeated Idempotency-Key gets the first customer back, without a password.
    """
    await check_sale(services, payload)
    return await services.customers.create_customer(payload, idempotency_key=idempotency_key)


async def check_sale(services: ServiceClients, sale: BaseModel) -> None:
    """Billing's catalog allows the sale, or the gateway's 422 naming the field."""
    try:
        await services.billing.check_sale(sale)
    except Problem as problem:
        if problem.status == 422:
            raise catalog_refusal(problem) from None
        raise


def list_params(
    *,
    status: list[CustomerStatus] | None,
    status_group: StatusGroup | None,
    source: str | None,
    webshop_id: str | None,
    product_id: str | None,
    expires_before: datetime | None,
    expires_after: datetime | None,
    q: str | None,
    sort: CustomerSort,
    limit: int,
    cursor: str | None,
) -> QueryParams:
    """The list's filters as the customers service's query (`status` repeated)."""
    params: list[tuple[str, str | int]] = [("status", s) for s in status or []]
    optional: dict[str, Any] = {
        "status_group": status_group,
        "source": source,
        "webshop_id": webshop_id,
        "product_id": product_id,
        "expires_before": expires_before.isoformat() if expires_before else None,
        "expires_after": expires_after.isoformat() if expires_after else None,
        "q": q,
        "cursor": cursor,
    }
    params += [(name, value) for name, value in optional.items() if value not in (None, "")]
    params += [("sort", sort), ("limit", limit)]
    return params


def page_json(page: CustomerPage) -> bytes:
    """The page as the gateway's JSON answer. The route sends these bytes itself: returning the
    model made FastAPI dump it, validate it again and serialize it (a second and third pass over
    every row, ~2 ms of a 50-row page here) although it was just checked."""
    return _PAGE.dump_json(page)
