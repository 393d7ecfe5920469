"""The rules of billing: the catalog, turning orders into subscriptions, and the ledger."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import events
from services.billing.ledger_batch import LedgerBatch
from services.billing.models import (
    LedgerTransaction,
    Plan,
    Product,
    Subscription,
    SubscriptionExtra,
    Webshop,
)
from services.billing.periods import add_period
from services.billing.pricing import order_total, price_of
from services.billing.schemas import (
    ExtraPublic,
    OrderCheck,
    PlanPublic,
    ProductIn,
    ProductPublic,
    ScheduledChange,
    SubscriptionPublic,
    TransactionPage,
    TransactionPublic,
    WebshopIn,
    WebshopPublic,
)
from services.billing.trials import repeated_trial
from services.contracts import topics
from services.contracts.billing import SubscriptionRejectedV1
from services.contracts.customers import OperatorPayment, OrderPayment, SubscriptionOrder
from services.contracts.webshop import RejectionCode
from services.runtime.consumer import Traced, untraced
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink
from services.runtime.paging import Keyset
from services.runtime.problems import Problem, field_error

LedgerKind = Literal["charge", "payment", "refund", "credit", "adjustment"]

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
        device_policy=product.device_policy,
        mapping_id=product.mapping_id,
        archived=product.archived,
        archived_at=product.archived_at,
        plans=[
            PlanPublic(
                id=plan.id,
                name=plan.name,
                length=plan.length,
                unit=plan.unit,
                prices={c: Decimal(p) for c, p in plan.prices.items()},
                archived=plan.archived,
                archived_at=plan.archived_at,
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
        archived_at=webshop.archived_at,
    )


async def create_product(session: AsyncSession, payload: ProductIn) -> ProductPublic:
    if await session.get(Product, payload.id) is not None:
        raise Problem(
            409,
            "Product exists",
            f"a product with id {payload.id!r} exists",
            errors=[field_error("id", "taken")],
        )
    plan_ids = [p.id for p in payload.plans]
    if len(set(plan_ids)) != len(plan_ids):
        raise Problem(
            422,
            "Duplicate plan id",
            "plan ids must be unique",
            errors=[field_error("plans", "plan ids must be unique")],
        )
    taken = (await session.scalars(select(Plan.id).where(Plan.id.in_(plan_ids)))).all()
    if taken:
        raise Problem(
            409,
            "Plan exists",
            f"plan ids already used: {', '.join(taken)}",
            errors=[field_error("plans", f"already used: {', '.join(taken)}")],
        )
    product = Product(
        id=payload.id,
        name=payload.name,
        kind=payload.kind,
        subscription_type=payload.subscription_type,
        max_devices=payload.max_devices,
        starts_on_first_login=payload.starts_on_first_login,
        packages=payload.packages,
        device_policy=payload.device_policy,
        mapping_id=payload.mapping_id,
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
            409,
            "Webshop exists",
            f"a webshop with id {payload.id!r} exists",
            errors=[field_error("id", "taken")],
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
            errors=[field_error("product_ids", f"unknown products: {', '.join(unknown)}")],
        )
    webshop = Webshop(
        id=payload.id,
        name=payload.name,
        currencies=list(payload.currencies),
        product_ids=list(payload.product_ids),
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

    def __init__(self, reason: str, field: str, code: RejectionCode = "not_for_sale") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.code: RejectionCode = code


@dataclass(frozen=True)
class Paid:
    """What the buyer says they paid for a sale, checked against the catalog's price."""

    amount: Decimal
    currency: str
    at: datetime


@dataclass(frozen=True)
class Sale:
    webshop: Webshop
    product: Product
    plan: Plan
    extras: list[Product]


