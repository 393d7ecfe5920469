"""Helpers of billing's tests: a subscription opened through an order, then put at known dates."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from services.billing import models, service
from services.billing.models import LedgerTransaction, Subscription, SubscriptionHistory
from services.contracts.customers import SubscriptionOrder
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import OutboxRow, outbox_rows

CUSTOMER = "3f0c2b8e-1d7a-4c55-9e21-5b7d8c9a0001"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


async def open_subscription(
    db: Database,
    outbox: Outbox,
    *,
    customer_id: str = CUSTOMER,
    product_id: str = "basic",
    plan_id: str = "basic-1m",
    webshop_id: str = "shop-eu",
    extras: tuple[str, ...] = (),
    **dates: Any,
) -> None:
    """Open the subscription as an operator sale, then set its columns (`expires_at`, ...)."""
    async with db.transaction() as session:
        await service.apply_order(
            session,
            outbox,
            customer_id=customer_id,
            order=SubscriptionOrder(
                order_id=f"open-{customer_id}",
                webshop_id=webshop_id,
                product_id=product_id,
                plan_id=plan_id,
                extra_product_ids=list(extras),
            ),
            payment=None,
        )
        if dates:
            await session.execute(
                update(Subscription).where(Subscription.customer_id == customer_id).values(**dates)
            )
        # The sale happened before NOW, the fixed "now" the tests act at.
        await session.execute(
            update(LedgerTransaction)
            .where(LedgerTransaction.customer_id == customer_id)
            .values(recorded_at=NOW - timedelta(days=1))
        )
        await session.execute(
            update(SubscriptionHistory)
            .where(SubscriptionHistory.customer_id == customer_id)
            .values(at=NOW - timedelta(days=1))
        )
        await session.execute(models.outbox.delete())


async def subscription(db: Database, customer_id: str = CUSTOMER) -> Subscription:
    async with db.sessions() as session:
        found = await session.scalar(
            select(Subscription).where(Subscription.customer_id == customer_id)
        )
    assert found is not None
    return found


async def ledger(db: Database, customer_id: str = CUSTOMER) -> list[LedgerTransaction]:
    async with db.sessions() as session:
        query = select(LedgerTransaction).where(LedgerTransaction.customer_id == customer_id)
        rows = await session.scalars(
            query.order_by(LedgerTransaction.recorded_at, LedgerTransaction.id)
        )
        return list(rows.all())


async def sent(db: Database) -> list[OutboxRow]:
    return await outbox_rows(db, models.outbox)


def types(rows: list[OutboxRow]) -> list[str]:
    return [r.type for r in rows]
