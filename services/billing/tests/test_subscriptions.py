"""Subscription actions: each one ledger entry and one event; the date arithmetic that bites;
refusals name the field."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.billing import subscriptions
from services.billing.periods import add_period
from services.billing.scheduler import run_tick
from services.billing.schemas import CancelIn, ChangeIn, ExpiryIn, ExtraIn, RenewIn
from services.billing.tests._setup import (
    CUSTOMER,
    NOW,
    ledger,
    open_subscription,
    sent,
    subscription,
    types,
)
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem

ACTIVATED = "subscription.activated.v1"
RECORDED = "transaction.recorded.v1"


async def renew(db: Database, outbox: Outbox, body: RenewIn, now: datetime = NOW) -> None:
    async with db.transaction() as session:
        await subscriptions.renew(session, outbox, CUSTOMER, body, now=now)


async def test_renew_extends_from_the_current_expiry(db: Database, outbox: Outbox) -> None:
    expiry = NOW + timedelta(days=10)
    await open_subscription(db, outbox, expires_at=expiry)
    await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-1m"))

    sub = await subscription(db)
    assert sub.expires_at == add_period(expiry, 1, "months")
    charge = (await ledger(db))[-1]
    assert (charge.kind, charge.amount, charge.currency, charge.source) == (
        "charge",
        Decimal("9.99"),
        "EUR",
        "operator",
    )
    assert (charge.period_starts_at, charge.period_ends_at) == (expiry, sub.expires_at)
    rows = await sent(db)
    assert types(rows) == [ACTIVATED, RECORDED]
    assert rows[0].data["action"] == "renewed"
    assert rows[0].data["max_devices"] == 2


async def test_renewing_an_expired_customer_counts_from_now(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW - timedelta(days=40), status="expired")
    await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-12m"))

    sub = await subscription(db)
    assert (sub.status, sub.starts_at, sub.expires_at) == (
        "active",
        NOW,
        add_period(NOW, 1, "years"),
    )


async def test_renew_at_a_month_end_lands_on_the_last_day(db: Database, outbox: Outbox) -> None:
    jan31 = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    await open_subscription(db, outbox, expires_at=jan31)
    await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-1m"), now=NOW)
    assert (await subscription(db)).expires_at == datetime(2025, 2, 28, 23, 30, tzinfo=UTC)


async def test_renew_of_a_leap_day_by_a_year_is_feb_28(db: Database, outbox: Outbox) -> None:
    leap = datetime(2028, 2, 29, 8, 0, tzinfo=UTC)
    await open_subscription(db, outbox, expires_at=leap)
    await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-12m"), now=NOW)
    assert (await subscription(db)).expires_at == datetime(2029, 2, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (RenewIn(product_id="premium", plan_id="premium-1m"), "product_id"),
        (RenewIn(product_id="basic", plan_id="no-such-plan"), "plan_id"),
        (RenewIn(product_id="basic", plan_id="premium-1m"), "plan_id"),
        (
            RenewIn(product_id="basic", plan_id="basic-1m", extra_product_ids=["basic"]),
            "extra_product_ids",
        ),
    ],
    ids=["other-product", "unknown-plan", "plan-of-another-product", "not-an-extra"],
)
async def test_a_refused_renewal_names_the_field_and_changes_nothing(
    db: Database, outbox: Outbox, body: RenewIn, field: str
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    with pytest.raises(Problem) as refused:
        await renew(db, outbox, body)
    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["field"] == field
    assert len(await ledger(db)) == 1 and await sent(db) == []


async def test_change_now_credits_the_unused_time(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=15))
    async with db.transaction() as session:
        result = await subscriptions.change(
            session, outbox, CUSTOMER, ChangeIn(product_id="premium", plan_id="premium-1m"), now=NOW
        )
    # 15 of the 31 days from Jan 1 unused on 9.99: 4.83 credited; premium costs 19.99.
    assert result.transaction.kind == "charge"
    assert result.transaction.amount == Decimal("15.16")
    assert "4.83" in result.transaction.description
    sub = await subscription(db)
    assert (sub.product_id, sub.plan_id, sub.starts_at) == ("premium", "premium-1m", NOW)
    assert sub.expires_at == add_period(NOW, 1, "months")
    rows = await sent(db)
    assert types(rows) == [ACTIVATED, RECORDED]
    assert (rows[0].data["action"], rows[0].data["max_devices"]) == ("changed", 5)


async def test_a_credit_larger_than_the_new_price_is_a_credit_entry(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(
        db,
        outbox,
        product_id="premium",
        plan_id="premium-12m",
        expires_at=NOW + timedelta(days=300),
    )
    async with db.transaction() as session:
        result = await subscriptions.change(
            session, outbox, CUSTOMER, ChangeIn(product_id="basic", plan_id="basic-1m"), now=NOW
        )
    assert result.transaction.kind == "credit"
    assert result.transaction.amount > Decimal("100")


async def test_change_at_expiry_is_booked_then_applied_by_the_scheduler(
    db: Database, outbox: Outbox
) -> None:
    expiry = NOW + timedelta(days=5)
    await open_subscription(db, outbox, expires_at=expiry)
    async with db.transaction() as session:
        result = await subscriptions.change(
            session,
            outbox,
            CUSTOMER,
            ChangeIn(product_id="premium", plan_id="premium-1m", starts="at_expiry"),
            now=NOW,
        )
    assert result.subscription.product_id == "basic"
    assert result.subscription.scheduled_change is not None
    assert result.transaction.amount == Decimal("19.99")
    assert (result.transaction.period_starts_at, result.transaction.period_ends_at) == (
        expiry,
        add_period(expiry, 1, "months"),
    )
    assert [r.data["action"] for r in await sent(db) if r.type == ACTIVATED] == ["change_scheduled"]

    before = await run_tick(db, outbox, now=expiry - timedelta(seconds=1), expiring_days=0)
    assert before.changed == []
    after = await run_tick(db, outbox, now=expiry + timedelta(minutes=1), expiring_days=0)
    assert after.changed == [CUSTOMER] and after.expired == []
    sub = await subscription(db)
    assert (sub.product_id, sub.status, sub.starts_at) == ("premium", "active", expiry)
    assert sub.expires_at == add_period(expiry, 1, "months")
    assert sub.next_product_id is None
    assert len(await ledger(db)) == 2  # the change was charged when booked, once


async def test_set_expiry_normalises_offsets_to_utc_with_a_zero_adjustment(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    budapest = timezone(timedelta(hours=1))
    async with db.transaction() as session:
        result = await subscriptions.set_expiry(
            session,
            outbox,
            CUSTOMER,
            ExpiryIn(expires_at=datetime(2025, 3, 1, 0, 30, tzinfo=budapest), reason="goodwill"),
            now=NOW,
        )
    assert result.subscription.expires_at == datetime(2025, 2, 28, 23, 30, tzinfo=UTC)
    assert (result.transaction.kind, result.transaction.amount) == ("adjustment", Decimal("0"))
    assert "goodwill" in result.transaction.description
    assert [r.data["action"] for r in await sent(db) if r.type == ACTIVATED] == ["extended"]


async def test_an_expiry_in_the_past_is_refused(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    with pytest.raises(Problem) as refused:
        async with db.transaction() as session:
            await subscriptions.set_expiry(
                session,
                outbox,
                CUSTOMER,
                ExpiryIn(expires_at=NOW - timedelta(days=1), reason="oops"),
                now=NOW,
            )
    assert refused.value.extra["errors"][0]["field"] == "expires_at"


async def test_extras_on_their_own_plan_or_synced_to_the_base(db: Database, outbox: Outbox) -> None:
    base_expiry = NOW + timedelta(days=62)  # two months ahead
    await open_subscription(db, outbox, expires_at=base_expiry)
    async with db.transaction() as session:
        own = await subscriptions.add_extra(
            session, outbox, CUSTOMER, ExtraIn(product_id="hbo", plan_id="hbo-1m"), now=NOW
        )
    async with db.transaction() as session:
        synced = await subscriptions.add_extra(
            session,
            outbox,
            CUSTOMER,
            ExtraIn(product_id="sports-plus", synced_to_base=True),
            now=NOW,
        )
    assert own.transaction.amount == Decimal("4.99")
    # 62 days of a 31-day plan at 6.99: twice the price.
    assert synced.transaction.amount == Decimal("13.98")
    extras = {e.product_id: e.expires_at for e in synced.subscription.extras}
    assert extras == {"hbo": add_period(NOW, 1, "months"), "sports-plus": None}
    assert synced.subscription.extra_product_ids == ["hbo", "sports-plus"]

    with pytest.raises(Problem) as twice:
        async with db.transaction() as session:
            await subscriptions.add_extra(
                session, outbox, CUSTOMER, ExtraIn(product_id="hbo", plan_id="hbo-1m"), now=NOW
            )
    assert twice.value.status == 409

    ended = await run_tick(db, outbox, now=NOW + timedelta(days=32), expiring_days=0)
    assert ended.extras_ended == [CUSTOMER]
    assert (await subscription(db)).extra_product_ids == ["sports-plus"]

    async with db.transaction() as session:
        removed = await subscriptions.remove_extra(
            session, outbox, CUSTOMER, "sports-plus", now=NOW + timedelta(days=33)
        )
    assert removed.subscription.extra_product_ids == []
    assert (removed.transaction.kind, removed.transaction.amount) == ("adjustment", Decimal("0"))
    actions = [r.data["action"] for r in await sent(db) if r.type == ACTIVATED]
    assert actions == ["extra_added", "extra_added", "extra_removed", "extra_removed"]


async def test_cancel_now_ends_it_with_subscription_cancelled(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=3))
    async with db.transaction() as session:
        result = await subscriptions.cancel(
            session, outbox, CUSTOMER, CancelIn(when="now", reason="moved abroad"), now=NOW
        )
    assert (result.subscription.status, result.subscription.expires_at) == ("cancelled", NOW)
    assert types(await sent(db)) == ["subscription.cancelled.v1", RECORDED]
    with pytest.raises(Problem) as again:
        async with db.transaction() as session:
            await subscriptions.cancel(session, outbox, CUSTOMER, CancelIn(), now=NOW)
    assert again.value.status == 409


async def test_cancel_at_period_end_expires_when_the_period_ends(
    db: Database, outbox: Outbox
) -> None:
    expiry = NOW + timedelta(days=3)
    await open_subscription(db, outbox, expires_at=expiry)
    async with db.transaction() as session:
        result = await subscriptions.cancel(
            session, outbox, CUSTOMER, CancelIn(when="at_period_end"), now=NOW
        )
    assert result.subscription.status == "active" and result.subscription.cancel_at_period_end
    await run_tick(db, outbox, now=expiry + timedelta(seconds=1), expiring_days=0)
    assert (await subscription(db)).status == "expired"
    assert types(await sent(db)) == [ACTIVATED, RECORDED, "subscription.expired.v1"]


async def test_a_pending_first_login_subscription_cannot_be_renewed(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(db, outbox, status="pending", starts_at=None, expires_at=None)
    with pytest.raises(Problem) as refused:
        await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-1m"))
    assert refused.value.status == 409


async def test_an_unknown_customer_is_404(db: Database, outbox: Outbox) -> None:
    with pytest.raises(Problem) as missing:
        await renew(db, outbox, RenewIn(product_id="basic", plan_id="basic-1m"))
    assert missing.value.status == 404


async def test_a_trial_is_sold_once_per_customer_unless_repeat_trial(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(
        db, outbox, product_id="trial", plan_id="trial-7d", expires_at=NOW + timedelta(days=2)
    )
    with pytest.raises(Problem) as again:
        await renew(db, outbox, RenewIn(product_id="trial", plan_id="trial-7d"))
    assert again.value.status == 422
    assert again.value.extra["errors"][0]["field"] == "product_id"
    assert "already had the trial" in again.value.extra["errors"][0]["message"]

    # Moved to a paid product, the customer cannot change back to the trial either...
    async with db.transaction() as session:
        await subscriptions.change(
            session, outbox, CUSTOMER, ChangeIn(product_id="basic", plan_id="basic-1m"), now=NOW
        )
        with pytest.raises(Problem) as back:
            await subscriptions.change(
                session, outbox, CUSTOMER, ChangeIn(product_id="trial", plan_id="trial-7d"), now=NOW
            )
    assert back.value.extra["errors"][0]["field"] == "product_id"

    # ...unless the operator's request says so (the gateway allows it to admins only).
    async with db.transaction() as session:
        await subscriptions.change(
            session,
            outbox,
            CUSTOMER,
            ChangeIn(product_id="trial", plan_id="trial-7d", repeat_trial=True),
            now=NOW,
        )
    assert (await subscription(db)).product_id == "trial"


async def test_a_customer_without_a_trial_may_be_changed_to_one(
    db: Database, outbox: Outbox
) -> None:
    await open_subscription(db, outbox, expires_at=NOW + timedelta(days=2))
    async with db.transaction() as session:
        await subscriptions.change(
            session, outbox, CUSTOMER, ChangeIn(product_id="trial", plan_id="trial-7d"), now=NOW
        )
    assert (await subscription(db)).status == "trial"
