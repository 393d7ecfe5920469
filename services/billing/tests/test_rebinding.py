"""A customer moved to another webshop: refused up front when it does not sell the running
product; else the subscription follows, and the next renewal sells and prices there."""

from datetime import timedelta
from decimal import Decimal

import pytest

from services.billing import rebinding, subscriptions
from services.billing.schemas import ChangeIn, RenewIn, WebshopMove
from services.billing.tests._setup import CUSTOMER, NOW, open_subscription, subscription
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


async def check(db: Database, webshop_id: str) -> WebshopMove:
    async with db.sessions() as session:
        return await rebinding.check_move(session, CUSTOMER, webshop_id)


async def move(db: Database, webshop_id: str) -> bool:
    async with db.transaction() as session:
        return await rebinding.follow_webshop(session, CUSTOMER, webshop_id, at=NOW)


async def test_a_move_to_a_webshop_not_selling_the_product_is_refused_with_the_reason(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(
        db, outbox, product_id="trial", plan_id="trial-7d", expires_at=NOW + timedelta(days=3)
    )
    verdict = await check(db, "shop-us")
    assert not verdict.allowed
    assert verdict.reason is not None and "'shop-us' does not sell 'trial'" in verdict.reason


@pytest.mark.parametrize("webshop_id", ["shop-nowhere"])
async def test_a_move_to_an_unknown_webshop_is_refused(
    db: Database, outbox: Outbox, webshop_id: str
) -> None:
    assert not (await check(db, webshop_id)).allowed


async def test_without_a_running_subscription_any_webshop_will_do(
    db: Database, outbox: Outbox
) -> None:
    verdict = await check(db, "shop-us")
    assert verdict.allowed and verdict.product_id is None
    await open_subscription(
        db,
        outbox,
        product_id="trial",
        plan_id="trial-7d",
        expires_at=NOW - timedelta(days=3),
        status="expired",
    )
    assert (await check(db, "shop-us")).allowed


async def test_after_the_move_the_next_renewal_sells_and_prices_in_the_new_webshop(
    db: Database, outbox: Outbox
) -> None:
    expiry = NOW + timedelta(days=10)
    await open_subscription(db, outbox, expires_at=expiry)
    verdict = await check(db, "shop-us")
    assert (verdict.allowed, verdict.renewal_price, verdict.currency) == (
        True,
        Decimal("10.99"),
        "USD",
    )

    assert await move(db, "shop-us")
    assert not await move(db, "shop-us")  # a replay changes nothing
    sub = await subscription(db)
    assert (sub.webshop_id, sub.expires_at) == ("shop-us", expiry)  # the paid period runs on

    async with db.transaction() as session:
        result = await subscriptions.renew(
            session, outbox, CUSTOMER, RenewIn(product_id="basic", plan_id="basic-1m"), now=NOW
        )
    assert (result.transaction.amount, result.transaction.currency) == (Decimal("10.99"), "USD")
    assert result.transaction.webshop_id == "shop-us"


async def test_after_a_move_a_product_only_the_new_webshop_sells_can_be_changed_to(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(
        db, outbox, webshop_id="shop-us", product_id="basic", expires_at=NOW + timedelta(days=10)
    )
    change = ChangeIn(product_id="trial", plan_id="trial-7d")
    async with db.transaction() as session:
        with pytest.raises(Problem):
            await subscriptions.change(session, outbox, CUSTOMER, change, now=NOW)
    await move(db, "shop-eu")
    async with db.transaction() as session:
        result = await subscriptions.change(session, outbox, CUSTOMER, change, now=NOW)
    assert result.subscription.product_id == "trial"
