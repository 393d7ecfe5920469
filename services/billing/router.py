"""Internal HTTP API of billing (called by the gateway only). Every write runs once per
`Idempotency-Key` (services/runtime/idempotency.py)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import catalog, rebinding, reports, service, subscriptions
from services.billing.config import BillingSettings
from services.billing.periods import PeriodOutOfRange
from services.billing.scheduler import run_tick
from services.billing.schemas import (
    ActionResult,
    BillingStats,
    CancelIn,
    ChangeIn,
    ExpiryIn,
    ExtraIn,
    InvoicePage,
    OpenIn,
    OrderCheck,
    PlanIn,
    PlanUpdate,
    ProductIn,
    ProductPublic,
    ProductUpdate,
    RenewIn,
    SubscriptionPublic,
    TransactionPage,
    WebshopIn,
    WebshopMove,
    WebshopPublic,
    WebshopUpdate,
)
from services.contracts.timeline import ServiceTimeline
from services.runtime.db import utcnow
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.paging import Cursor, Limit
from services.runtime.problems import Problem, field_error
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["billing"])

# --- catalog ---------------------------------------------------------------------------------


@router.get("/webshops", response_model=list[WebshopPublic])
async def list_webshops(rt: RuntimeDep) -> list[WebshopPublic]:
    async with rt.db.sessions() as session:
        return await service.list_webshops(session)


@router.post("/webshops", status_code=201, response_model=WebshopPublic)
async def create_webshop(payload: WebshopIn, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await service.create_webshop(session, payload), 201)

    return await once(work)


@router.patch("/webshops/{webshop_id}", response_model=WebshopPublic)
async def update_webshop(
    webshop_id: str, payload: WebshopUpdate, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.update_webshop(session, webshop_id, payload))

    return await once(work)


@router.delete("/webshops/{webshop_id}", response_model=WebshopPublic)
async def archive_webshop(webshop_id: str, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Archive (never delete): it sells nothing more; what it sold stays."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.archive_webshop(session, webshop_id, utcnow()))

    return await once(work)


@router.get("/products", response_model=list[ProductPublic])
async def list_products(
    rt: RuntimeDep, kind: Literal["base", "extra"] | None = None
) -> list[ProductPublic]:
    async with rt.db.sessions() as session:
        return await service.list_products(session, kind)


@router.post("/products", status_code=201, response_model=ProductPublic)
async def create_product(payload: ProductIn, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await service.create_product(session, payload), 201)

    return await once(work)


@router.get("/products/{product_id}", response_model=ProductPublic)
async def get_product(product_id: str, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.sessions() as session:
        return await catalog.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductPublic)
async def update_product(
    product_id: str, payload: ProductUpdate, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.update_product(session, product_id, payload))

    return await once(work)


@router.delete("/products/{product_id}", response_model=ProductPublic)
async def archive_product(product_id: str, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Archive (never delete): it can no longer be sold; subscriptions on it run on."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.archive_product(session, product_id, utcnow()))

    return await once(work)


@router.post("/products/{product_id}/plans", status_code=201, response_model=ProductPublic)
async def add_plan(
    product_id: str, payload: PlanIn, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.add_plan(session, product_id, payload), 201)

    return await once(work)


@router.patch("/products/{product_id}/plans/{plan_id}", response_model=ProductPublic)
async def update_plan(
    product_id: str, plan_id: str, payload: PlanUpdate, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.update_plan(session, product_id, plan_id, payload))

    return await once(work)


@router.delete("/products/{product_id}/plans/{plan_id}", response_model=ProductPublic)
async def archive_plan(
    product_id: str, plan_id: str, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await catalog.archive_plan(session, product_id, plan_id, utcnow()))

    return await once(work)


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
                errors=[field_error(refused.field, refused.reason)],
                extra={"code": refused.code},
            ) from None


# --- subscription and its actions ------------------------------------------------------------


@router.get("/customers/{customer_id}/subscription", response_model=SubscriptionPublic)
async def get_subscription(customer_id: str, rt: RuntimeDep) -> SubscriptionPublic:
    async with rt.db.sessions() as session:
        return await service.get_subscription(session, customer_id)


@router.get("/customers/{customer_id}/webshop-move", response_model=WebshopMove)
async def check_webshop_move(
    customer_id: str, rt: RuntimeDep, webshop_id: Annotated[str, Query(min_length=1, max_length=64)]
) -> WebshopMove:
    """What moving the customer to `webshop_id` would do to the subscription (nothing is saved)."""
    async with rt.db.sessions() as session:
        return await rebinding.check_move(session, customer_id, webshop_id)


@router.post("/customers/{customer_id}/subscription", response_model=ActionResult)
async def sell(customer_id: str, payload: OpenIn, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Sell a subscription to a customer with none running (none yet, expired or cancelled)."""
    return await _action(rt, once, customer_id, payload, subscriptions.sell)


