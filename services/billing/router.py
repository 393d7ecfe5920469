"""Internal HTTP API of billing (called by the gateway only)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import catalog, reports, service, subscriptions
from services.billing.idempotency import run_once
from services.billing.scheduler import SchedulerSettings, run_tick
from services.billing.schemas import (
    ActionResult,
    BillingStats,
    CancelIn,
    ChangeIn,
    ExpiryIn,
    ExtraIn,
    InvoicePage,
    OrderCheck,
    PlanIn,
    PlanUpdate,
    ProductIn,
    ProductPublic,
    ProductUpdate,
    RenewIn,
    SubscriptionPublic,
    Timeline,
    TransactionPage,
    WebshopIn,
    WebshopPublic,
    WebshopUpdate,
)
from services.runtime.db import utcnow
from services.runtime.problems import Problem
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["billing"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


# --- catalog ---------------------------------------------------------------------------------


@router.get("/webshops", response_model=list[WebshopPublic])
async def list_webshops(rt: RuntimeDep) -> list[WebshopPublic]:
    async with rt.db.sessions() as session:
        return await service.list_webshops(session)


@router.post("/webshops", status_code=201, response_model=WebshopPublic)
async def create_webshop(payload: WebshopIn, rt: RuntimeDep) -> WebshopPublic:
    async with rt.db.transaction() as session:
        return await service.create_webshop(session, payload)


@router.patch("/webshops/{webshop_id}", response_model=WebshopPublic)
async def update_webshop(webshop_id: str, payload: WebshopUpdate, rt: RuntimeDep) -> WebshopPublic:
    async with rt.db.transaction() as session:
        return await catalog.update_webshop(session, webshop_id, payload)


@router.delete("/webshops/{webshop_id}", response_model=WebshopPublic)
async def archive_webshop(webshop_id: str, rt: RuntimeDep) -> WebshopPublic:
    """Archive (never delete): it sells nothing more; what it sold stays."""
    async with rt.db.transaction() as session:
        return await catalog.archive_webshop(session, webshop_id, utcnow())


@router.get("/products", response_model=list[ProductPublic])
async def list_products(
    rt: RuntimeDep, kind: Literal["base", "extra"] | None = None
) -> list[ProductPublic]:
    async with rt.db.sessions() as session:
        return await service.list_products(session, kind)


@router.post("/products", status_code=201, response_model=ProductPublic)
async def create_product(payload: ProductIn, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await service.create_product(session, payload)


@router.get("/products/{product_id}", response_model=ProductPublic)
async def get_product(product_id: str, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.sessions() as session:
        return await catalog.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductPublic)
async def update_product(product_id: str, payload: ProductUpdate, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await catalog.update_product(session, product_id, payload)


@router.delete("/products/{product_id}", response_model=ProductPublic)
async def archive_product(product_id: str, rt: RuntimeDep) -> ProductPublic:
    """Archive (never delete): it can no longer be sold; subscriptions on it run on."""
    async with rt.db.transaction() as session:
        return await catalog.archive_product(session, product_id, utcnow())


@router.post("/products/{product_id}/plans", status_code=201, response_model=ProductPublic)
async def add_plan(product_id: str, payload: PlanIn, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await catalog.add_plan(session, product_id, payload)


@router.patch("/products/{product_id}/plans/{plan_id}", response_model=ProductPublic)
async def update_plan(
    product_id: str, plan_id: str, payload: PlanUpdate, rt: RuntimeDep
) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await catalog.update_plan(session, product_id, plan_id, payload)


@router.delete("/products/{product_id}/plans/{plan_id}", response_model=ProductPublic)
async def archive_plan(product_id: str, plan_id: str, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await catalog.archive_plan(session, product_id, plan_id, utcnow())


@router.post("/orders/check", status_code=204)
async def check_order(payload: OrderCheck, rt: RuntimeDep) -> None:
    """Refuse, with the field at fault, a sale the catalog does not allow; with an amount and
    currency, also one that does not pay exactly the catalog's price now."""
    paid = (
        service.Paid(payload.amount, payload.currency, utcnow())
        if payload.amount is not None and payload.currency is not None
        else None
    )
    async with rt.db.sessions() as session:
        try:
            await service.resolve_sale(session, payload, paid)
        except service.OrderRefused as refused:
            raise Problem(
                422,
                "Order not allowed",
                refused.reason,
                extra={
                    "code": refused.code,
                    "errors": [{"field": refused.field, "message": refused.reason}],
                },
            ) from None


