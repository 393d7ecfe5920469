"""Customers through the gateway: a sale checked against the catalog, the list, one record."""

from datetime import datetime
from typing import Any

from gateway.clients import ServiceClients
from gateway.downstream import QueryParams
from gateway.schemas.customers import (
    CustomerCreate,
    CustomerCreated,
    CustomerSort,
    CustomerStatus,
    StatusGroup,
)


async def sell(services: ServiceClients, payload: CustomerCreate) -> CustomerCreated:
    """Check the sale against billing's catalog, then create the customer and account.

    Returns the customer, with the password when it was generated; a repeated Idempotency-Key
    gets the first customer back, without a password.
    """
    # Billing's refusal (422 naming the field) reaches the client as billing wrote it.
    await services.billing.check_sale(payload)
    return await services.customers.create_customer(payload)


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
