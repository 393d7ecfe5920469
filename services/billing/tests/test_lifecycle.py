"""Billing on others' events: first-login start, webshop refunds, erasure; and idempotent HTTP
writes."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update

from services.billing import lifecycle, reports, service
from services.billing.models import Product
from services.billing.tests._setup import (
    CUSTOMER,
    NOW,
    ledger,
    open_subscription,
    sent,
    subscription,
    types,
)
from services.contracts.customers import OrderPayment, SubscriptionOrder
from services.contracts.webshop import OrderRefundedV1
from services.runtime.consumer import PoisonMessage
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


async def test_first_login_product_starts_on_the_first_connection(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Product).where(Product.id == "trial").values(starts_on_first_login=True)
        )
    await open_subscription(db, outbox, product_id="trial", plan_id="trial-7d")
    assert (await subscription(db)).status == "pending"
    connected = datetime(2025, 1, 5, 10, 0, tzinfo=UTC)
    async with db.transaction() as session:
        assert await lifecycle.start_on_first_login(session, outbox, CUSTOMER, connected)
    async with db.transaction() as session:
        assert not await lifecycle.start_on_first_login(session, outbox, CUSTOMER, connected)
    sub = await subscription(db)
    assert (sub.status, sub.starts_at, sub.expires_at) == (
        "trial",
        connected,
        connected + timedelta(days=7),
    )
    [started] = await sent(db)
    assert started.data["action"] == "started" and started.data["starts_on_first_login"]


async def _paid_order(db: Database, outbox: Outbox, amount: str) -> None:
    async with db.transaction() as session:
        await service.apply_order(
            session,
            outbox,
            customer_id=CUSTOMER,
            order=SubscriptionOrder(
                order_id="web-1", webshop_id="shop-eu", product_id="basic", plan_id="basic-12m"
            ),
            payment=OrderPayment(
                amount=Decimal(amount),
                currency="EUR",
                paid_at=NOW,
                provider="card",
                reference="pay-1",
            ),
        )


def refund(amount: str, currency: str = "EUR", day: int = 1) -> OrderRefundedV1:
    return OrderRefundedV1(
        order_id="web-1",
        webshop_id="shop-eu",
        amount=Decimal(amount),
        currency=currency,
        refunded_at=NOW + timedelta(days=day),
        reason="unhappy",
    )


async def test_a_partial_refund_shortens_the_period_in_proportion(
    db: Database, outbox: Outbox
) -> None:
    await _paid_order(db, outbox, "99.00")
    before = await subscription(db)
    assert before.expires_at is not None and before.starts_at is not None
    period = before.expires_at - before.starts_at
    now = before.starts_at + timedelta(days=1)
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=now)
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=now)  # replayed
    after = await subscription(db)
    assert after.expires_at == before.expires_at - period / 2
    kinds = sorted((e.kind, e.amount) for e in await ledger(db))
    # The sale and its payment; the money handed back and the sale taken back for it.
    assert kinds == [
        ("charge", Decimal("99.00")),
        ("credit", Decimal("49.50")),
        ("payment", Decimal("99.00")),
        ("refund", Decimal("49.50")),
    ]
    activated = [r.data["action"] for r in await sent(db) if r.type == "subscription.activated.v1"]
    assert activated == ["opened", "refunded"]


async def test_a_full_refund_ends_the_subscription(db: Database, outbox: Outbox) -> None:
    await _paid_order(db, outbox, "99.00")
    now = (await subscription(db)).starts_at
    assert now is not None
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("99.00"), now=now)
    assert (await subscription(db)).status == "cancelled"
    assert "subscription.cancelled.v1" in types(await sent(db))


async def test_a_refund_before_its_order_waits_for_it(db: Database, outbox: Outbox) -> None:
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=NOW)
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=NOW)  # again
    assert await ledger(db) == []
    await _paid_order(db, outbox, "99.00")
    async with db.transaction() as session:
        await lifecycle.release_parked_refund(session, outbox, "shop-eu", "web-1", now=NOW)
    async with db.transaction() as session:
        await lifecycle.release_parked_refund(session, outbox, "shop-eu", "web-1", now=NOW)
    kinds = sorted((e.kind, e.amount) for e in await ledger(db))
    # The sale and its payment; the money handed back and the sale taken back for it.
    assert kinds == [
        ("charge", Decimal("99.00")),
        ("credit", Decimal("49.50")),
        ("payment", Decimal("99.00")),
        ("refund", Decimal("49.50")),
    ]


async def test_a_refund_in_another_currency_or_above_the_payment_is_poison(
    db: Database, outbox: Outbox
) -> None:
    await _paid_order(db, outbox, "99.00")
    with pytest.raises(PoisonMessage, match="USD"):
        async with db.transaction() as session:
            await lifecycle.record_refund(session, outbox, refund("1.00", "USD"), now=NOW)
    with pytest.raises(PoisonMessage, match="exceeds"):
        async with db.transaction() as session:
            await lifecycle.record_refund(session, outbox, refund("100.00"), now=NOW)


async def test_a_second_refund_of_an_order_is_refused_not_dropped(
    db: Database, outbox: Outbox
) -> None:
    await _paid_order(db, outbox, "99.00")
    now = (await subscription(db)).starts_at
    assert now is not None
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("60.00", day=1), now=now)
    with pytest.raises(lifecycle.RefundRefused, match=r"refunded 60.00 EUR already.*39.00 left"):
        async with db.transaction() as session:
            await lifecycle.record_refund(session, outbox, refund("39.00", day=2), now=now)
    async with db.transaction() as session:  # the first one resent: nothing new, no error
        await lifecycle.record_refund(session, outbox, refund("60.00", day=1), now=now)
    kinds = sorted((e.kind, e.amount) for e in await ledger(db))
    assert kinds == [
        ("charge", Decimal("99.00")),
        ("credit", Decimal("60.00")),
        ("payment", Decimal("99.00")),
        ("refund", Decimal("60.00")),
    ]


async def test_a_second_refund_waiting_for_its_order_is_refused_not_dropped(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=NOW)
    with pytest.raises(lifecycle.RefundRefused, match=r"49\.50 EUR for order web-1 is waiting"):
        async with db.transaction() as session:
            await lifecycle.record_refund(session, outbox, refund("20.00", day=2), now=NOW)
    async with db.transaction() as session:  # the first one resent: still waiting, no error
        await lifecycle.record_refund(session, outbox, refund("49.50"), now=NOW)


async def test_a_parked_refund_its_order_does_not_allow_is_handed_back(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await lifecycle.record_refund(session, outbox, refund("500.00"), now=NOW)
    await _paid_order(db, outbox, "99.00")
    async with db.transaction() as session:
        refused = await lifecycle.release_parked_refund(
            session, outbox, "shop-eu", "web-1", now=NOW
        )
    assert refused is not None and refused.order_id == "web-1"
    assert "refund of 500.00 EUR exceeds" in refused.reason
    assert OrderRefundedV1.model_validate_json(refused.payload) == refund("500.00")
    assert sorted(e.kind for e in await ledger(db)) == ["charge", "payment"]


async def test_erasure_keeps_amounts_and_drops_the_person(db: Database, outbox: Outbox) -> None:
    await _paid_order(db, outbox, "99.00")
    async with db.transaction() as session:
        await lifecycle.erase_customer(session, CUSTOMER)
    async with db.transaction() as session:
        await lifecycle.erase_customer(session, CUSTOMER)  # a replay changes nothing
    async with db.sessions() as session:
        with pytest.raises(Problem) as gone:
            await service.get_subscription(session, CUSTOMER)
        assert gone.value.status == 404
        page = await service.list_transactions(session, CUSTOMER)
        assert page.items == [] and page.balance == {}
        assert (await reports.timeline(session, CUSTOMER, limit=50)).items == []
        invoices = await reports.list_invoices(session, CUSTOMER, limit=10, cursor=None)
        assert invoices.items == []
        stats = await reports.stats(session, now=NOW)
    # The money stays in the books, under a pseudonym.
    assert [(d.currency, d.amount) for d in stats.revenue_per_day] == [("EUR", Decimal("99.00"))]


async def test_the_same_idempotency_key_answers_the_same_without_a_second_effect(
    db: Database, outbox: Outbox, api: httpx.AsyncClient
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))

    async def call(plan_id: str) -> httpx.Response:
        return await api.post(
            f"/customers/{CUSTOMER}/subscription/renew",
            json={"product_id": "basic", "plan_id": plan_id},
            headers={"Idempotency-Key": "key-1"},
        )

    first = await call("basic-1m")
    again = await call("basic-1m")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(await ledger(db)) == 2  # the opening sale and one renewal
    reused = await call("basic-12m")
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_concurrent_actions_on_one_customer_all_succeed_in_turn(
    db: Database, outbox: Outbox, api: httpx.AsyncClient
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))

    async def renew(key: str | None) -> httpx.Response:
        return await api.post(
            f"/customers/{CUSTOMER}/subscription/renew",
            json={"product_id": "basic", "plan_id": "basic-1m"},
            headers={"Idempotency-Key": key} if key else None,
        )

    results = await asyncio.gather(
        *(renew(None) for _ in range(4)), *(renew("same") for _ in range(3))
    )
    # Four renewals without a key, one for the three sharing a key: five months added. The
    # keyed ones that found the first in flight were told so (409), not renewed again.
    assert len(await ledger(db)) == 1 + 5
    assert all(r.status_code == 200 for r in results[:4])
    assert {r.status_code for r in results[4:]} <= {200, 409}
    assert len({r.json()["transaction"]["id"] for r in results[4:] if r.status_code == 200}) == 1
    if db.dialect == "postgresql":
        # Only PostgreSQL queues the actions on the row lock; on SQLite the driver begins the
        # transaction at the first write, after the read, so concurrent renewals can overwrite
        # each other's expiry (known, see the report of the idempotency change).
        done = [r.json()["subscription"]["expires_at"] for r in results if r.status_code == 200]
        assert (await subscription(db)).expires_at == max(datetime.fromisoformat(d) for d in done)