@router.post("/customers/{customer_id}/subscription/renew", response_model=ActionResult)
async def renew(customer_id: str, payload: RenewIn, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    return await _action(rt, once, customer_id, payload, subscriptions.renew)


@router.post("/customers/{customer_id}/subscription/change", response_model=ActionResult)
async def change(
    customer_id: str, payload: ChangeIn, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    return await _action(rt, once, customer_id, payload, subscriptions.change)


@router.put("/customers/{customer_id}/subscription/expiry", response_model=ActionResult)
async def set_expiry(
    customer_id: str, payload: ExpiryIn, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    return await _action(rt, once, customer_id, payload, subscriptions.set_expiry)


@router.post("/customers/{customer_id}/subscription/extras", response_model=ActionResult)
async def add_extra(
    customer_id: str, payload: ExtraIn, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    return await _action(rt, once, customer_id, payload, subscriptions.add_extra)


@router.delete(
    "/customers/{customer_id}/subscription/extras/{product_id}", response_model=ActionResult
)
async def remove_extra(
    customer_id: str, product_id: str, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(
            await subscriptions.remove_extra(
                session, rt.outbox, customer_id, product_id, now=utcnow()
            )
        )

    return await once(work)


@router.post("/customers/{customer_id}/subscription/cancel", response_model=ActionResult)
async def cancel(
    customer_id: str, payload: CancelIn, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    return await _action(rt, once, customer_id, payload, subscriptions.cancel)


async def _action(
    rt: RuntimeDep,
    once: WriteOnceDep,
    customer_id: str,
    payload: BaseModel,
    do: subscriptions.Action,
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        try:
            return Answer(await do(session, rt.outbox, customer_id, payload, now=utcnow()))
        except PeriodOutOfRange as error:
            # An expiry set far ahead (before the cap existed) plus the plan's length.
            raise subscriptions.refused("plan_id", str(error)) from error

    return await once(work)


# --- ledger, invoices, timeline, stats -------------------------------------------------------


@router.get("/customers/{customer_id}/transactions", response_model=TransactionPage)
async def list_transactions(
    customer_id: str,
    rt: RuntimeDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TransactionPage:
    async with rt.db.sessions() as session:
        return await service.list_transactions(session, customer_id, limit=limit, cursor=cursor)


@router.get("/customers/{customer_id}/invoices", response_model=InvoicePage)
async def list_invoices(
    customer_id: str,
    rt: RuntimeDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InvoicePage:
    async with rt.db.sessions() as session:
        return await reports.list_invoices(session, customer_id, limit=limit, cursor=cursor)


@router.get("/customers/{customer_id}/timeline", response_model=ServiceTimeline)
async def timeline(customer_id: str, rt: RuntimeDep, limit: Limit = 200) -> ServiceTimeline:
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
    scheduler = rt.settings_as(BillingSettings).scheduler
    result = await run_tick(
        rt.db, rt.outbox, expiring_days=scheduler.expiring_days, batch_size=scheduler.batch_size
    )
    return TickCounts(
        expired=len(result.expired),
        changed=len(result.changed),
        extras_ended=len(result.extras_ended),
        expiring=len(result.expiring),
    )
