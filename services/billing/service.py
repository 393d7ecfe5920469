"""The rules of billing: the catalog, turning orders into subscriptions, and the ledger."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import LedgerTransaction, Plan, Product, Subscription, Webshop
from services.billing.periods import add_period
from services.billing.schemas import (
    OrderCheck,
    PlanPublic,
    ProductIn,
    ProductPublic,
    SubscriptionPublic,
    TransactionPage,
    TransactionPublic,
    WebshopIn,
    WebshopPublic,
)
from services.contracts import topics
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionRejectedV1,
    TransactionRecordedV1,
)
from services.contracts.customers import OrderPayment, SubscriptionOrder
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem

# --- catalog ---------------------------------------------------------------------------------


def product_public(product: Product) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        name=product.name,
        kind=product.kind,
        subscription_type=product.subscription_type,
        max_devices=product.max_devices,
        starts_on_first_login=product.starts_on_first_login,
        packages=list(product.packages or []),
        archived=product.archived,
        plans=[
            PlanPublic(
                id=plan.id,
                name=plan.name,
                length=plan.length,
                unit=plan.unit,
                prices={c: Decimal(p) for c, p in plan.prices.items()},
                archived=plan.archived,
            )
            for plan in product.plans
        ],
    )


def webshop_public(webshop: Webshop) -> WebshopPublic:
    return WebshopPublic(
        id=webshop.id,
        name=webshop.name,
        currencies=list(webshop.currencies),
        product_ids=list(webshop.product_ids),
        archived=webshop.archived,
    )


async def create_product(session: AsyncSession, payload: ProductIn) -> ProductPublic:
    if await session.get(Product, payload.id) is not None:
        raise Problem(
            409, "Product exists", f"a product with id {payload.id!r} exists", extra={"field": "id"}
        )
    plan_ids = [p.id for p in payload.plans]
    if len(set(plan_ids)) != len(plan_ids):
        raise Problem(422, "Duplicate plan id", "plan ids must be unique", extra={"field": "plans"})
    taken = (await session.scalars(select(Plan.id).where(Plan.id.in_(plan_ids)))).all()
    if taken:
        raise Problem(
            409,
            "Plan exists",
            f"plan ids already used: {', '.join(taken)}",
            extra={"field": "plans"},
        )
    product = Product(
        id=payload.id,
        name=payload.name,
        kind=payload.kind,
        subscription_type=payload.subscription_type,
        max_devices=payload.max_devices,
        starts_on_first_login=payload.starts_on_first_login,
        packages=payload.packages,
        archived=False,
        created_at=utcnow(),
    )
    product.plans = [
        Plan(
            id=plan.id,
            name=plan.name,
            length=plan.length,
            unit=plan.unit,
            prices={c: format(p, "f") for c, p in plan.prices.items()},
            position=index,
            archived=False,
        )
        for index, plan in enumerate(payload.plans)
    ]
    session.add(product)
    await session.flush()
    return product_public(product)


async def list_products(session: AsyncSession, kind: str | None = None) -> list[ProductPublic]:
    query = select(Product).order_by(Product.kind, Product.name)
    if kind:
        query = query.where(Product.kind == kind)
    return [product_public(p) for p in (await session.scalars(query)).all()]


async def create_webshop(session: AsyncSession, payload: WebshopIn) -> WebshopPublic:
    if await session.get(Webshop, payload.id) is not None:
        raise Problem(
            409, "Webshop exists", f"a webshop with id {payload.id!r} exists", extra={"field": "id"}
        )
    known = set(
        (await session.scalars(select(Product.id).where(Product.id.in_(payload.product_ids)))).all()
    )
    unknown = [p for p in payload.product_ids if p not in known]
    if unknown:
        raise Problem(
            422,
            "Unknown product",
            f"unknown products: {', '.join(unknown)}",
            extra={"field": "product_ids"},
        )
    webshop = Webshop(
        id=payload.id,
        name=payload.name,
        currencies=list(payload.currencies),
        product_ids=list(payload.product_ids),
        archived=False,
        created_at=utcnow(),
    )
    session.add(webshop)
    await session.flush()
    return webshop_public(webshop)


async def list_webshops(session: AsyncSession) -> list[WebshopPublic]:
    rows = (await session.scalars(select(Webshop).order_by(Webshop.name))).all()
    return [webshop_public(w) for w in rows]


# --- orders ----------------------------------------------------------------------------------


class OrderRefused(Exception):
    """An order that billing cannot sell; the reason goes back to whoever placed it."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Sale:
    webshop: Webshop
    product: Product
    plan: Plan
    extras: list[Product]