async def resolve_sale(
    session: AsyncSession, order: OrderCheck | SubscriptionOrder, paid: Paid | None = None
) -> Sale:
    """Check a sale against the catalog, and what was paid for it against the catalog's price
    when it was paid (webshop orders, /orders/check with an amount); raises OrderRefused naming
    the field at fault. Operator sales, /orders/check and webshop orders all come here."""
    webshop = await session.get(Webshop, order.webshop_id)
    if webshop is None:
        raise OrderRefused(f"unknown webshop {order.webshop_id!r}", "webshop_id")
    if webshop.archived:
        raise OrderRefused(f"webshop {webshop.id!r} is archived", "webshop_id")
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
    if not any(c in plan.prices for c in webshop.currencies):
        raise OrderRefused(
            f"webshop {webshop.id!r} does not sell plan {plan.id!r} (no price in "
            f"{', '.join(webshop.currencies)})",
            "plan_id",
        )
    extras = []
    for extra_id in dict.fromkeys(order.extra_product_ids):
        extra = await session.get(Product, extra_id)
        if extra is None or extra.kind != "extra" or extra.archived:
            raise OrderRefused(
                f"{extra_id!r} is not an available extra product", "extra_product_ids"
            )
        extras.append(extra)
    if paid is not None:
        check_paid(webshop, plan, extras, paid)
    return Sale(webshop, product, plan, extras)


def check_paid(webshop: Webshop, plan: Plan, extras: list[Product], paid: Paid) -> None:
    """A paid sale is in a currency the webshop takes and the plan is priced in, and amounts to
    exactly what the catalog charges: a buyer does not set the price."""
    if paid.currency not in webshop.currencies:
        raise OrderRefused(
            f"webshop {webshop.id!r} does not take {paid.currency} "
            f"(it takes {', '.join(webshop.currencies)})",
            "currency",
            "currency_not_accepted",
        )
    if paid.currency not in plan.prices:
        raise OrderRefused(
            f"plan {plan.id!r} has no price in {paid.currency}", "currency", "currency_not_accepted"
        )
    expected = order_total(plan, extras, webshop, paid.currency, paid.at)
    if paid.amount != expected:
        raise OrderRefused(
            f"paid {paid.amount} {paid.currency} but the catalog charges "
            f"{expected} {paid.currency} for plan {plan.id!r}"
            + (f" with {len(extras)} extra(s)" if extras else ""),
            "amount",
            "amount_mismatch",
        )


def ledger_entry(
    *,
    customer_id: str,
    subscription_id: str | None,
    kind: LedgerKind,
    amount: Decimal,
    currency: str,
    source: Literal["webshop", "operator"],
    webshop_id: str | None,
    order_id: str | None,
    reference: str | None,
    description: str,
    recorded_at: datetime,
    plan_id: str | None = None,
    period_starts_at: datetime | None = None,
    period_ends_at: datetime | None = None,
) -> LedgerTransaction:
    """One ledger entry, not yet added; `record_entry` adds and flushes it."""
    return LedgerTransaction(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        subscription_id=subscription_id,
        kind=kind,
        amount=amount,
        currency=currency,
        source=source,
        webshop_id=webshop_id,
        order_id=order_id,
        reference=reference,
        description=description[:500],
        plan_id=plan_id,
        period_starts_at=period_starts_at,
        period_ends_at=period_ends_at,
        recorded_at=recorded_at,
    )


async def record_entry(
    session: AsyncSession,
    outbox: EventSink,
    *,
    customer_id: str,
    subscription_id: str | None,
    kind: LedgerKind,
    amount: Decimal,
    currency: str,
    source: Literal["webshop", "operator"],
    webshop_id: str | None,
    order_id: str | None,
    reference: str | None,
    description: str,
    recorded_at: datetime,
    plan_id: str | None = None,
    period_starts_at: datetime | None = None,
    period_ends_at: datetime | None = None,
) -> LedgerTransaction:
    """Append one ledger entry; the caller announces it (events.transaction_recorded) after
    the subscription's own event, so consumers see the subscription change first."""
    entry = ledger_entry(
        customer_id=customer_id,
        subscription_id=subscription_id,
        kind=kind,
        amount=amount,
        currency=currency,
        source=source,
        webshop_id=webshop_id,
        order_id=order_id,
        reference=reference,
        description=description,
        recorded_at=recorded_at,
        plan_id=plan_id,
        period_starts_at=period_starts_at,
        period_ends_at=period_ends_at,
    )
    session.add(entry)
    await session.flush()
    return entry


