"""What billing does on others' events: start a first-login product on the first device
connection, record a webshop refund (shortening or ending the period), erase a customer."""

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import events
from services.billing.models import (
    LedgerTransaction,
    ParkedRefund,
    Plan,
    Product,
    Subscription,
    SubscriptionExtra,
    SubscriptionHistory,
    idempotency_record,
)
from services.billing.periods import add_period, to_utc
from services.billing.service import find_subscription, record_entry, running_status
from services.contracts.webshop import OrderRefundedV1
from services.runtime.consumer import PoisonMessage
from services.runtime.idempotency import forget_customer
from services.runtime.outbox import Outbox


async def start_on_first_login(
    session: AsyncSession, outbox: Outbox, customer_id: str, connected_at: datetime
) -> bool:
    """A pending first-login subscription starts with the first device connection."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id).with_for_update()
    )
    if subscription is None or subscription.status != "pending":
        return False
    product = await session.get(Product, subscription.product_id)
    plan = await session.get(Plan, subscription.plan_id)
    if product is None or plan is None or not product.starts_on_first_login:
        return False
    started = to_utc(connected_at)
    subscription.starts_at = started
    subscription.expires_at = add_period(started, plan.length, plan.unit)
    subscription.status = running_status(product)
    subscription.version += 1
    subscription.updated_at = started
    await events.activated(
        session,
        outbox,
        subscription,
        product,
        "started",
        at=started,
        summary=f"{product.name} started with the first device connection",
    )
    return True


async def record_refund(
    session: AsyncSession, outbox: Outbox, refund: OrderRefundedV1, *, now: datetime
) -> None:
    """Record the refund once per order and shorten the period in proportion; a full refund of
    the current period ends it now (subscription.cancelled.v1). A refund of an order not
    recorded yet is parked until it is."""
    paid = await session.scalar(
        select(LedgerTransaction).where(
            LedgerTransaction.webshop_id == refund.webshop_id,
            LedgerTransaction.order_id == refund.order_id,
            LedgerTransaction.kind.in_(("payment", "charge")),
        )
    )
    if paid is None:
        # The order travels through customers first and may not be here yet: park the refund
        # until it is (release_parked_refund), rather than fail or drop it.
        key = (refund.webshop_id, refund.order_id)
        if await session.get(ParkedRefund, key) is None:
            session.add(
                ParkedRefund(
                    webshop_id=refund.webshop_id,
                    order_id=refund.order_id,
                    payload=refund.model_dump_json(),
                    received_at=now,
                )
            )
        return
    already = await session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.webshop_id == refund.webshop_id,
            LedgerTransaction.order_id == refund.order_id,
            LedgerTransaction.kind == "refund",
        )
    )
    if already is not None:
        return
    if refund.currency != paid.currency:
        raise PoisonMessage(f"refund in {refund.currency} of an order paid in {paid.currency}")
    if refund.amount > paid.amount:
        raise PoisonMessage(f"refund of {refund.amount} exceeds the {paid.amount} paid")
    reason = f": {refund.reason}" if refund.reason else ""
    entry = await record_entry(
        session,
        outbox,
        customer_id=paid.customer_id,
        subscription_id=paid.subscription_id,
        kind="refund",
        amount=refund.amount,
        currency=refund.currency,
        source="webshop",
        webshop_id=refund.webshop_id,
        order_id=refund.order_id,
        reference=refund.reason,
        description=f"refund of order {refund.order_id}{reason}",
        recorded_at=to_utc(refund.refunded_at),
        plan_id=paid.plan_id,
        period_starts_at=paid.period_starts_at,
        period_ends_at=paid.period_ends_at,
    )
    await events.transaction_recorded(session, outbox, entry)
    subscription = await find_subscription(session, paid.customer_id)
    if (
        subscription is None
        or subscription.status not in ("active", "trial")
        or subscription.expires_at is None
        or paid.period_starts_at is None
        or paid.period_ends_at is None
        or paid.amount <= 0
    ):
        return
    share = refund.amount / paid.amount
    taken = (paid.period_ends_at - paid.period_starts_at) * float(share)
    expires_at = subscription.expires_at - taken
    subscription.version += 1
    subscription.updated_at = now
    if expires_at <= now:
        subscription.status = "cancelled"
        subscription.expires_at = now
        await events.cancelled(
            session, outbox, subscription, at=now, reason=f"order {refund.order_id} refunded"
        )
        return
    subscription.expires_at = expires_at
    product = await session.get(Product, subscription.product_id)
    assert product is not None
    await events.activated(
        session,
        outbox,
        subscription,
        product,
        "refunded",
        at=now,
        summary=f"Order {refund.order_id} refunded: the period now ends {expires_at:%Y-%m-%d}",
        order_id=refund.order_id,
    )


async def release_parked_refund(
    session: AsyncSession, outbox: Outbox, webshop_id: str, order_id: str, *, now: datetime
) -> None:
    """Apply a refund that was waiting for this order, now that the order is recorded."""
    parked = await session.get(ParkedRefund, (webshop_id, order_id))
    if parked is None:
        return
    await session.delete(parked)
    await record_refund(
        session, outbox, OrderRefundedV1.model_validate_json(parked.payload), now=now
    )


async def erase_customer(session: AsyncSession, customer_id: str) -> None:
    """Keep the ledger's amounts under a random pseudonym; drop everything else of the person.

    Afterwards the customer's subscription is 404 and their transactions, invoices and
    timeline are empty lists. A replay finds nothing left to change.
    """
    pseudonym = f"erased-{uuid.uuid4()}"
    await session.execute(
        update(LedgerTransaction)
        .where(LedgerTransaction.customer_id == customer_id)
        .values(
            customer_id=pseudonym,
            reference=None,
            # Operators' free-text reasons may name the person; the kind and amount remain.
            description="entry of an erased customer",
        )
        .execution_options(synchronize_session=False)
    )
    ids = (
        await session.scalars(
            select(Subscription.id).where(Subscription.customer_id == customer_id)
        )
    ).all()
    if ids:
        await session.execute(
            delete(SubscriptionExtra).where(SubscriptionExtra.subscription_id.in_(ids))
        )
        await session.execute(delete(Subscription).where(Subscription.id.in_(ids)))
    await session.execute(
        delete(SubscriptionHistory).where(SubscriptionHistory.customer_id == customer_id)
    )
    await forget_customer(session, idempotency_record, customer_id)