async def resolve_sale(session: AsyncSession, order: OrderCheck | SubscriptionOrder) -> Sale:
    """Check a sale against the catalog; raises OrderRefused naming the field at fault."""
    webshop = await session.get(Webshop, order.webshop_id)
    if webshop is None or webshop.archived:
        raise OrderRefused(f"unknown webshop {order.webshop_id!r}", "webshop_id")
    product = await session.get(Product, order.product_id)
    if product is None:
        raise OrderRefused(f"unknown product {order.product_id!r}", "product_id")
    if product.archived:
        raise OrderRefused(f"product {product.id!r} is archived", "product_id")
    if product.kind != "base":
        raise OrderRefused(f"product {product.id!r} is an extra, not a base product", "product_id")
    if product.id not in webshop.product_ids:
        raise OrderRefused(f"webshop {webshop.id!r} does not sell {product.id!r}", "product_id")
    plan = next((p for p in product.plans if p.id == order.plan_id), None)
    if plan is None:
        raise OrderRefused(f"product {product.id!r} has no plan {order.plan_id!r}", "plan_id")
    if plan.archived:
        raise OrderRefused(f"plan {plan.id!r} is archived", "plan_id")
    extras = []
    for extra_id in dict.fromkeys(order.extra_product_ids):
        extra = await session.get(Product, extra_id)
        if extra is None or extra.kind != "extra" or extra.archived:
            raise OrderRefused(
                f"{extra_id!r} is not an available extra product", "extra_product_ids"
            )
        extras.append(extra)
    return Sale(webshop, product, plan, extras)


def _price(sale: Sale) -> tuple[Decimal, str]:
    """The plan's price in the first of the webshop's currencies that the plan is priced in."""
    for currency in sale.webshop.currencies:
        if currency in sale.plan.prices:
            return Decimal(sale.plan.prices[currency]), currency
    currency, price = next(iter(sale.plan.prices.items()))
    return Decimal(price), currency


async def apply_order(
    session: AsyncSession,
    outbox: Outbox,
    *,
    customer_id: str,
    order: SubscriptionOrder,
    payment: OrderPayment | None,
) -> None:
    """Open, renew or change the customer's subscription and write the one ledger entry."""
    kind: Literal["charge", "payment"] = "payment" if payment else "charge"
    already = await session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.webshop_id == order.webshop_id,
            LedgerTransaction.order_id == order.order_id,
            LedgerTransaction.kind == kind,
        )
    )
    if already is not None:
        return  # the same order under another event id: recorded once already
    try:
        sale = await resolve_sale(session, order)
    except OrderRefused as refused:
        await outbox.add(
            session,
            SubscriptionRejectedV1(
                customer_id=customer_id, order_id=order.order_id, reason=refused.reason
            ),
            topic=topics.BILLING_EVENTS,
            key=customer_id,
            subject=customer_id,
        )
        return
    now = utcnow()
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id)
    )
    action: Literal["opened", "renewed", "changed"]
    if subscription is None:
        action = "opened"
        subscription = Subscription(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            created_at=now,
        )
        session.add(subscription)
        starts_at, expires_at, status = _fresh_period(sale, now)
    elif subscription.product_id == sale.product.id and subscription.status != "pending":
        action = "renewed"
        base = max(now, subscription.expires_at or now)
        starts_at = subscription.starts_at or now
        expires_at = add_period(base, sale.plan.length, sale.plan.unit)
        status = "trial" if sale.product.subscription_type == "trial" else "active"
    else:
        action = "changed"
        starts_at, expires_at, status = _fresh_period(sale, now)
    subscription.webshop_id = sale.webshop.id
    subscription.product_id = sale.product.id
    subscription.plan_id = sale.plan.id
    subscription.extra_product_ids = [e.id for e in sale.extras]
    subscription.status = status
    subscription.starts_at = starts_at
    subscription.expires_at = expires_at
    subscription.updated_at = now
    await session.flush()

    if payment:
        amount, currency = payment.amount, payment.currency
        source, reference, recorded_at = "webshop", payment.reference, payment.paid_at
    else:
        amount, currency = _price(sale)
        source, reference, recorded_at = "operator", None, now
    entry = LedgerTransaction(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        subscription_id=subscription.id,
        kind=kind,
        amount=amount,
        currency=currency,
        source=source,
        webshop_id=order.webshop_id,
        order_id=order.order_id,
        reference=reference,
        description=f"{action} {sale.product.name}, {sale.plan.name}",
        recorded_at=recorded_at,
    )
    session.add(entry)
    await session.flush()
    await outbox.add(
        session,
        SubscriptionActivatedV1(
            customer_id=customer_id,
            subscription_id=subscription.id,
            order_id=order.order_id,
            action=action,
            webshop_id=sale.webshop.id,
            product_id=sale.product.id,
            plan_id=sale.plan.id,
            extra_product_ids=subscription.extra_product_ids,
            status=status,
            starts_at=starts_at,
            expires_at=expires_at,
            max_devices=sale.product.max_devices,
        ),
        topic=topics.BILLING_EVENTS,
        key=customer_id,
        subject=customer_id,
    )
    await outbox.add(
        session,
        TransactionRecordedV1(
            customer_id=customer_id,
            transaction_id=entry.id,
            kind=kind,
            amount=amount,
            currency=currency,
            order_id=order.order_id,
            recorded_at=recorded_at,
        ),
        topic=topics.BILLING_EVENTS,
        key=customer_id,
        subject=customer_id,
    )


