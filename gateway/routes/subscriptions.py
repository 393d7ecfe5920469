"""A customer's subscription and its actions (sell, renew, change, expiry, extras, cancel),
a webshop move's consequence and invoices: each action is one call to billing, audited, and
idempotent with `Idempotency-Key`."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.audit import AuditDep
from gateway.clients import ServiceClients
from gateway.deps import ServicesDep
from gateway.idempotent_writes import WriteServicesDep
from gateway.identity.auth import CanReadCustomers, CanSell, Principal
from gateway.identity.permissions import Permission
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.subscriptions import (
    ActionResult,
    CancelRequest,
    ChangeRequest,
    ExpiryRequest,
    ExtraRequest,
    InvoicePage,
    RenewRequest,
    SellRequest,
    SubscriptionDetail,
    WebshopMove,
)
from services.runtime.paging import Cursor, Limit
from services.runtime.problems import Problem

router = APIRouter(prefix=f"{API_PREFIX}/customers", tags=["subscriptions"])

CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]

_ACTION_ERRORS = problem_responses(*AUTH_ERRORS, 404, 409, 422, 503)


def _require_trial_override(principal: Principal, payload: RenewRequest) -> None:
    """Only a role with subscriptions:repeat_trial (admins) may sell a trial again."""
    if payload.repeat_trial and not principal.can(Permission.TRIALS_REPEAT):
        raise Problem(
            403,
            "Forbidden",
            f"the {principal.role} role lacks the {Permission.TRIALS_REPEAT} permission",
            extra={
                "permission": Permission.TRIALS_REPEAT.value,
                "errors": [{"field": "repeat_trial", "message": "admins only"}],
            },
        )


async def _act(
    services: ServiceClients,
    audit: AuditDep,
    *,
    customer_id: str,
    action: str,
    call: Callable[[], Awaitable[ActionResult]],
) -> ActionResult:
    # The subscription before the change, for the audit log (None if there is none).
    before = await services.billing.find_subscription(customer_id)
    before_json = before.model_dump(mode="json") if before is not None else None
    async with audit.record(action, customer_id=customer_id, before=before_json) as entry:
        result = await call()
        entry.after = result.model_dump(mode="json")
    return result


@router.get(
    "/{customer_id}/subscription",
    response_model=SubscriptionDetail,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_subscription(
    customer_id: CustomerId, _: CanReadCustomers, services: ServicesDep
) -> SubscriptionDetail:
    """The base subscription with its extras, a booked change and a booked cancel."""
    return await services.billing.get_subscription(customer_id)


@router.post("/{customer_id}/subscription", response_model=ActionResult, responses=_ACTION_ERRORS)
async def sell(
    customer_id: CustomerId,
    payload: SellRequest,
    principal: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Sell a subscription to a customer with none running (none yet, or one that expired or
    was cancelled): the same catalog checks as a renewal, through the customer's webshop, a
    fresh period from now, one charge (and its payment when `payment` says how it was paid).
    A customer with a running subscription is a 409: renew or change it. A trial product is
    sold once per customer unless an admin sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    customer = await services.customers.get_customer(customer_id)
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.sell",
        call=lambda: services.billing.sell(
            customer_id,
            payload,
            webshop_id=customer.webshop_id,
        ),
    )


@router.get(
    "/{customer_id}/webshop-move",
    response_model=WebshopMove,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def webshop_move(
    customer_id: CustomerId,
    _: CanReadCustomers,
    services: ServicesDep,
    webshop_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> WebshopMove:
    """What moving the customer to `webshop_id` would do, before saving (nothing changes).
    Refused when that webshop does not sell the running product and plan; else the price and
    currency of the next renewal there. A move takes effect from the next renewal or change:
    the period already paid runs on as sold."""
    return await services.billing.webshop_move(customer_id, webshop_id)


@router.post(
    "/{customer_id}/subscription/renew", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def renew(
    customer_id: CustomerId,
    payload: RenewRequest,
    principal: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Renew: same product, the plan's length added from the later of now and the expiry
    (an expired customer counts from now); one charge in the ledger. A trial product is sold
    once per customer unless an admin sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.renew",
        call=lambda: services.billing.renew(customer_id, payload),
    )


@router.post(
    "/{customer_id}/subscription/change", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def change(
    customer_id: CustomerId,
    payload: ChangeRequest,
    principal: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Change product/plan now (the unused time is credited against the new price: one net
    charge, or a credit if it is larger) or at the current expiry (charged now, switched by the
    scheduler when the period ends). A trial product is sold once per customer unless an admin
    sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.change",
        call=lambda: services.billing.change(customer_id, payload),
    )


@router.put(
    "/{customer_id}/subscription/expiry", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def set_expiry(
    customer_id: CustomerId,
    payload: ExpiryRequest,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Set the expiry to an absolute, future moment with a reason: a zero-amount adjustment."""
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.expiry",
        call=lambda: services.billing.set_expiry(customer_id, payload),
    )


@router.post(
    "/{customer_id}/subscription/extras", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def add_extra(
    customer_id: CustomerId,
    payload: ExtraRequest,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Add an extra product on its own plan, or synced to the base expiry; one charge."""
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.extra_add",
        call=lambda: services.billing.add_extra(customer_id, payload),
    )


@router.delete(
    "/{customer_id}/subscription/extras/{product_id}",
    response_model=ActionResult,
    responses=_ACTION_ERRORS,
)
async def remove_extra(
    customer_id: CustomerId,
    product_id: ProductId,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Remove an extra product: a zero-amount adjustment (refunds go through the webshop)."""
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.extra_remove",
        call=lambda: services.billing.remove_extra(customer_id, product_id),
    )


@router.post(
    "/{customer_id}/subscription/cancel", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def cancel(
    customer_id: CustomerId,
    payload: CancelRequest,
    _: CanSell,
    services: WriteServicesDep,
    audit: AuditDep,
) -> ActionResult:
    """Cancel now (the subscription ends at once) or at the period end (it expires then)."""
    return await _act(
        services,
        audit,
        customer_id=customer_id,
        action="subscription.cancel",
        call=lambda: services.billing.cancel(customer_id, payload),
    )


@router.get(
    "/{customer_id}/invoices",
    response_model=InvoicePage,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_invoices(
    customer_id: CustomerId,
    _: CanReadCustomers,
    services: ServicesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InvoicePage:
    """One invoice per order or operator action, newest first, its ledger entries as lines."""
    return await services.billing.list_invoices(customer_id, limit=limit, cursor=cursor)
