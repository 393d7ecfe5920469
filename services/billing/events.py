"""Billing's events, each written to the outbox together with a line of subscription history
(the timeline), so what other services learn and what the timeline shows never disagree."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import LedgerTransaction, Product, Subscription, SubscriptionHistory
from services.contracts import topics
from services.contracts.billing import (
    SubscriptionAction,
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
    SubscriptionExpiringV1,
    TransactionRecordedV1,
)
from services.contracts.envelope import EventData
from services.runtime.outbox import EventSink

HISTORY = cast(Table, SubscriptionHistory.__table__)


class Timeline:
    """A batch's history lines, written by one multi-row INSERT before the batch commits: a
    month end's thousands of lines cost rows of one statement, not an ORM object (and the
    session's flush bookkeeping) each. Pass it where the batch's events are published."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def add(
        self, customer_id: str, *, kind: str, summary: str, ref: str | None, at: datetime
    ) -> None:
        self.lines.append(
            {
                "id": str(uuid.uuid4()),
                "customer_id": customer_id,
                "kind": kind,
                "summary": summary[:500],
                "ref": ref,
                "at": at,
            }
        )

    async def flush(self, session: AsyncSession) -> None:
        if self.lines:
            # A list of parameters: one statement compiled once, sent as multi-row VALUES.
            await session.execute(insert(HISTORY), self.lines)
            self.lines = []


async def _publish(
    session: AsyncSession,
    outbox: EventSink,
    data: EventData,
    customer_id: str,
    *,
    kind: str,
    summary: str,
    ref: str | None,
    at: datetime,
    timeline: Timeline | None = None,
) -> None:
    await outbox.add(
        session, data, topic=topics.BILLING_EVENTS, key=customer_id, subject=customer_id
    )
    if timeline is not None:
        timeline.add(customer_id, kind=kind, summary=summary, ref=ref, at=at)
        return
    session.add(
        SubscriptionHistory(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            kind=kind,
            summary=summary[:500],
            ref=ref,
            at=at,
        )
    )


async def activated(
    session: AsyncSession,
    outbox: EventSink,
    subscription: Subscription,
    product: Product,
    action: SubscriptionAction,
    *,
    at: datetime,
    summary: str,
    order_id: str | None = None,
    timeline: Timeline | None = None,
) -> None:
    """subscription.activated.v1 with the whole summary, whatever the action."""
    data = SubscriptionActivatedV1(
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        order_id=order_id,
        action=action,
        webshop_id=subscription.webshop_id,
        product_id=subscription.product_id,
        plan_id=subscription.plan_id,
        extra_product_ids=list(subscription.extra_product_ids or []),
        status=subscription.status,
        starts_at=subscription.starts_at,
        expires_at=subscription.expires_at,
        max_devices=product.max_devices,
        device_policy=product.device_policy,
        starts_on_first_login=product.starts_on_first_login,
    )
    await _publish(
        session,
        outbox,
        data,
        subscription.customer_id,
        kind=f"subscription.{action}",
        summary=summary,
        ref=subscription.id,
        at=at,
        timeline=timeline,
    )


async def cancelled(
    session: AsyncSession,
    outbox: EventSink,
    subscription: Subscription,
    *,
    at: datetime,
    reason: str | None,
) -> None:
    data = SubscriptionCancelledV1(
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        product_id=subscription.product_id,
        cancelled_at=at,
        reason=reason,
    )
    summary = f"Subscription to {subscription.product_id} cancelled" + (
        f": {reason}" if reason else ""
    )
    await _publish(
        session,
        outbox,
        data,
        subscription.customer_id,
        kind="subscription.cancelled",
        summary=summary,
        ref=subscription.id,
        at=at,
    )


async def expired(
    session: AsyncSession,
    outbox: EventSink,
    subscription: Subscription | Row[Any],
    *,
    at: datetime,
    timeline: Timeline | None = None,
) -> None:
    """subscription.expired.v1; `subscription` may be the scheduler's claimed row (the same
    attribute names)."""
    assert subscription.expires_at is not None
    data = SubscriptionExpiredV1(
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        product_id=subscription.product_id,
        expired_at=subscription.expires_at,
    )
    await _publish(
        session,
        outbox,
        data,
        subscription.customer_id,
        kind="subscription.expired",
        summary=f"Subscription to {subscription.product_id} expired",
        ref=subscription.id,
        at=at,
        timeline=timeline,
    )


async def expiring(
    session: AsyncSession,
    outbox: EventSink,
    subscription: Subscription | Row[Any],
    *,
    at: datetime,
    days_left: int,
    timeline: Timeline | None = None,
) -> None:
    assert subscription.expires_at is not None
    data = SubscriptionExpiringV1(
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        product_id=subscription.product_id,
        expires_at=subscription.expires_at,
        days_left=days_left,
    )
    await _publish(
        session,
        outbox,
        data,
        subscription.customer_id,
        kind="subscription.expiring",
        summary=f"Subscription to {subscription.product_id} expires in {days_left} days",
        ref=subscription.id,
        at=at,
        timeline=timeline,
    )


async def transaction_recorded(
    session: AsyncSession, outbox: EventSink, entry: LedgerTransaction
) -> None:
    """The ledger entry itself is the timeline's record of it; only the event is added."""
    await outbox.add(
        session,
        TransactionRecordedV1(
            customer_id=entry.customer_id,
            transaction_id=entry.id,
            kind=entry.kind,
            amount=entry.amount,
            currency=entry.currency,
            order_id=entry.order_id,
            recorded_at=entry.recorded_at,
        ),
        topic=topics.BILLING_EVENTS,
        key=entry.customer_id,
        subject=entry.customer_id,
    )