def _fresh_period(sale: Sale, now: datetime) -> tuple[datetime | None, datetime | None, str]:
    if sale.product.starts_on_first_login:
        return None, None, "pending"
    expires_at = add_period(now, sale.plan.length, sale.plan.unit)
    return now, expires_at, "trial" if sale.product.subscription_type == "trial" else "active"


async def get_subscription(session: AsyncSession, customer_id: str) -> SubscriptionPublic:
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id)
    )
    if subscription is None:
        raise Problem(404, "No subscription", f"customer {customer_id} has no subscription")
    product = await session.get(Product, subscription.product_id)
    return SubscriptionPublic(
        id=subscription.id,
        customer_id=customer_id,
        webshop_id=subscription.webshop_id,
        product_id=subscription.product_id,
        plan_id=subscription.plan_id,
        extra_product_ids=list(subscription.extra_product_ids or []),
        status=subscription.status,
        starts_at=subscription.starts_at,
        expires_at=subscription.expires_at,
        max_devices=product.max_devices if product else 0,
    )


# --- ledger ----------------------------------------------------------------------------------


def _transaction_public(entry: LedgerTransaction) -> TransactionPublic:
    return TransactionPublic(
        id=entry.id,
        customer_id=entry.customer_id,
        subscription_id=entry.subscription_id,
        kind=entry.kind,
        amount=entry.amount,
        currency=entry.currency,
        source=entry.source,
        webshop_id=entry.webshop_id,
        order_id=entry.order_id,
        reference=entry.reference,
        description=entry.description,
        recorded_at=entry.recorded_at,
    )


async def list_transactions(
    session: AsyncSession, customer_id: str, *, limit: int = 50, cursor: str | None = None
) -> TransactionPage:
    """Newest first, keyset-paged on (recorded_at, id); the balance covers the whole ledger."""
    query = select(LedgerTransaction).where(LedgerTransaction.customer_id == customer_id)
    if cursor:
        try:
            at_text, last_id = cursor.split("|", 1)
            at = datetime.fromisoformat(at_text)
        except ValueError as error:
            raise Problem(
                400,
                "Bad cursor",
                "the cursor is not one this list gave out",
                extra={"field": "cursor"},
            ) from error
        query = query.where(
            or_(
                LedgerTransaction.recorded_at < at,
                (LedgerTransaction.recorded_at == at) & (LedgerTransaction.id < last_id),
            )
        )
    rows = (
        await session.scalars(
            query.order_by(LedgerTransaction.recorded_at.desc(), LedgerTransaction.id.desc()).limit(
                limit + 1
            )
        )
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last.recorded_at.isoformat()}|{last.id}"
    return TransactionPage(
        items=[_transaction_public(r) for r in rows[:limit]],
        next_cursor=next_cursor,
        balance=await balance(session, customer_id),
    )


async def balance(session: AsyncSession, customer_id: str) -> dict[str, Decimal]:
    """Money in minus money owed, per currency: payments and credits count for the customer."""
    signed = {"payment": 1, "credit": 1, "charge": -1, "refund": -1, "adjustment": 1}
    rows = (
        await session.execute(
            select(
                LedgerTransaction.currency,
                LedgerTransaction.kind,
                func.sum(LedgerTransaction.amount),
            )
            .where(LedgerTransaction.customer_id == customer_id)
            .group_by(LedgerTransaction.currency, LedgerTransaction.kind)
        )
    ).all()
    totals: dict[str, Decimal] = {}
    for currency, kind, total in rows:
        totals[currency] = totals.get(currency, Decimal(0)) + signed[kind] * Decimal(total)
    return totals