METHOD_NAMES = {"cash": "cash", "card": "card", "bank_transfer": "bank transfer", "free": "free"}


async def settle(
    session: AsyncSession,
    outbox: EventSink,
    charge: LedgerTransaction,
    payment: OperatorPayment | None,
) -> LedgerTransaction | None:
    """The payment of an operator's sale, on the charge's order (one invoice), when the operator
    said how it was paid; `free` is a credit of the whole charge (no revenue, nothing owed)."""
    if payment is None or charge.kind != "charge" or charge.amount <= 0:
        return None
    free = payment.method == "free"
    return await record_entry(
        session,
        outbox,
        customer_id=charge.customer_id,
        subscription_id=charge.subscription_id,
        kind="credit" if free else "payment",
        amount=charge.amount,
        currency=charge.currency,
        source="operator",
        webshop_id=charge.webshop_id,
        order_id=charge.order_id,
        reference=payment.reference or payment.method,
        description="given free of charge" if free else f"paid by {METHOD_NAMES[payment.method]}",
        recorded_at=charge.recorded_at,
        plan_id=charge.plan_id,
        period_starts_at=charge.period_starts_at,
        period_ends_at=charge.period_ends_at,
    )


async def replace_extras(
    session: AsyncSession, subscription: Subscription, extras: list[Product], now: datetime
) -> None:
    """The subscription's extras become `extras`, all synced to the base expiry."""
    await session.execute(
        delete(SubscriptionExtra).where(SubscriptionExtra.subscription_id == subscription.id)
    )
    for extra in extras:
        session.add(
            SubscriptionExtra(
                subscription_id=subscription.id,
                product_id=extra.id,
                plan_id=None,
                expires_at=None,
                added_at=now,
            )
        )
    subscription.extra_product_ids = [e.id for e in extras]


@dataclass(frozen=True)
class PlacedOrder:
    """An order to apply: a webshop's paid one (with its payment) or an operator's sale."""

    customer_id: str
    order: SubscriptionOrder
    payment: OrderPayment | None = None


async def apply_order(
    session: AsyncSession,
    outbox: EventSink,
    *,
    customer_id: str,
    order: SubscriptionOrder,
    payment: OrderPayment | None,
) -> None:
    """Open, renew or change the customer's subscription and write its ledger entries: the
    charge, and for a paid webshop order its payment."""
    await apply_orders(session, outbox, [PlacedOrder(customer_id, order, payment)])


async def apply_orders(
    session: AsyncSession,
    outbox: EventSink,
    placed: Sequence[PlacedOrder],
    traced: Traced = untraced,
) -> None:
    """`apply_order` for a run of orders, in their order: the orders recorded before and the
    customers' subscriptions read with one select each, the catalog from the session's identity
    map after its first read, the ledger entries, timeline lines and subscriptions written in
    one flush, the extras replaced with one delete."""
    if not placed:
        return
    rows = await session.execute(
        select(
            LedgerTransaction.webshop_id, LedgerTransaction.order_id, LedgerTransaction.kind
        ).where(
            tuple_(LedgerTransaction.webshop_id, LedgerTransaction.order_id).in_(
                {(p.order.webshop_id, p.order.order_id) for p in placed}
            )
        )
    )
    recorded = {(webshop_id, order_id, kind) for webshop_id, order_id, kind in rows}
    # Read once and held here for the batch: `resolve_sale` then finds the catalog in the
    # session's identity map (which holds only what something references) without a query.
    catalog = [
        *await session.scalars(
            select(Webshop).where(Webshop.id.in_({p.order.webshop_id for p in placed}))
        ),
        *await session.scalars(
            select(Product).where(
                Product.id.in_(
                    {p.order.product_id for p in placed}
                    | {e for p in placed for e in p.order.extra_product_ids}
                )
            )
        ),
    ]
    subscriptions = {
        s.customer_id: s
        for s in await session.scalars(
            select(Subscription).where(
                Subscription.customer_id.in_({p.customer_id for p in placed})
            )
        )
    }
    extras: dict[str, tuple[Subscription, list[Product]]] = {}
    batch = _Batch(events.Timeline(), LedgerBatch())
    for index, item in enumerate(placed):
        kind: LedgerKind = "payment" if item.payment else "charge"
        if (item.order.webshop_id, item.order.order_id, kind) in recorded:
            continue  # the same order under another event id: recorded once already
        # Its own span, so that the events it publishes continue the order's trace.
        with traced(index):
            subscription = await _apply_one(session, outbox, item, subscriptions, extras, batch)
        if subscription is not None:
            recorded.add((item.order.webshop_id, item.order.order_id, kind))
    await session.flush()
    await batch.ledger.flush(session)
    await batch.timeline.flush(session)
    del catalog
    if extras:
        await session.execute(
            delete(SubscriptionExtra).where(SubscriptionExtra.subscription_id.in_(list(extras)))
        )
        now = utcnow()
        session.add_all(
            SubscriptionExtra(
                subscription_id=subscription.id,
                product_id=extra.id,
                plan_id=None,
                expires_at=None,
                added_at=now,
            )
            for subscription, products in extras.values()
            for extra in products
        )


