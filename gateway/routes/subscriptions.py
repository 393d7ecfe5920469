"""A customer's subscription and its actions (sell, renew, change, expiry, extras, cancel),
a webshop move's consequence and invoices: each action is one call to billing, audited, and
idempotent with `Idempotency-Key`."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, TypeAdapter

from gateway.audit import AuditDep
from gateway.composition import customer_records
from gateway.deps import DownstreamDep
from gateway.downstream import Downstream, parse_as, segment
from gateway.idempotent_writes import WriteDownstreamDep
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

_RESULT = TypeAdapter(ActionResult)
_SUBSCRIPTION = TypeAdapter(SubscriptionDetail)
_INVOICES = TypeAdapter(InvoicePage)
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


def _base(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}/subscription"


async def _current(downstream: Downstream, customer_id: str) -> Any:
    """The subscription before a change, for the audit log (None if there is none)."""
    try:
        return await downstream.call("billing", "GET", _base(customer_id))
    except Problem as problem:
        if problem.status == 404:
            return None
        raise


async def _act(
    downstream: Downstream,
    audit: AuditDep,
    *,
    customer_id: str,
    action: str,
    method: str,
    path: str,
    body: BaseModel | None,
    extra: dict[str, Any] | None = None,
) -> ActionResult:
    before = await _current(downstream, customer_id)
    async with audit.record(action, customer_id=customer_id, before=before) as entry:
        json_body = body.model_dump(mode="json") if body is not None else None
        if json_body is not None and extra:
            json_body |= extra
        data = await downstream.call(
            "billing",
            method,
            path,
            json_body=json_body,
        )
        result = parse_as(_RESULT, data, "billing")
        entry.after = result.model_dump(mode="json")
    return result


@router.get(
    "/{customer_id}/subscription",
    response_model=SubscriptionDetail,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_subscription(
    customer_id: CustomerId, _: CanReadCustomers, downstream: DownstreamDep
) -> SubscriptionDetail:
    """The base subscription with its extras, a booked change and a booked cancel."""
    data = await downstream.call("billing", "GET", _base(customer_id))
    return parse_as(_SUBSCRIPTION, data, "billing")


@router.post("/{customer_id}/subscription", response_model=ActionResult, responses=_ACTION_ERRORS)
async def sell(
    customer_id: CustomerId,
    payload: SellRequest,
    principal: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Sell a subscription to a customer with none running (none yet, or one that expired or
    was cancelled): the same catalog checks as a renewal, through the customer's webshop, a
    fresh period from now, one charge (and its payment when `payment` says how it was paid).
    A customer with a running subscription is a 409: renew or change it. A trial product is
    sold once per customer unless an admin sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    customer = await downstream.call("customers", "GET", f"/customers/{segment(customer_id)}")
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.sell",
        method="POST",
        path=_base(customer_id),
        body=payload,
        extra={"webshop_id": customer["webshop_id"]},
    )


@router.get(
    "/{customer_id}/webshop-move",
    response_model=WebshopMove,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def webshop_move(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    webshop_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> WebshopMove:
    """What moving the customer to `webshop_id` would do, before saving (nothing changes).
    Refused when that webshop does not sell the running product and plan; else the price and
    currency of the next renewal there. A move takes effect from the next renewal or change:
    the period already paid runs on as sold."""
    return await customer_records.webshop_move(downstream, customer_id, webshop_id)


@router.post(
    "/{customer_id}/subscription/renew", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def renew(
    customer_id: CustomerId,
    payload: RenewRequest,
    principal: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Renew: same product, the plan's length added from the later of now and the expiry
    (an expired customer counts from now); one charge in the ledger. A trial product is sold
    once per customer unless an admin sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.renew",
        method="POST",
        path=f"{_base(customer_id)}/renew",
        body=payload,
    )


@router.post(
    "/{customer_id}/subscription/change", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def change(
    customer_id: CustomerId,
    payload: ChangeRequest,
    principal: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Change product/plan now (the unused time is credited against the new price: one net
    charge, or a credit if it is larger) or at the current expiry (charged now, switched by the
    scheduler when the period ends). A trial product is sold once per customer unless an admin
    sets `repeat_trial`."""
    _require_trial_override(principal, payload)
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.change",
        method="POST",
        path=f"{_base(customer_id)}/change",
        body=payload,
    )


@router.put(
    "/{customer_id}/subscription/expiry", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def set_expiry(
    customer_id: CustomerId,
    payload: ExpiryRequest,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Set the expiry to an absolute, future moment with a reason: a zero-amount adjustment."""
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.expiry",
        method="PUT",
        path=f"{_base(customer_id)}/expiry",
        body=payload,
    )


@router.post(
    "/{customer_id}/subscription/extras", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def add_extra(
    customer_id: CustomerId,
    payload: ExtraRequest,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Add an extra product on its own plan, or synced to the base expiry; one charge."""
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.extra_add",
        method="POST",
        path=f"{_base(customer_id)}/extras",
        body=payload,
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
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Remove an extra product: a zero-amount adjustment (refunds go through the webshop)."""
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.extra_remove",
        method="DELETE",
        path=f"{_base(customer_id)}/extras/{segment(product_id)}",
        body=None,
    )


@router.post(
    "/{customer_id}/subscription/cancel", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def cancel(
    customer_id: CustomerId,
    payload: CancelRequest,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ActionResult:
    """Cancel now (the subscription ends at once) or at the period end (it expires then)."""
    return await _act(
        downstream,
        audit,
        customer_id=customer_id,
        action="subscription.cancel",
        method="POST",
        path=f"{_base(customer_id)}/cancel",
        body=payload,
    )


@router.get(
    "/{customer_id}/invoices",
    response_model=InvoicePage,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_invoices(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InvoicePage:
    """One invoice per order or operator action, newest first, its ledger entries as lines."""
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if cursor:
        params.append(("cursor", cursor))
    data = await downstream.call(
        "billing", "GET", f"/customers/{segment(customer_id)}/invoices", params=params
    )
    return parse_as(_INVOICES, data, "billing")
