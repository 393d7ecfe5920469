"""The ledger's sums are exact, invoices group an order's entries, the timeline and /stats read
the same books."""

import uuid
from datetime import timedelta
from decimal import Decimal

from services.billing import reports, service, subscriptions
from services.billing.models import LedgerTransaction
from services.billing.schemas import CancelIn, RenewIn
from services.billing.tests._setup import CUSTOMER, NOW, open_subscription
from services.runtime.db import Database
from services.runtime.outbox import Outbox


async def test_many_small_amounts_sum_without_drift(db: Database) -> None:
    async with db.transaction() as session:
        for i in range(1000):
            session.add(
                LedgerTransaction(
                    id=str(uuid.uuid4()),
                    customer_id=CUSTOMER,
                    subscription_id=None,
                    kind="payment" if i % 2 else "charge",
                    amount=Decimal("0.01") if i % 2 else Decimal("0.0033"),
                    currency="EUR",
                    source="webshop",
                    webshop_id="shop-eu",
                    order_id=f"o-{i}",
                    reference=None,
                    description="tiny",
                    recorded_at=NOW - timedelta(seconds=i),
                )
            )
    async with db.sessions() as session:
        balance = await service.balance(session, CUSTOMER)
        stats = await reports.stats(session, now=NOW)
    # 500 payments of 0.01 less 500 charges of 0.0033, exactly (a float gives 3.3499999...).
    assert balance == {"EUR": Decimal("3.35")}
    assert sum(d.amount for d in stats.revenue_per_day) == Decimal("6.65")


async def test_invoices_timeline_and_stats_follow_the_actions(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    async with db.transaction() as session:
        await subscriptions.renew(
            session, outbox, CUSTOMER, RenewIn(product_id="basic", plan_id="basic-1m"), now=NOW
        )
    async with db.transaction() as session:
        await subscriptions.cancel(
            session,
            outbox,
            CUSTOMER,
            CancelIn(when="at_period_end"),
            now=NOW + timedelta(minutes=1),
        )
    async with db.sessions() as session:
        invoices = await reports.list_invoices(session, CUSTOMER, limit=2, cursor=None)
        rest = await reports.list_invoices(session, CUSTOMER, limit=2, cursor=invoices.next_cursor)
        timeline = await reports.timeline(session, CUSTOMER, limit=200)
        stats = await reports.stats(session, now=NOW + timedelta(hours=1))

    assert [i.total for i in invoices.items] == [Decimal("0"), Decimal("9.99")]
    assert rest.next_cursor is None and [i.total for i in rest.items] == [Decimal("9.99")]
    renewal = invoices.items[1]
    assert renewal.order_id.startswith("op-renew-")
    [line] = renewal.lines
    assert line.period_starts_at == NOW + timedelta(days=3)

    kinds = [i.kind for i in timeline.items]
    assert kinds[:4] == [
        "subscription.cancel_scheduled",
        "transaction.adjustment",
        "subscription.renewed",
        "transaction.charge",
    ]
    assert all(i.service == "billing" for i in timeline.items)
    assert [a.at for a in timeline.items] == sorted((a.at for a in timeline.items), reverse=True)

    assert stats.active_subscriptions == 1
    assert [(d.day, d.amount) for d in stats.revenue_per_day] == [
        ("2024-12-31", Decimal("9.99")),
        ("2025-01-01", Decimal("9.99")),
    ]