@dataclass(frozen=True)
class _Batch:
    """What `apply_orders` writes with one Core insert each at the end of its run."""

    timeline: events.Timeline
    ledger: LedgerBatch


async def _apply_one(
    session: AsyncSession,
    outbox: EventSink,
    item: PlacedOrder,
    subscriptions: dict[str, Subscription],
    extras: dict[str, tuple[Subscription, list[Product]]],
    batch: _Batch,
) -> Subscription | None:
    """One order of `apply_orders`: the subscription it opened, renewed or changed, or None
    when it was refused (subscription.rejected). Its ledger entries and timeline line wait in
    `batch`; nothing is flushed here but the ledger before a trial check, which reads it."""
    customer_id, order, payment = item.customer_id, item.order, item.payment
    paid = Paid(payment.amount, payment.currency, payment.paid_at) if payment else None
    try:
        sale = await resolve_sale(session, order, paid)
        if sale.product.subscription_type == "trial":
            # An earlier order of this batch may have been the customer's trial.
            await batch.ledger.flush(session)
        # A webshop (or the customer's first sale) never repeats a trial.
        reason = await repeated_trial(session, customer_id, sale.product)
        if reason:
            raise OrderRefused(reason, "product_id")
    except OrderRefused as refused:
        await outbox.add(
            session,
            SubscriptionRejectedV1(
                customer_id=customer_id,
                order_id=order.order_id,
                reason=refused.reason,
                code=refused.code,
            ),
            topic=topics.BILLING_EVENTS,
            key=customer_id,
            subject=customer_id,
        )
        return None
    now = utcnow()
    subscription = subscriptions.get(customer_id)
    action: Literal["opened", "renewed", "changed"]
    period_from = now
    if subscription is None:
        action = "opened"
        subscription = Subscription(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            created_at=now,
            cancel_at_period_end=False,
            version=0,
        )
        session.add(subscription)
        subscriptions[customer_id] = subscription
        starts_at, expires_at, status = fresh_period(sale.product, sale.plan, now)
    elif subscription.product_id == sale.product.id and subscription.status in (
        "active",
        "trial",
        "expired",
        "cancelled",
    ):
        action = "renewed"
        period_from = renewal_base(subscription, now)
        starts_at = subscription.starts_at if subscription.status in ("active", "trial") else now
        expires_at = add_period(period_from, sale.plan.length, sale.plan.unit)
        status = running_status(sale.product)
    else:
        action = "changed"
        starts_at, expires_at, status = fresh_period(sale.product, sale.plan, now)
    subscription.webshop_id = sale.webshop.id
    subscription.product_id = sale.product.id
    subscription.plan_id = sale.plan.id
    subscription.status = status
    subscription.starts_at = starts_at
    subscription.expires_at = expires_at
    subscription.next_product_id = subscription.next_plan_id = None
    subscription.next_extra_product_ids = None
    subscription.cancel_at_period_end = False
    subscription.updated_at = now
    subscription.version = (subscription.version or 0) + 1
    # The extras' rows are replaced once for the batch (the last order of a subscription wins).
    extras[subscription.id] = (subscription, sale.extras)
    subscription.extra_product_ids = [e.id for e in sale.extras]

    if payment:
        amount, currency = payment.amount, payment.currency
        source: Literal["webshop", "operator"] = "webshop"
        reference, recorded_at = payment.reference, payment.paid_at
    else:
        amount, currency = price_of(sale.plan, sale.webshop)
        source, reference, recorded_at = "operator", None, now
    summary = f"{action} {sale.product.name}, {sale.plan.name}"
    # A webshop sale is both: what was sold (the charge) and that it was paid (the payment),
    # so the customer owes nothing for it; an operator's sale is owed until paid.
    kinds: tuple[LedgerKind, ...] = ("charge", "payment") if payment else ("charge",)
    entries = [
        ledger_entry(
            customer_id=customer_id,
            subscription_id=subscription.id,
            kind=entry_kind,
            amount=amount,
            currency=currency,
            source=source,
            webshop_id=order.webshop_id,
            order_id=order.order_id,
            reference=reference,
            description=summary if entry_kind == "charge" else f"paid through {source}",
            recorded_at=recorded_at,
            plan_id=sale.plan.id,
            period_starts_at=period_from if expires_at else None,
            period_ends_at=expires_at,
        )
        for entry_kind in kinds
    ]
    for entry in entries:
        batch.ledger.add(entry)
    if payment is None:
        settled = await settle(session, outbox, entries[0], order.operator_payment)
        if settled is not None:
            entries.append(settled)
    await events.activated(
        session,
        outbox,
        subscription,
        sale.product,
        action,
        at=now,
        summary=f"Subscription {summary}",
        order_id=order.order_id,
        timeline=batch.timeline,
    )
    for entry in entries:
        await events.transaction_recorded(session, outbox, entry)
    return subscription


