"""Selling to a customer without a running subscription, an operator's sale with its payment,
and the balance that says what the customer owes, entry by entry."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from services.billing import service, subscriptions
from services.billing.schemas import ActionResult, CancelIn, ChangeIn, OpenIn, PaymentIn, RenewIn
from services.billing.tests._setup import (
    CUSTOMER,
    NOW,
    ledger,
    open_subscription,
    sent,
    subscription,
    types,
)
from services.contracts.customers import OperatorPayment, SubscriptionOrder
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem

ACTIVATED = "subscription.activated.v1"
RECORDED = "transaction.recorded.v1"


async def sell(db: Database, outbox: Outbox, body: OpenIn) -> ActionResult:
    async with db.transaction() as session:
        return await subscriptions.sell(session, outbox, CUSTOMER, body, now=NOW)


async def owed(db: Database) -> dict[str, Decimal]:
    async with db.sessions() as session:
        return await service.balance(session, CUSTOMER)


async def test_selling_to_a_customer_without_a_subscription_opens_one(
    db: Database, outbox: Outbox
) -> None:
    result = await sell(
        db,
        outbox,
        OpenIn(webshop_id="shop-us", product_id="premium", plan_id="premium-1m"),
    )

    sub = await subscription(db)
    assert (sub.webshop_id, sub.product_id, sub.status, sub.starts_at) == (
        "shop-us",
        "premium",
        "active",
        NOW,
    )
    assert result.action == "opened" and result.payment is None
    assert (result.transaction.kind, result.transaction.amount, result.transaction.currency) == (
        "charge",
        Decimal("21.99"),
        "USD",
    )
    rows = await sent(db)
    assert types(rows) == [ACTIVATED, RECORDED]
    assert rows[0].data["action"] == "opened"
    assert await owed(db) == {"USD": Decimal("21.99")}


async def test_selling_after_a_cancel_starts_a_fresh_period_of_any_product(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=5))
    async with db.transaction() as session:
        await subscriptions.cancel(session, outbox, CUSTOMER, CancelIn(when="now"), now=NOW)
    result = await sell(
        db,
        outbox,
        OpenIn(
            webshop_id="shop-eu",
            product_id="trial",
            plan_id="trial-7d",
            payment=PaymentIn(method="cash"),
        ),
    )
    assert result.subscription.status == "trial"
    assert result.subscription.expires_at == NOW + timedelta(days=7)
    # A sale of 0 has nothing to pay.
    assert result.payment is None


async def test_selling_over_a_running_subscription_is_a_conflict(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=5))
    with pytest.raises(Problem) as raised:
        await sell(db, outbox, OpenIn(webshop_id="shop-eu", product_id="basic", plan_id="basic-1m"))
    assert raised.value.status == 409
    assert "renew or change" in str(raised.value.detail)


async def test_selling_what_the_webshop_does_not_sell_names_the_field(
    db: Database, outbox: Outbox
) -> None:
    with pytest.raises(Problem) as raised:
        await sell(db, outbox, OpenIn(webshop_id="shop-us", product_id="trial", plan_id="trial-7d"))
    assert raised.value.status == 422
    assert raised.value.extra["errors"][0]["field"] == "product_id"


@pytest.mark.parametrize(
    ("method", "kind", "description"),
    [
        ("cash", "payment", "paid by cash"),
        ("card", "payment", "paid by card"),
        ("bank_transfer", "payment", "paid by bank transfer"),
        ("free", "credit", "given free of charge"),
    ],
)
async def test_an_operator_sale_said_paid_owes_nothing(
    db: Database, outbox: Outbox, method: str, kind: str, description: str
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    before = await owed(db)
    async with db.transaction() as session:
        result = await subscriptions.renew(
            session,
            outbox,
            CUSTOMER,
            RenewIn(
                product_id="basic",
                plan_id="basic-1m",
                payment=PaymentIn.model_validate({"method": method, "reference": "r-1"}),
            ),
            now=NOW,
        )
    assert result.payment is not None
    assert (result.payment.kind, result.payment.amount, result.payment.description) == (
        kind,
        Decimal("9.99"),
        description,
    )
    # One invoice: the payment is on the charge's order.
    assert result.payment.order_id == result.transaction.order_id
    assert types(await sent(db)) == [ACTIVATED, RECORDED, RECORDED]
    assert await owed(db) == before


async def test_a_change_that_ends_in_credit_has_nothing_to_pay(
    db: Database, outbox: Outbox
) -> None:
    expires_at = NOW + timedelta(days=300)
    await open_subscription(
        db, outbox, product_id="premium", plan_id="premium-12m", expires_at=expires_at
    )
    async with db.transaction() as session:
        result = await subscriptions.change(
            session,
            outbox,
            CUSTOMER,
            ChangeIn(product_id="basic", plan_id="basic-1m", payment=PaymentIn(method="card")),
            now=NOW,
        )
    assert result.transaction.kind == "credit" and result.payment is None


async def test_each_entry_shows_what_was_owed_after_it_across_pages(
    db: Database, outbox: Outbox
) -> None:
    # Owed 9.99 (the opening sale), then +9.99 -9.99 per paid renewal, then +9.99 unpaid.
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    for minute, payment in enumerate((PaymentIn(method="cash"), PaymentIn(method="card"), None)):
        async with db.transaction() as session:
            await subscriptions.renew(
                session,
                outbox,
                CUSTOMER,
                RenewIn(product_id="basic", plan_id="basic-1m", payment=payment),
                now=NOW + timedelta(minutes=minute),
            )
    entries = await ledger(db)
    assert len(entries) == 6

    seen = []
    cursor = None
    async with db.sessions() as session:
        while True:
            page = await service.list_transactions(session, CUSTOMER, limit=4, cursor=cursor)
            assert page.balance == {"EUR": Decimal("19.98")}
            seen += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
    # Newest first; the same as replaying the ledger from the oldest entry.
    running = Decimal(0)
    expected = []
    for entry in entries:
        running += service.OWED_SIGN[entry.kind] * entry.amount
        expected.append((entry.id, running))
    assert [(item.id, item.balance_after) for item in reversed(seen)] == expected


async def test_an_added_customers_sale_said_paid_is_settled_on_its_order(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await service.apply_order(
            session,
            outbox,
            customer_id=CUSTOMER,
            order=SubscriptionOrder(
                order_id=f"op-{CUSTOMER}",
                webshop_id="shop-eu",
                product_id="basic",
                plan_id="basic-1m",
                operator_payment=OperatorPayment(method="bank_transfer", reference="TR-9"),
            ),
            payment=None,
        )
    charge, paid = sorted(await ledger(db), key=lambda e: e.kind)
    assert (charge.kind, paid.kind, paid.amount, paid.reference) == (
        "charge",
        "payment",
        Decimal("9.99"),
        "TR-9",
    )
    assert paid.order_id == charge.order_id
    assert types(await sent(db)) == [ACTIVATED, RECORDED, RECORDED]
    assert await owed(db) == {"EUR": Decimal("0.00")}


async def test_two_sales_at_once_to_a_customer_without_a_subscription_make_one(
    db: Database, outbox: Outbox
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second sale waits and then finds the first")
    body = OpenIn(webshop_id="shop-eu", product_id="basic", plan_id="basic-1m")
    async with db.transaction() as first:
        await subscriptions.sell(first, outbox, CUSTOMER, body, now=NOW)

        async def second_sale() -> None:
            async with db.transaction() as second:
                await subscriptions.sell(second, outbox, CUSTOMER, body, now=NOW)

        # The second waits on the unique customer id until the first commits.
        racing = asyncio.create_task(second_sale())
        await asyncio.sleep(0.5)
        assert not racing.done()
    with pytest.raises(Problem) as raised:
        await racing
    assert raised.value.status == 409
    assert len(await ledger(db)) == 1
