"""A customer's record: edit the info or the webshop, the account (disable/enable, login,
password reset), and the list's CSV export."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from gateway.audit import AuditDep
from gateway.composition import customer_records, customers
from gateway.deps import ServicesDep
from gateway.idempotent_writes import WriteServicesDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.customers import CustomerId
from gateway.routes.prefix import API_PREFIX
from gateway.schemas import examples
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.customer_records import (
    AccountPublic,
    AccountUpdate,
    CustomerUpdate,
    PasswordReset,
)
from gateway.schemas.customers import CustomerPublic, CustomerSort, CustomerStatus, StatusGroup
from services.runtime.query_datetime import QueryDatetime

router = APIRouter(prefix=f"{API_PREFIX}/customers", tags=["customers"])


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"example": examples.CUSTOMERS_CSV}},
            "description": "The filtered list as CSV",
        },
        **problem_responses(*AUTH_ERRORS, 503),
    },
)
async def export_customers(
    _: CanReadCustomers,
    services: ServicesDep,
    status: Annotated[list[CustomerStatus] | None, Query()] = None,
    status_group: StatusGroup | None = None,
    source: Annotated[str | None, Query(pattern="^(manual|webshop)$")] = None,
    webshop_id: Annotated[str | None, Query(max_length=64)] = None,
    product_id: Annotated[str | None, Query(max_length=64)] = None,
    expires_before: QueryDatetime | None = None,
    expires_after: QueryDatetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: CustomerSort = "-created_at",
) -> StreamingResponse:
    """Every customer the list's filters select, as CSV (UTF-8, header row), streamed as it
    is read: the export of a million rows starts at once and holds little memory."""
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
        limit=1,
        cursor=None,
    )
    answer = await services.customers.open_export([(k, v) for k, v in params if k != "limit"])
    return StreamingResponse(
        customer_records.relay(answer),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.patch(
    "/{customer_id}",
    response_model=CustomerPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 422, 503),
)
async def update_customer(
    customer_id: CustomerId,
    payload: CustomerUpdate,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> CustomerPublic:
    """Edit personal data (phones in E.164, country ISO 3166-1 alpha-2) or move the customer to
    another webshop. Only the fields sent change; a refusal is 422 naming the field. The
    services learn it from customer.updated. A webshop move is refused when that webshop does
    not sell the running subscription's product and plan (GET .../webshop-move shows it before);
    billing moves the subscription, and the move takes effect from the next renewal or change:
    the period already paid runs on as sold, later sales are priced in the new webshop."""
    before = await services.customers.get_customer(customer_id)
    async with audit.record(
        "customer.update", customer_id=customer_id, before=before.model_dump(mode="json")
    ) as entry:
        updated = await customer_records.update_customer(services, customer_id, payload)
        entry.after = updated.model_dump(mode="json")
    return updated


@router.get(
    "/{customer_id}/account",
    response_model=AccountPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_account(
    customer_id: CustomerId, _: CanReadCustomers, services: ServicesDep
) -> AccountPublic:
    """The login, whether the account is disabled, and when it was last used."""
    return await services.customers.get_account(customer_id)


@router.patch(
    "/{customer_id}/account",
    response_model=AccountPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422, 503),
)
async def update_account(
    customer_id: CustomerId,
    payload: AccountUpdate,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> AccountPublic:
    """Disable (status disabled; the apps log the customer out) or enable the account, or
    change its login (409 if taken, ignoring case)."""
    before = await services.customers.get_account(customer_id)
    async with audit.record(
        "account.update", customer_id=customer_id, before=before.model_dump(mode="json")
    ) as entry:
        updated = await services.customers.update_account(customer_id, payload)
        entry.after = updated.model_dump(mode="json")
    return updated


@router.post(
    "/{customer_id}/account/password",
    response_model=PasswordReset,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def reset_password(
    customer_id: CustomerId,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> PasswordReset:
    """Replace the password with a generated one, shown in this answer only."""
    async with audit.record("account.password_reset", customer_id=customer_id) as entry:
        reset = await services.customers.reset_password(customer_id)
        # The password itself is the customer's secret: the audit keeps only that it happened.
        entry.after = reset.model_dump(mode="json", exclude={"password"})
    return reset