def running_status(product: Product) -> Literal["trial", "active"]:
    return "trial" if product.subscription_type == "trial" else "active"


def renewal_base(subscription: Subscription, now: datetime) -> datetime:
    """A renewal adds to the current expiry, or to now when that has passed (or never was)."""
    if subscription.status in ("active", "trial") and subscription.expires_at:
        return max(now, subscription.expires_at)
    return now


def fresh_period(
    product: Product, plan: Plan, now: datetime
) -> tuple[datetime | None, datetime | None, str]:
    if product.starts_on_first_login:
        return None, None, "pending"
    expires_at = add_period(now, plan.length, plan.unit)
    return now, expires_at, running_status(product)


async def find_subscription(session: AsyncSession, customer_id: str) -> Subscription | None:
    return await session.scalar(select(Subscription).where(Subscription.customer_id == customer_id))


async def subscription_public(
    session: AsyncSession, subscription: Subscription
) -> SubscriptionPublic:
    product = await session.get(Product, subscription.product_id)
    extras = (
        await session.scalars(
            select(SubscriptionExtra)
            .where(SubscriptionExtra.subscription_id == subscription.id)
            .order_by(SubscriptionExtra.added_at, SubscriptionExtra.product_id)
        )
    ).all()
    scheduled = None
    if subscription.next_product_id and subscription.next_plan_id:
        scheduled = ScheduledChange(
            product_id=subscription.next_product_id,
            plan_id=subscription.next_plan_id,
            extra_product_ids=list(subscription.next_extra_product_ids or []),
            starts_at=subscription.expires_at,
        )
    return SubscriptionPublic(
        id=subscription.id,
        customer_id=subscription.customer_id,
        webshop_id=subscription.webshop_id,
        product_id=subscription.product_id,
        plan_id=subscription.plan_id,
        extra_product_ids=list(subscription.extra_product_ids or []),
        status=subscription.status,
        starts_at=subscription.starts_at,
        expires_at=subscription.expires_at,
        max_devices=product.max_devices if product else 0,
        device_policy=product.device_policy if product else None,
        starts_on_first_login=product.starts_on_first_login if product else False,
        extras=[
            ExtraPublic(product_id=e.product_id, plan_id=e.plan_id, expires_at=e.expires_at)
            for e in extras
        ],
        cancel_at_period_end=subscription.cancel_at_period_end,
        scheduled_change=scheduled,
    )