# --- subscription and its actions ------------------------------------------------------------


@router.get("/customers/{customer_id}/subscription", response_model=SubscriptionPublic)
async def get_subscription(customer_id: str, rt: RuntimeDep) -> SubscriptionPublic:
    async with rt.db.sessions() as session:
        return await service.get_subscription(session, customer_id)


@router.post("/customers/{customer_id}/subscription/renew", response_model=ActionResult)
async def renew(
    customer_id: str, payload: RenewIn, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    return await _action(rt, customer_id, key, "renew", payload, subscriptions.renew)


@router.post("/customers/{customer_id}/subscription/change", response_model=ActionResult)
async def change(
    customer_id: str, payload: ChangeIn, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    return await _action(rt, customer_id, key, "change", payload, subscriptions.change)


@router.put("/customers/{customer_id}/subscription/expiry", response_model=ActionResult)
async def set_expiry(
    customer_id: str, payload: ExpiryIn, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    return await _action(rt, customer_id, key, "expiry", payload, subscriptions.set_expiry)


@router.post("/customers/{customer_id}/subscription/extras", response_model=ActionResult)
async def add_extra(
    customer_id: str, payload: ExtraIn, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    return await _action(rt, customer_id, key, "extra_add", payload, subscriptions.add_extra)


@router.delete(
    "/customers/{customer_id}/subscription/extras/{product_id}", response_model=ActionResult
)
async def remove_extra(
    customer_id: str, product_id: str, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    async def write(session: AsyncSession) -> ActionResult:
        return await subscriptions.remove_extra(
            session, rt.outbox, customer_id, product_id, now=utcnow()
        )

    return await run_once(
        rt.db,
        customer_id=customer_id,
        key=key,
        action="extra_remove",
        body={"product_id": product_id},
        model=ActionResult,
        write=write,
    )


@router.post("/customers/{customer_id}/subscription/cancel", response_model=ActionResult)
async def cancel(
    customer_id: str, payload: CancelIn, rt: RuntimeDep, key: IdempotencyKey = None
) -> ActionResult:
    return await _action(rt, customer_id, key, "cancel", payload, subscriptions.cancel)


async def _action(
    rt: RuntimeDep,
    customer_id: str,
    key: str | None,
    action: str,
    payload: BaseModel,
    do: subscriptions.Action,
) -> ActionResult:
    async def write(session: AsyncSession) -> ActionResult:
        return await do(session, rt.outbox, customer_id, payload, now=utcnow())

    return await run_once(
        rt.db,
        customer_id=customer_id,
        key=key,
        action=action,
        body=payload.model_dump(mode="json"),
        model=ActionResult,
        write=write,
    )


# --- ledger, invoices, timeline, stats -------------------------------------------------------


@router.get("/customers/{customer_id}/transactions", response_model=TransactionPage)
async def list_transactions(
    customer_id: str,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> TransactionPage:
    async with rt.db.sessions() as session:
        return await service.list_transactions(session, customer_id, limit=limit, cursor=cursor)


@router.get("/customers/{customer_id}/invoices", response_model=InvoicePage)
async def list_invoices(
    customer_id: str,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> InvoicePage:
    async with rt.db.sessions() as session:
        return await reports.list_invoices(session, customer_id, limit=limit, cursor=cursor)


@router.get("/customers/{customer_id}/timeline", response_model=Timeline)
async def timeline(
    customer_id: str, rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> Timeline:
    async with rt.db.sessions() as session:
        return await reports.timeline(session, customer_id, limit=limit)


@router.get("/stats", response_model=BillingStats)
async def stats(rt: RuntimeDep) -> BillingStats:
    async with rt.db.sessions() as session:
        return await reports.stats(session, now=utcnow())


class TickCounts(BaseModel):
    expired: int
    changed: int
    extras_ended: int
    expiring: int


@router.post("/scheduler/tick", response_model=TickCounts, tags=["operations"])
async def scheduler_tick(rt: RuntimeDep) -> TickCounts:
    """Run one pass of the expiry scheduler now (it also runs on its own every interval)."""
    settings = SchedulerSettings.from_env()
    result = await run_tick(
        rt.db, rt.outbox, expiring_days=settings.expiring_days, batch_size=settings.batch_size
    )
    return TickCounts(
        expired=len(result.expired),
        changed=len(result.changed),
        extras_ended=len(result.extras_ended),
        expiring=len(result.expiring),
    )
