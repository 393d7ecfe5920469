"""Customers: the sale that adds one, the filtered list, the composed details, transactions."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gateway.audit import AuditDep
from gateway.composition import customers
from gateway.composition.details import compose_details
from gateway.deps import ServicesDep
from gateway.idempotent_writes import WriteServicesDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.customers import (
    CustomerCreate,
    CustomerCreated,
    CustomerPage,
    CustomerSort,
    CustomerStatus,
    StatusGroup,
    TransactionPage,
)
from gateway.schemas.details import CustomerDetails
from services.runtime.paging import Cursor, Limit
from services.runtime.query_datetime import QueryDatetime

router = APIRouter(prefix=f"{API_PREFIX}/customers", tags=["customers"])

# Ids are UUIDs; the pattern also keeps a client from steering the call to another route.
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@router.post(
    "",
    status_code=201,
    response_model=CustomerCreated,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_customer(
    payload: CustomerCreate,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> CustomerCreated:
    """Add a customer by hand and sell them a product on a plan, with extras.

    The sale is first checked against the catalog (the webshop sells the product, the plan
    belongs to it, the extras exist): a refusal is 422 with `errors` naming the field. Without
    `credentials`, a numeric login and password are generated; the password is in this answer
    only. The subscription opens shortly after, when billing has processed the sale.
    """
    async with audit.record("customer.create") as entry:
        created = await customers.sell(services, payload)
        entry.customer_id = created.id
        # The one-time password is the customer's secret, not the audit log's.
        entry.after = created.model_dump(mode="json", exclude={"password"})
        entry.status_code = 201
    return created


@router.get("", response_model=CustomerPage, responses=problem_responses(*AUTH_ERRORS, 422, 503))
async def list_customers(
    _: CanReadCustomers,
    services: ServicesDep,
    status: Annotated[
        list[CustomerStatus] | None, Query(description="Repeat for several statuses.")
    ] = None,
    status_group: Annotated[
        StatusGroup | None,
        Query(description="active = trial or active; inactive = pending, expired or disabled."),
    ] = None,
    source: Annotated[str | None, Query(pattern="^(manual|webshop)$")] = None,
    webshop_id: Annotated[str | None, Query(max_length=64)] = None,
    product_id: Annotated[str | None, Query(max_length=64)] = None,
    expires_before: QueryDatetime | None = None,
    expires_after: QueryDatetime | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Prefix of the name (first, last, 'first last' or 'last first'), "
            "e-mail, phone or login; case-insensitive, and names also ignore accents "
            "('emile' finds 'Émile', 'lukasz' finds 'Łukasz').",
        ),
    ] = None,
    sort: Annotated[
        CustomerSort,
        Query(
            description="name, created_at, expires_at (no expiry after every date) or status "
            "(pending, trial, active, expired, disabled); '-' for descending; ties by id."
        ),
    ] = "-created_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Customers in every status, filtered, searched and paged (pass `next_cursor` back)."""
    params = customers.list_params(
        status=status,
        status_group=status_group,
        source=source,
        webshop_id=webshop_id,
        product_id=product_id,
        expires_before=expires_before,
        expires_after=expires_after,
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    page = await services.customers.list_customers(params)
    return Response(page, media_type="application/json")


@router.get(
    "/{customer_id}",
    response_model=CustomerDetails,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_customer_details(
    customer_id: CustomerId, _: CanReadCustomers, services: ServicesDep
) -> CustomerDetails:
    """The customer with their subscription, first transactions, messages and devices.

    The sections are fetched from their services at once. A section whose service fails or is
    slow is `{"status": "unavailable", "reason": ...}` and the rest of the page is served; only
    the customer record itself is required (404 if unknown, 503 if the customers service is
    unavailable). No subscription is `{"status": "ok", "data": null}`.
    """
    return await compose_details(services, customer_id)


@router.get(
    "/{customer_id}/transactions",
    response_model=TransactionPage,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_transactions(
    customer_id: CustomerId,
    _: CanReadCustomers,
    services: ServicesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TransactionPage:
    """The customer's ledger, newest first, with the balance per currency."""
    return await services.billing.list_transactions(customer_id, limit=limit, cursor=cursor)