async def get_subscription(session: AsyncSession, customer_id: str) -> SubscriptionPublic:
    subscription = await find_subscription(session, customer_id)
    if subscription is None:
        raise Problem(404, "No subscription", f"customer {customer_id} has no subscription")
    return await subscription_public(session, subscription)


# --- ledger ----------------------------------------------------------------------------------


def transaction_public(
    entry: LedgerTransaction, *, balance_after: Decimal | None = None
) -> TransactionPublic:
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
        plan_id=entry.plan_id,
        period_starts_at=entry.period_starts_at,
        period_ends_at=entry.period_ends_at,
        recorded_at=entry.recorded_at,
        balance_after=balance_after,
    )


TRANSACTIONS = Keyset("billing.transactions", tuple[datetime, str])


async def list_transactions(
    session: AsyncSession, customer_id: str, *, limit: int = 50, cursor: str | None = None
) -> TransactionPage:
    """Newest first, keyset-paged on (recorded_at, id); the balance covers the whole ledger and
    each entry carries what was owed right after it (the running balance)."""
    query = select(LedgerTransaction).where(LedgerTransaction.customer_id == customer_id)
    after: tuple[datetime, str] | None = None
    if cursor:
        after = TRANSACTIONS.decode(cursor)
        columns = (LedgerTransaction.recorded_at, LedgerTransaction.id)
        query = query.where(TRANSACTIONS.where(cursor, columns, descending=True))
    rows = (
        await session.scalars(
            query.order_by(LedgerTransaction.recorded_at.desc(), LedgerTransaction.id.desc()).limit(
                limit + 1
            )
        )
    ).all()
    page, next_cursor = TRANSACTIONS.cut(rows, limit, lambda r: (r.recorded_at, r.id))
    owed = await balance(session, customer_id)
    # The cursor is the previous page's last entry: it and everything newer are above this page.
    newer = await balance(session, customer_id, since=after) if after else {}
    return TransactionPage(
        items=[
            transaction_public(entry, balance_after=running)
            for entry, running in zip(page, running_balances(page, owed, newer), strict=True)
        ],
        next_cursor=next_cursor,
        balance=owed,
    )


# How each kind moves what the customer owes: a charge (and money handed back by a refund)
# adds to it, a payment and a credit take from it; an adjustment only records an event.
OWED_SIGN: dict[str, int] = {"charge": 1, "refund": 1, "payment": -1, "credit": -1, "adjustment": 0}


async def balance(
    session: AsyncSession, customer_id: str, *, since: tuple[datetime, str] | None = None
) -> dict[str, Decimal]:
    """What the customer owes, per currency (negative: in credit); `since` sums only the entries
    from that (recorded_at, id) on, which the running balance of a later page needs."""
    query = select(
        LedgerTransaction.currency, LedgerTransaction.kind, func.sum(LedgerTransaction.amount)
    ).where(LedgerTransaction.customer_id == customer_id)
    if since is not None:
        at, first_id = since
        query = query.where(
            or_(
                LedgerTransaction.recorded_at > at,
                (LedgerTransaction.recorded_at == at) & (LedgerTransaction.id >= first_id),
            )
        )
    rows = (
        await session.execute(query.group_by(LedgerTransaction.currency, LedgerTransaction.kind))
    ).all()
    totals: dict[str, Decimal] = {}
    for currency, kind, total in rows:
        totals[currency] = totals.get(currency, Decimal(0)) + OWED_SIGN[kind] * Decimal(total)
    return totals


def running_balances(
    entries: list[LedgerTransaction], owed_now: dict[str, Decimal], owed_newer: dict[str, Decimal]
) -> list[Decimal]:
    """What was owed in each entry's currency right after it, for entries newest first:
    the balance now, less everything newer than the page, less each entry above it."""
    after = {c: owed_now.get(c, Decimal(0)) - owed_newer.get(c, Decimal(0)) for c in owed_now}
    result = []
    for entry in entries:
        current = after.get(entry.currency, Decimal(0))
        result.append(current)
        after[entry.currency] = current - OWED_SIGN[entry.kind] * entry.amount
    return result
