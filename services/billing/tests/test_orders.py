"""apply_order turns an order into a subscription, one ledger entry and billing's events; the
catalog refuses what it does not sell."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from services.billing import models, service
from services.billing.models import LedgerTransaction, Product, Subscription
from services.billing.periods import add_period
from services.billing.reports import INVOICES
from services.billing.schemas import OrderCheck
from services.contracts import topics
from services.contracts.customers import OrderPayment, SubscriptionOrder
from services.runtime.db import Database, utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import OutboxRow, of_type, outbox_rows

CUSTOMER = "7d1c55a4-5d0c-4d53-a7a5-3b1b8f0f0001"
ACTIVATED = "subscription.activated.v1"
RECORDED = "transaction.recorded.v1"
REJECTED = "subscription.rejected.v1"


def order(
    order_id: str = "order-1",
    *,
    webshop_id: str = "shop-eu",
    product_id: str = "basic",
    plan_id: str = "basic-1m",
    extra_product_ids: tuple[str, ...] = (),
) -> SubscriptionOrder:
    return SubscriptionOrder(
        order_id=order_id,
        webshop_id=webshop_id,
        product_id=product_id,
        plan_id=plan_id,
        extra_product_ids=list(extra_product_ids),
    )


def payment(amount: str, currency: str = "EUR", reference: str = "pay-1") -> OrderPayment:
    return OrderPayment(
        amount=Decimal(amount),
        currency=currency,
        paid_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        provider="stripe",
        reference=reference,
    )


async def apply(
    db: Database,
    outbox: Outbox,
    sold: SubscriptionOrder,
    paid: OrderPayment | None = None,
    customer_id: str = CUSTOMER,
) -> None:
    async with db.transaction() as session:
        await service.apply_order(
            session, outbox, customer_id=customer_id, order=sold, payment=paid
        )


async def subscription_of(db: Database, customer_id: str = CUSTOMER) -> Subscription | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(Subscription).where(Subscription.customer_id == customer_id)
        )


async def ledger_of(db: Database, customer_id: str = CUSTOMER) -> list[LedgerTransaction]:
    async with db.sessions() as session:
        query = select(LedgerTransaction).where(LedgerTransaction.customer_id == customer_id)
        return list((await session.scalars(query.order_by(LedgerTransaction.recorded_at))).all())


async def events(db: Database) -> list[OutboxRow]:
    return await outbox_rows(db, models.outbox)


async def set_expiry(db: Database, expires_at: datetime, status: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.customer_id == CUSTOMER)
            .values(expires_at=expires_at, status=status)
        )


async def test_first_order_opens_a_subscription_until_now_plus_the_plan(
    db: Database, outbox: Outbox
) -> None:
    before = utcnow()
    await apply(db, outbox, order())
    after = utcnow()

    sub = await subscription_of(db)
    assert sub is not None
    assert (sub.product_id, sub.plan_id, sub.webshop_id, sub.status) == (
        "basic",
        "basic-1m",
        "shop-eu",
        "active",
    )
    assert sub.starts_at is not None and before <= sub.starts_at <= after
    assert sub.expires_at == add_period(sub.starts_at, 1, "months")


async def test_an_order_writes_one_ledger_entry_and_activated_then_recorded(
    db: Database, outbox: Outbox
) -> None:
    await apply(db, outbox, order(extra_product_ids=("hbo",)))

    [entry] = await ledger_of(db)
    # No payment: the operator sold it, charged at the price in the webshop's currency.
    assert (entry.kind, entry.amount, entry.currency, entry.source) == (
        "charge",
        Decimal("9.99"),
        "EUR",
        "operator",
    )
    assert (entry.webshop_id, entry.order_id) == ("shop-eu", "order-1")

    rows = await events(db)
    assert [r.type for r in rows] == [ACTIVATED, RECORDED]
    assert {(r.topic, r.key, r.event.subject) for r in rows} == {
        (topics.BILLING_EVENTS, CUSTOMER, CUSTOMER)
    }
    sub = await subscription_of(db)
    assert sub is not None
    activated, recorded = rows[0].data, rows[1].data
    assert activated["action"] == "opened"
    assert activated["subscription_id"] == sub.id == entry.subscription_id
    assert activated["order_id"] == "order-1"
    assert activated["extra_product_ids"] == ["hbo"]
    assert activated["max_devices"] == 2
    assert activated["status"] == "active"
    assert datetime.fromisoformat(activated["expires_at"]) == sub.expires_at
    assert recorded["transaction_id"] == entry.id
    assert (recorded["kind"], recorded["amount"], recorded["currency"]) == (
        "charge",
        "9.99",
        "EUR",
    )


async def test_a_paid_order_records_the_sale_and_the_webshops_payment(
    db: Database, outbox: Outbox
) -> None:
    paid = payment("10.99", "USD", reference="ch_123")
    await apply(db, outbox, order(webshop_id="shop-us"), paid)

    charge, settled = sorted(await ledger_of(db), key=lambda e: e.kind)
    assert (charge.kind, charge.amount, charge.currency) == ("charge", Decimal("10.99"), "USD")
    assert (settled.kind, settled.amount, settled.currency) == ("payment", Decimal("10.99"), "USD")
    for entry in (charge, settled):
        assert (entry.source, entry.reference, entry.recorded_at) == (
            "webshop",
            "ch_123",
            paid.paid_at,
        )
        assert entry.order_id == charge.order_id
    async with db.sessions() as session:
        assert await service.balance(session, CUSTOMER) == {"USD": Decimal("0.00")}


async def test_a_trial_product_opens_a_trial_for_its_days(db: Database, outbox: Outbox) -> None:
    await apply(db, outbox, order(product_id="trial", plan_id="trial-7d"))

    sub = await subscription_of(db)
    assert sub is not None and sub.starts_at is not None
    assert sub.status == "trial"
    assert sub.expires_at == sub.starts_at + timedelta(days=7)
    [entry] = await ledger_of(db)
    assert entry.amount == Decimal("0")


@pytest.mark.parametrize(
    ("sold", "paid", "code", "reason"),
    [
        (order(), payment("0.01"), "amount_mismatch", "paid 0.01 EUR but the catalog charges 9.99"),
        (order(), payment("10.00"), "amount_mismatch", "charges 9.99 EUR"),
        (order(plan_id="premium-1m", product_id="premium"), payment("9.99"), "amount_mismatch", ""),
        (order(extra_product_ids=("hbo",)), payment("9.99"), "amount_mismatch", "1 extra"),
        (order(), payment("10.99", "USD"), "currency_not_accepted", "does not take USD"),
        (order(webshop_id="shop-us"), payment("9.99", "EUR"), "currency_not_accepted", "EUR"),
    ],
    ids=[
        "underpaid",
        "overpaid",
        "price-of-another-plan",
        "extras-unpaid",
        "usd-in-eu",
        "eur-in-us",
    ],
)
async def test_a_paid_order_off_the_catalog_price_or_currency_is_rejected(
    db: Database,
    outbox: Outbox,
    sold: SubscriptionOrder,
    paid: OrderPayment,
    code: str,
    reason: str,
) -> None:
    await apply(db, outbox, sold, paid)

    [row] = await events(db)
    assert row.type == REJECTED
    assert row.data["code"] == code
    assert reason in row.data["reason"]
    assert await ledger_of(db) == []
    assert await subscription_of(db) is None


async def test_a_paid_order_with_extras_pays_the_plan_and_each_extra(
    db: Database, outbox: Outbox
) -> None:
    # A monthly extra on a monthly plan costs its whole price: 9.99 + 4.99 + 6.99.
    sold = order(extra_product_ids=("hbo", "sports-plus"))
    await apply(db, outbox, sold, payment("21.97"))

    entries = sorted((e.kind, e.amount) for e in await ledger_of(db))
    assert entries == [("charge", Decimal("21.97")), ("payment", Decimal("21.97"))]
    assert [r.type for r in await events(db)] == [ACTIVATED, RECORDED, RECORDED]


async def test_the_same_order_applied_twice_is_recorded_once(db: Database, outbox: Outbox) -> None:
    await apply(db, outbox, order(), payment("9.99"))
    first = await subscription_of(db)
    await apply(db, outbox, order(), payment("9.99"))

    assert len(await ledger_of(db)) == 2
    assert [r.type for r in await events(db)] == [ACTIVATED, RECORDED, RECORDED]
    again = await subscription_of(db)
    assert first is not None and again is not None
    assert again.expires_at == first.expires_at


async def test_renew_extends_from_current_expiry(db: Database, outbox: Outbox) -> None:
    await apply(db, outbox, order("order-1"))
    opened = await subscription_of(db)
    assert opened is not None
    current_expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    await set_expiry(db, current_expiry, "active")

    await apply(db, outbox, order("order-2", plan_id="basic-12m"))

    renewed = await subscription_of(db)
    assert renewed is not None
    assert renewed.id == opened.id
    assert renewed.expires_at == add_period(current_expiry, 12, "months")
    assert renewed.starts_at == opened.starts_at
    assert renewed.plan_id == "basic-12m"
    assert of_type(await events(db), ACTIVATED)[-1].data["action"] == "renewed"
    assert len(await ledger_of(db)) == 2


async def test_renewing_an_expired_subscription_extends_from_now(
    db: Database, outbox: Outbox
) -> None:
    await apply(db, outbox, order("order-1"))
    await set_expiry(db, datetime.now(UTC) - timedelta(days=10), "expired")

    before = utcnow()
    await apply(db, outbox, order("order-2"))
    after = utcnow()

    renewed = await subscription_of(db)
    assert renewed is not None and renewed.expires_at is not None
    assert add_period(before, 1, "months") <= renewed.expires_at <= add_period(after, 1, "months")
    assert renewed.status == "active"
    assert of_type(await events(db), ACTIVATED)[-1].data["action"] == "renewed"


async def test_another_product_changes_the_subscription_from_now(
    db: Database, outbox: Outbox
) -> None:
    await apply(db, outbox, order("order-1", plan_id="basic-12m"))

    before = utcnow()
    await apply(db, outbox, order("order-2", product_id="premium", plan_id="premium-1m"))
    after = utcnow()

    sub = await subscription_of(db)
    assert sub is not None and sub.expires_at is not None and sub.starts_at is not None
    assert (sub.product_id, sub.plan_id) == ("premium", "premium-1m")
    assert before <= sub.starts_at <= after
    assert sub.expires_at == add_period(sub.starts_at, 1, "months")
    last = of_type(await events(db), ACTIVATED)[-1].data
    assert (last["action"], last["max_devices"]) == ("changed", 5)


async def archive_basic(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Product).where(Product.id == "basic").values(archived_at=utcnow())
        )


@pytest.mark.parametrize(
    ("sold", "archive", "reason"),
    [
        (order(plan_id="basic-99m"), False, "no plan 'basic-99m'"),
        (order(plan_id="premium-1m"), False, "no plan 'premium-1m'"),
        (order(webshop_id="shop-us", product_id="trial", plan_id="trial-7d"), False, "sell"),
        (order(), True, "archived"),
        (order(webshop_id="shop-nowhere"), False, "unknown webshop"),
        (order(extra_product_ids=("cinema-max",)), False, "not an available extra"),
    ],
    ids=["unknown-plan", "plan-of-another-product", "not-sold", "archived", "no-shop", "extra"],
)
async def test_a_refused_order_is_rejected_without_a_ledger_entry(
    db: Database, outbox: Outbox, sold: SubscriptionOrder, archive: bool, reason: str
) -> None:
    if archive:
        await archive_basic(db)

    await apply(db, outbox, sold)

    [row] = await events(db)
    assert row.type == REJECTED
    assert (row.topic, row.key) == (topics.BILLING_EVENTS, CUSTOMER)
    assert row.data["order_id"] == sold.order_id
    assert reason in row.data["reason"]
    assert await ledger_of(db) == []
    assert await subscription_of(db) is None


async def test_balance_sums_per_currency(db: Database, outbox: Outbox) -> None:
    await apply(db, outbox, order("order-1"), payment("9.99", "EUR", "p-1"))
    await apply(db, outbox, order("order-2", webshop_id="shop-us"), payment("10.99", "USD", "p-2"))
    await apply(db, outbox, order("order-3", plan_id="basic-12m"))  # charged 99.00 EUR
    await apply(db, outbox, order("order-4"), payment("9.99", "EUR", "p-4"))
    await apply(db, outbox, order("order-x"), payment("9.99", "EUR"), customer_id="someone-else")

    async with db.sessions() as session:
        balance = await service.balance(session, CUSTOMER)
        page = await service.list_transactions(session, CUSTOMER)

    # Paid webshop orders owe nothing; the operator's sale of 99.00 is owed until paid.
    assert balance == {"EUR": Decimal("99.00"), "USD": Decimal("0.00")}
    assert page.balance == balance
    assert len(page.items) == 7


async def test_transactions_page_newest_first_through_every_entry(
    db: Database, outbox: Outbox
) -> None:
    for number in range(7):
        await apply(db, outbox, order(f"order-{number}"), payment("9.99", reference=f"p-{number}"))
    expected = [entry.id for entry in await ledger_of(db)]

    seen: list[str] = []
    cursor = None
    async with db.sessions() as session:
        for _ in range(10):
            page = await service.list_transactions(session, CUSTOMER, limit=3, cursor=cursor)
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    # Each charge and payment share paid_at: the id breaks the tie, and no entry is lost or
    # repeated.
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen)) == 14


@pytest.mark.parametrize(
    ("check", "field", "reason"),
    [
        (dict(webshop_id="shop-nowhere"), "webshop_id", "unknown webshop"),
        (dict(product_id="gold"), "product_id", "unknown product"),
        (dict(product_id="hbo", plan_id="hbo-1m"), "product_id", "is an extra"),
        (
            dict(webshop_id="shop-us", product_id="trial", plan_id="trial-7d"),
            "product_id",
            "does not sell",
        ),
        (dict(plan_id="basic-2m"), "plan_id", "no plan"),
        (dict(extra_product_ids=["premium"]), "extra_product_ids", "not an available extra"),
        (dict(extra_product_ids=["nope"]), "extra_product_ids", "not an available extra"),
    ],
)
async def test_resolve_sale_refusals_name_the_field(
    db: Database, check: dict[str, object], field: str, reason: str
) -> None:
    fields: dict[str, object] = {
        "webshop_id": "shop-eu",
        "product_id": "basic",
        "plan_id": "basic-1m",
        **check,
    }
    async with db.sessions() as session:
        with pytest.raises(service.OrderRefused) as refused:
            await service.resolve_sale(session, OrderCheck.model_validate(fields))
    assert refused.value.field == field
    assert reason in refused.value.reason


async def test_resolve_sale_accepts_a_sale_the_catalog_allows(db: Database) -> None:
    check = OrderCheck(
        webshop_id="shop-eu", product_id="premium", plan_id="premium-12m", extra_product_ids=["hbo"]
    )
    async with db.sessions() as session:
        sale = await service.resolve_sale(session, check)
    assert (sale.webshop.id, sale.product.id, sale.plan.id) == ("shop-eu", "premium", "premium-12m")
    assert [extra.id for extra in sale.extras] == ["hbo"]


async def test_resolve_sale_checks_what_was_paid_against_the_catalog(db: Database) -> None:
    check = OrderCheck(
        webshop_id="shop-us", product_id="premium", plan_id="premium-1m", extra_product_ids=["hbo"]
    )
    at = datetime(2025, 3, 1, tzinfo=UTC)
    async with db.sessions() as session:
        sale = await service.resolve_sale(session, check, service.Paid(Decimal("27.48"), "USD", at))
        assert sale.plan.id == "premium-1m"
        with pytest.raises(service.OrderRefused) as refused:
            await service.resolve_sale(session, check, service.Paid(Decimal("21.99"), "USD", at))
    assert (refused.value.field, refused.value.code) == ("amount", "amount_mismatch")


async def test_a_yearly_plan_prices_a_monthly_extra_over_the_year(db: Database) -> None:
    check = OrderCheck(
        webshop_id="shop-eu", product_id="basic", plan_id="basic-12m", extra_product_ids=["hbo"]
    )
    at = datetime(2025, 1, 1, tzinfo=UTC)
    # 365 days of a 31-day month's 4.99: 58.7548..., to the cent 58.75; plus 99.00.
    async with db.sessions() as session:
        await service.resolve_sale(session, check, service.Paid(Decimal("157.75"), "EUR", at))


@pytest.mark.parametrize(
    "cursor",
    [
        "no-separator",
        "2026-01-01T00:00:00+00:00|some-id",
        INVOICES.encode((datetime(2026, 1, 1, tzinfo=UTC), "some-id")),
    ],
    ids=["garbage", "old-format", "invoices-cursor"],
)
async def test_a_bad_transactions_cursor_is_a_422_naming_it(db: Database, cursor: str) -> None:
    async with db.sessions() as session:
        with pytest.raises(Problem) as problem:
            await service.list_transactions(session, CUSTOMER, cursor=cursor)
    assert problem.value.status == 422
    assert problem.value.extra == {
        "errors": [{"field": "cursor", "message": "not a cursor of this list"}]
    }


async def test_a_webshop_order_for_a_trial_the_customer_had_is_rejected(
    db: Database, outbox: Outbox
) -> None:
    await apply(db, outbox, order("order-1", product_id="trial", plan_id="trial-7d"))
    await apply(db, outbox, order("order-2", product_id="trial", plan_id="trial-7d"))

    rows = await events(db)
    assert rows[-1].type == REJECTED
    assert rows[-1].data["order_id"] == "order-2"
    assert "already had the trial" in rows[-1].data["reason"]
    assert len(await ledger_of(db)) == 1
