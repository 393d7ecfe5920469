"""Customers through the gateway: a sale checked against the catalog, the list, one record."""

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from gateway.downstream import (
    Downstream,
    QueryParams,
    bad_answer,
    parse_as,
    problem_from,
    segment,
)
from gateway.schemas.customers import (
    CustomerCreate,
    CustomerCreated,
    CustomerPublic,
    CustomerSort,
    CustomerStatus,
    StatusGroup,
    TransactionPage,
)

_CREATED = TypeAdapter(CustomerCreated)
_CUSTOMER = TypeAdapter(CustomerPublic)
_TRANSACTIONS = TypeAdapter(TransactionPage)


async def sell(downstream: Downstream, payload: CustomerCreate) -> CustomerCreated:
    """Check the sale against billing's catalog, then create the customer and account.

    Returns the customer, with the password when it was generated; a repeated Idempotency-Key
    gets the first customer back, without a password.
    """
    order = payload.model_dump(
        mode="json", include={"webshop_id", "product_id", "plan_id", "extra_product_ids"}
    )
    # Billing's refusal (422 naming the field) reaches the client as billing wrote it.
    await downstream.call("billing", "POST", "/orders/check", json_body=order)
    data = await downstream.call(
        "customers", "POST", "/customers", json_body=payload.model_dump(mode="json")
    )
    return parse_as(_CREATED, data, "customers")


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


async def list_customers(downstream: Downstream, params: QueryParams) -> bytes:
    """The customers service's page, as its bytes.

    The gateway adds nothing to a page, so it relays the answer instead of parsing and
    re-serializing 50 rows (the largest part of the gateway's cost per page). The shape is held
    by the contract between the two (gateway.schemas.customers.CustomerPage mirrors the
    service's), not re-checked per request; an answer that is not JSON is still a 502.
    """
    response = await downstream.send("customers", "GET", "/customers", params=params)
    if not response.is_success:
        raise problem_from("customers", response)
    if response.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise bad_answer("customers", "answered with something that is not JSON")
    return response.content


async def get_customer(downstream: Downstream, customer_id: str) -> CustomerPublic:
    data = await downstream.call("customers", "GET", f"/customers/{segment(customer_id)}")
    return parse_as(_CUSTOMER, data, "customers")


async def list_transactions(
    downstream: Downstream, customer_id: str, *, limit: int, cursor: str | None
) -> TransactionPage:
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if cursor:
        params.append(("cursor", cursor))
    path = f"/customers/{segment(customer_id)}/transactions"
    data = await downstream.call("billing", "GET", path, params=params)
    return parse_as(_TRANSACTIONS, data, "billing")
