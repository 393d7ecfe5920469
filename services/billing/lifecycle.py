"""What billing does on others' events: start a first-login product on the first device
connection, record a webshop refund (shortening or ending the period), follow the customer to
another webshop, erase a customer."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, select, tuple_, update
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
from services.runtime.outbox import EventSink, Outbox


class RefundRefused(PoisonMessage):
    """A refund its order does not allow (another currency, more than is left of the payment)."""


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
    session: AsyncSession, outbox: EventSink, refund: OrderRefundedV1, *, now: datetime
) -> None:
    """Record an order's refund once (a resend has the same amount and refunded_at) and shorten
    the period in proportion; a full refund of the current period ends it now
    (subscription.cancelled.v1). A refund of an order not recorded yet is parked until it is.
    One in another currency than the payment, above it, or after the order's refund raises
    RefundRefused (the consumer dead-letters it with the reason)."""
    paid = await session.scalar(
        select(LedgerTransaction)
        .where(
            LedgerTransaction.webshop_id == refund.webshop_id,
            LedgerTransaction.order_id == refund.order_id,
            LedgerTransaction.kind.in_(("payment", "charge")),
        )
        # What was paid, if the order was paid; else what was charged.
        .order_by(case((LedgerTransaction.kind == "payment", 0), else_=1))
        .limit(1)
    )
    if paid is None:
        # The order travels through customers first and may not be here yet: park the refund
        # until it is (release_parked_refund), rather than fail or drop it.
        key = (refund.webshop_id, refund.order_id)
        waiting = await session.get(ParkedRefund, key)
        if waiting is None:
            session.add(
                ParkedRefund(
                    webshop_id=refund.webshop_id,
                    order_id=refund.order_id,
                    payload=refund.model_dump_json(),
                    received_at=now,
                )
            )
        elif OrderRefundedV1.model_validate_json(waiting.payload) != refund:
            # One refund per order, as in the ledger: a second one is refused out loud.
            parked = OrderRefundedV1.model_validate_json(waiting.payload)
            raise RefundRefused(
                f"a refund of {parked.amount} {parked.currency} for order {refund.order_id} "
                f"is waiting for the order already; a second refund of {refund.amount} "
                f"{refund.currency} is refused (one refund per order)"
            )
        return
    earlier = await session.scalar(
        select(LedgerTransaction).where(
            LedgerTransaction.webshop_id == refund.webshop_id,
            LedgerTransaction.order_id == refund.order_id,
            LedgerTransaction.kind == "refund",
        )
    )
    refunded_at = to_utc(refund.refunded_at)
    if earlier is not None:
        if earlier.recorded_at == refunded_at and earlier.amount == refund.amount:
            return  # the same refund resent under another event id: recorded once already
        # The ledger keeps one refund per order (uq_ledger_order_kind); a second one, even
        # within what is left, is refused out loud rather than dropped.
        raise RefundRefused(
            f"order {refund.order_id} was refunded {earlier.amount} {earlier.currency} "
            f"already; a second refund of {refund.amount} {refund.currency} is refused "
            f"(one refund per order, {paid.amount - earlier.amount} left of the payment)"
        )
    if refund.currency != paid.currency:
        raise RefundRefused(f"refund in {refund.currency} of an order paid in {paid.currency}")
    if refund.amount > paid.amount:
        raise RefundRefused(
            f"refund of {refund.amount} {refund.currency} exceeds the {paid.amount} paid "
            f"for order {refund.order_id}"
        )
    reason = f": {refund.reason}" if refund.reason else ""
    # Two entries keep the balance right: the money handed back (refund, owed again) and the
    # sale taken back for that amount (credit, owed no more).
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
        recorded_at=refunded_at,
        plan_id=paid.plan_id,
        period_starts_at=paid.period_starts_at,
        period_ends_at=paid.period_ends_at,
    )
    taken_back = await record_entry(
        session,
        outbox,
        customer_id=paid.customer_id,
        subscription_id=paid.subscription_id,
        kind="credit",
        amount=refund.amount,
        currency=refund.currency,
        source="webshop",
        webshop_id=refund.webshop_id,
        order_id=refund.order_id,
        reference=refund.reason,
        description=f"sale of order {refund.order_id} taken back for the refund",
        recorded_at=refunded_at,
        plan_id=paid.plan_id,
        period_starts_at=paid.period_starts_at,
        period_ends_at=paid.period_ends_at,
    )
    await events.transaction_recorded(session, outbox, entry)
    await events.transaction_recorded(session, outbox, taken_back)
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


@dataclass(frozen=True)
class RefusedParkedRefund:
    """A parked refund that its order, once recorded, did not allow; it goes to the DLQ."""

    payload: str
    order_id: str
    reason: str


async def parked_refunds(
    session: AsyncSession, orders: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (webshop, order id) have a refund waiting, read with one select (the
    rows stay in the session for `release_parked_refund`)."""
    if not orders:
        return set()
    found = await session.scalars(
        select(ParkedRefund).where(
            tuple_(ParkedRefund.webshop_id, ParkedRefund.order_id).in_(set(orders))
        )
    )
    return {(p.webshop_id, p.order_id) for p in found}


async def release_parked_refund(
    session: AsyncSession, outbox: EventSink, webshop_id: str, order_id: str, *, now: datetime
) -> RefusedParkedRefund | None:
    """Apply a refund that was waiting for this order, now that the order is recorded. One the
    order does not allow is handed back to be dead-lettered: the record being handled is the
    order, which must not go to the dead-letter topic for the refund's fault."""
    parked = await session.get(ParkedRefund, (webshop_id, order_id))
    if parked is None:
        return None
    await session.delete(parked)
    try:
        await record_refund(
            session, outbox, OrderRefundedV1.model_validate_json(parked.payload), now=now
        )
    except RefundRefused as refused:
        return RefusedParkedRefund(parked.payload, order_id, str(refused))
    return None


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
