"""The ledger's sums are exact, invoices group an order's entries, the timeline and /stats read
the same books."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from services.billing import reports, service, subscriptions
from services.billing.models import LedgerTransaction
from services.billing.schemas import CancelIn, RenewIn
from services.billing.tests._setup import CUSTOMER, NOW, open_subscription
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


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
    # Owed: 500 charges of 0.0033 less 500 payments of 0.01, exactly (a float gives
    # -3.3499999...); revenue is what was sold, the charges.
    assert balance == {"EUR": Decimal("-3.35")}
    assert sum(d.amount for d in stats.revenue_per_day) == Decimal("1.65")


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


def _entry(kind: str, amount: str, currency: str, at: datetime) -> LedgerTransaction:
    return LedgerTransaction(
        id=str(uuid.uuid4()),
        customer_id=CUSTOMER,
        subscription_id=None,
        kind=kind,
        amount=Decimal(amount),
        currency=currency,
        source="operator",
        webshop_id=None,
        order_id=None,
        reference=None,
        description="stats",
        recorded_at=at,
    )


async def test_stats_is_one_exact_group_by_per_utc_day_and_currency(db: Database) -> None:
    day_one = NOW.replace(hour=0, minute=0)  # 2025-01-01 00:00 UTC
    entries = (
        # 0.1 ten times: a float sum is 0.9999999999999999.
        [_entry("charge", "0.1", "EUR", day_one + timedelta(minutes=i)) for i in range(10)]
        # 0.0001 and 0.0002 alternating: floats drift after a few hundred.
        + [
            _entry("charge", "0.0001" if i % 2 else "0.0002", "EUR", NOW + timedelta(seconds=i))
            for i in range(600)
        ]
        + [
            # Money moving (a payment, a refund) settles sales: it is not revenue again.
            _entry("payment", "0.5", "EUR", day_one + timedelta(minutes=30)),
            _entry("refund", "0.3", "EUR", day_one + timedelta(hours=1)),
            _entry("credit", "0.07", "EUR", day_one + timedelta(hours=2)),
            _entry("adjustment", "0", "EUR", day_one + timedelta(hours=3)),
            # The last microsecond of the day before, and a day in another currency.
            _entry("charge", "1234567.8901", "USD", day_one - timedelta(microseconds=1)),
            _entry("charge", "0.2", "USD", day_one - timedelta(days=2)),
            _entry("charge", "0.1", "USD", day_one - timedelta(days=2)),
            # Older than the 30 days (29 days before today's midnight is the first counted).
            _entry("charge", "99", "EUR", day_one - timedelta(days=29, microseconds=1)),
            _entry("charge", "5", "EUR", day_one - timedelta(days=29)),
        ]
    )
    async with db.transaction() as session:
        session.add_all(entries)
    floats = sum(float(e.amount) for e in entries[:610])
    assert floats != 1.09  # the drift the integer ten-thousandths avoid

    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.sessions() as session:
            result = await reports.stats(session, now=NOW)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert [(d.day, d.currency, d.amount) for d in result.revenue_per_day] == [
        ("2024-12-03", "EUR", Decimal("5.00")),
        ("2024-12-30", "USD", Decimal("0.30")),
        ("2024-12-31", "USD", Decimal("1234567.8901")),
        ("2025-01-01", "EUR", Decimal("1.02")),  # charges 1.00 + 0.09, less the credit 0.07
    ]
    # The revenue is one read (the trial-conversion figure reads the ledger's plans apart).
    ledger_reads = [s for s in statements if "ledger_transaction.amount" in s]
    assert len(ledger_reads) == 1 and "GROUP BY" in ledger_reads[0]


def _order_entry(kind: str, order_id: str, at: datetime, amount: str = "1.00") -> LedgerTransaction:
    entry = _entry(kind, amount, "EUR", at)
    entry.webshop_id = "shop-eu"
    entry.order_id = order_id
    entry.source = "webshop"
    return entry


async def test_invoice_pages_neither_repeat_nor_skip_while_entries_are_written(
    db: Database,
) -> None:
    # 12 orders, three of them sharing one moment (the id breaks the tie), plus two entries
    # without an order (each its own invoice).
    start = NOW - timedelta(days=10)
    async with db.transaction() as session:
        for i in range(12):
            at = start + timedelta(hours=i if i < 9 else 9)
            session.add(_order_entry("payment", f"order-{i}", at))
            session.add(_order_entry("charge", f"order-{i}", at + timedelta(seconds=1)))
        session.add_all(
            [
                _entry("credit", "0.50", "EUR", start + timedelta(hours=3, minutes=30)),
                _entry("charge", "0.70", "EUR", start + timedelta(hours=9)),
            ]
        )
    async with db.sessions() as session:
        everything = await reports.list_invoices(session, CUSTOMER, limit=500, cursor=None)
    assert everything.next_cursor is None and len(everything.items) == 14
    expected = [i.id for i in everything.items]

    seen: list[str] = []
    cursor: str | None = None
    for page_number in range(10):
        async with db.sessions() as session:
            page = await reports.list_invoices(session, CUSTOMER, limit=4, cursor=cursor)
        seen += [i.id for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # Between pages: a new order, and refunds joining an order already shown and one not
        # shown yet (they become lines of those invoices, which keep their place).
        async with db.transaction() as session:
            session.add(_order_entry("payment", f"new-{page_number}", NOW + timedelta(hours=1)))
            session.add(_order_entry("refund", f"order-{11 - page_number}", NOW, "0.10"))
            session.add(_order_entry("refund", f"order-{page_number}", NOW, "0.10"))
    assert seen == expected

    async with db.sessions() as session:
        final = await reports.list_invoices(session, CUSTOMER, limit=500, cursor=None)
    refunded = next(i for i in final.items if i.order_id == "order-0")
    assert [line.kind for line in refunded.lines] == ["payment", "charge", "refund"]
    # Sold 1.00, paid 1.00 of which 0.10 handed back: 0.10 owed (no credit took the sale back).
    assert (refunded.total, refunded.paid, refunded.due) == (
        Decimal("1.00"),
        Decimal("0.90"),
        Decimal("0.10"),
    )
    assert [line.amount for line in refunded.lines] == [
        Decimal("-1.00"),
        Decimal("1.00"),
        Decimal("0.10"),
    ]


async def test_a_cursor_the_list_did_not_give_out_is_a_problem(db: Database) -> None:
    async with db.sessions() as session:
        transactions = service.TRANSACTIONS.encode((datetime(2026, 1, 1, tzinfo=UTC), "x"))
        for cursor in ("12", "bm90IGpzb24", "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ", transactions):
            with pytest.raises(Problem) as raised:
                await reports.list_invoices(session, CUSTOMER, limit=5, cursor=cursor)
            assert raised.value.status == 422
            assert raised.value.extra == {
                "errors": [{"field": "cursor", "message": "not a cursor of this list"}]
            }


async def test_stats_count_subscriptions_expiring_ended_and_trials_converted(
    db: Database, outbox: Outbox
) -> None:
    from sqlalchemy import update

    from services.billing.models import Subscription

    converted, lapsed, soon, later = (str(uuid.uuid4()) for _ in range(4))
    # Sold a trial, then moved to a regular product: converted.
    await open_subscription(
        db, outbox, customer_id=converted, product_id="trial", plan_id="trial-7d"
    )
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.customer_id == converted)
            .values(
                product_id="basic",
                plan_id="basic-1m",
                status="active",
                expires_at=NOW + timedelta(days=20),
            )
        )
    # A trial that ran out 3 days ago: not converted, and ended recently.
    await open_subscription(
        db,
        outbox,
        customer_id=lapsed,
        product_id="trial",
        plan_id="trial-7d",
        status="expired",
        expires_at=NOW - timedelta(days=3),
    )
    await open_subscription(
        db, outbox, customer_id=soon, status="active", expires_at=NOW + timedelta(days=2)
    )
    await open_subscription(
        db, outbox, customer_id=later, status="active", expires_at=NOW + timedelta(days=40)
    )
    async with db.sessions() as session:
        result = await reports.stats(session, now=NOW)
    assert result.subscriptions_by_status == {"active": 3, "expired": 1}
    assert result.active_subscriptions == sum(
        result.subscriptions_by_status.get(s, 0) for s in ("active", "trial")
    )
    assert (result.expiring_soon, result.expiring_soon_days) == (1, 7)
    assert (result.ended_recently, result.ended_recently_days) == (1, 30)
    assert (result.trial_customers, result.trial_converted) == (2, 1)
