"""The expiry scheduler: due periods end once, the expiring notice goes out once per period, and
two schedulers racing on one database never double an effect."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from services.billing import models, scheduler, subscriptions
from services.billing.models import Subscription, SubscriptionHistory
from services.billing.periods import add_period
from services.billing.scheduler import run_tick
from services.billing.schemas import ChangeIn, RenewIn
from services.billing.tests._setup import CUSTOMER, NOW, open_subscription, sent, subscription
from services.runtime.db import Database
from services.runtime.outbox import Outbox

EXPIRED = "subscription.expired.v1"
EXPIRING = "subscription.expiring.v1"
ACTIVATED = "subscription.activated.v1"


async def history(db: Database, customer_id: str) -> list[tuple[str, str]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(SubscriptionHistory.kind, SubscriptionHistory.summary)
            .where(SubscriptionHistory.customer_id == customer_id, SubscriptionHistory.at == NOW)
            .order_by(SubscriptionHistory.kind)
        )
        return [(kind, summary) for kind, summary in rows.all()]


async def test_a_due_subscription_expires_once(db: Database, outbox: Outbox) -> None:
    await open_subscription(db, outbox, expires_at=NOW - timedelta(minutes=1))
    first = await run_tick(db, outbox, now=NOW, expiring_days=7)
    second = await run_tick(db, outbox, now=NOW + timedelta(hours=1), expiring_days=7)
    assert (first.expired, second.expired) == ([CUSTOMER], [])
    assert (await subscription(db)).status == "expired"
    [row] = await sent(db)
    assert row.type == EXPIRED and row.data["product_id"] == "basic"


async def test_expiring_is_sent_once_per_period_days_before(db: Database, outbox: Outbox) -> None:
    expiry = NOW + timedelta(days=10)
    await open_subscription(db, outbox, expires_at=expiry)
    assert (await run_tick(db, outbox, now=NOW, expiring_days=7)).expiring == []
    in_window = NOW + timedelta(days=4)
    assert (await run_tick(db, outbox, now=in_window, expiring_days=7)).expiring == [CUSTOMER]
    assert (await run_tick(db, outbox, now=in_window, expiring_days=7)).expiring == []
    [notice] = await sent(db)
    assert notice.type == EXPIRING and notice.data["days_left"] == 6

    # A renewal starts a new period: its own notice comes when that one nears its end.
    async with db.transaction() as session:
        await subscriptions.renew(
            session,
            outbox,
            CUSTOMER,
            RenewIn(product_id="basic", plan_id="basic-1m"),
            now=in_window,
        )
    new_expiry = (await subscription(db)).expires_at
    assert new_expiry is not None
    late = new_expiry - timedelta(days=2)
    assert (await run_tick(db, outbox, now=late, expiring_days=7)).expiring == [CUSTOMER]
    assert [r.data["days_left"] for r in await sent(db) if r.type == EXPIRING] == [6, 2]


async def test_two_schedulers_racing_on_one_database_expire_each_once(
    db: Database, outbox: Outbox
) -> None:
    customers = [f"race-{i:03d}" for i in range(30)]
    for customer_id in customers:
        await open_subscription(
            db, outbox, customer_id=customer_id, expires_at=NOW + timedelta(days=2)
        )
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.customer_id.in_(customers[:15]))
            .values(expires_at=NOW - timedelta(seconds=1))
        )
    other = Database(db.url)  # a second replica: its own engine and connections
    try:
        results = await asyncio.gather(
            run_tick(db, outbox, now=NOW, expiring_days=7),
            run_tick(other, outbox, now=NOW, expiring_days=7),
            run_tick(db, outbox, now=NOW, expiring_days=7),
        )
    finally:
        await other.dispose()
    expired = [c for r in results for c in r.expired]
    expiring = [c for r in results for c in r.expiring]
    assert sorted(expired) == customers[:15]
    assert sorted(expiring) == customers[15:]
    rows = await sent(db)
    assert sorted(r.key for r in rows if r.type == EXPIRED) == customers[:15]
    assert sorted(r.key for r in rows if r.type == EXPIRING) == customers[15:]


async def test_a_month_end_is_expired_a_batch_per_statement(db: Database, outbox: Outbox) -> None:
    customers = [f"month-end-{i:03d}" for i in range(25)]
    for customer_id in customers:
        await open_subscription(
            db, outbox, customer_id=customer_id, expires_at=NOW - timedelta(minutes=1)
        )
    statements: list[str] = []

    def record(_c: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        result = await run_tick(db, outbox, now=NOW, expiring_days=7, batch_size=10)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert sorted(result.expired) == customers
    # Batches of 10, 10 and 5: each one claim that is the effect, one outbox insert, one insert
    # of history lines; no subscription loaded row by row.
    assert statements.count("INSERT INTO OUTBOX") == 3
    assert statements.count("INSERT INTO SUBSCRIPTION_HISTORY") == 3
    assert not [s for s in statements if s.startswith("SELECT SUBSCRIPTION.")]
    expired = [r for r in await sent(db) if r.type == EXPIRED]
    assert sorted(r.key for r in expired) == customers
    assert {(await subscription(db, c)).status for c in customers} == {"expired"}


async def test_a_month_end_writes_its_history_lines_without_orm_objects(
    db: Database, outbox: Outbox
) -> None:
    """The batch's timeline lines are rows of one Core insert: no SubscriptionHistory object is
    built per line (at month end that bookkeeping was a fifth of billing's time)."""
    customers = [f"lines-{i:03d}" for i in range(12)]
    for i, customer_id in enumerate(customers):
        due = NOW - timedelta(minutes=1) if i % 2 == 0 else NOW + timedelta(days=3)
        await open_subscription(db, outbox, customer_id=customer_id, expires_at=due)
    built: list[object] = []

    def count(target: object, *_: object) -> None:
        built.append(target)

    event.listen(SubscriptionHistory, "init", count)
    try:
        result = await run_tick(db, outbox, now=NOW, expiring_days=7, batch_size=4)
    finally:
        event.remove(SubscriptionHistory, "init", count)

    assert built == []
    assert sorted(result.expired) == customers[0::2]
    assert sorted(result.expiring) == customers[1::2]
    assert await history(db, customers[0]) == [
        ("subscription.expired", "Subscription to basic expired")
    ]
    assert await history(db, customers[1]) == [
        ("subscription.expiring", "Subscription to basic expires in 3 days")
    ]


async def test_a_batch_mixing_due_not_due_and_booked_changes_applies_each_rule_once(
    db: Database, outbox: Outbox
) -> None:
    expiry = NOW - timedelta(minutes=1)
    plain = [f"mixed-plain-{i}" for i in range(3)]
    booked = [f"mixed-booked-{i}" for i in range(3)]
    soon = [f"mixed-soon-{i}" for i in range(2)]
    later = [f"mixed-later-{i}" for i in range(2)]
    for customer_id in plain:
        await open_subscription(db, outbox, customer_id=customer_id, expires_at=expiry)
    for customer_id in booked:
        await open_subscription(
            db, outbox, customer_id=customer_id, expires_at=NOW + timedelta(days=1)
        )
        async with db.transaction() as session:
            await subscriptions.change(
                session,
                outbox,
                customer_id,
                ChangeIn(product_id="premium", plan_id="premium-1m", starts="at_expiry"),
                now=NOW - timedelta(days=2),
            )
        async with db.transaction() as session:
            await session.execute(
                update(Subscription)
                .where(Subscription.customer_id == customer_id)
                .values(expires_at=expiry)
            )
    for customer_id in soon:
        await open_subscription(
            db, outbox, customer_id=customer_id, expires_at=NOW + timedelta(days=2)
        )
    for customer_id in later:
        await open_subscription(
            db, outbox, customer_id=customer_id, expires_at=NOW + timedelta(days=20)
        )
    async with db.transaction() as session:
        await session.execute(models.outbox.delete())

    # Batches of 2: every kind spans several batches, and the last of each is short.
    first = await run_tick(db, outbox, now=NOW, expiring_days=7, batch_size=2)
    again = await run_tick(db, outbox, now=NOW, expiring_days=7, batch_size=2)

    assert (sorted(first.expired), sorted(first.changed)) == (plain, booked)
    assert sorted(first.expiring) == soon
    assert (again.expired, again.changed, again.expiring) == ([], [], [])
    for customer_id in plain:
        sub = await subscription(db, customer_id)
        assert (sub.status, sub.product_id, sub.expires_at) == ("expired", "basic", expiry)
        assert await history(db, customer_id) == [
            ("subscription.expired", "Subscription to basic expired")
        ]
    for customer_id in booked:
        sub = await subscription(db, customer_id)
        assert (sub.status, sub.product_id, sub.starts_at) == ("active", "premium", expiry)
        assert sub.expires_at == add_period(expiry, 1, "months")
        assert sub.next_product_id is None
        [(kind, summary)] = await history(db, customer_id)
        assert kind == "subscription.changed" and summary.startswith("Booked change to")
    for customer_id in later:
        sub = await subscription(db, customer_id)
        assert (sub.status, sub.expiring_notice_for) == ("active", None)
        assert await history(db, customer_id) == []
    rows = await sent(db)
    by_customer: dict[str, list[tuple[str, Any]]] = {}
    for row in rows:
        by_customer.setdefault(row.key, []).append((row.type, row.data.get("action")))
    assert {c: by_customer[c] for c in plain} == {c: [(EXPIRED, None)] for c in plain}
    assert {c: by_customer[c] for c in booked} == {c: [(ACTIVATED, "changed")] for c in booked}
    assert {c: by_customer[c] for c in soon} == {c: [(EXPIRING, None)] for c in soon}
    assert not set(later) & set(by_customer)


async def test_a_renewal_arriving_after_the_claim_waits_and_renews_from_now(
    db: Database, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator renews while the scheduler's batch has claimed the row: the renewal waits
    for the batch to commit, then finds the period expired and starts a new one from now. No
    effect is lost or doubled, and the events keep their order (expired, then renewed)."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite has one writer: the renewal cannot start inside the batch's claim")
    await open_subscription(db, outbox, expires_at=NOW - timedelta(minutes=1))
    other = Database(db.url)  # the API's replica: its own engine and connections
    renewal: list[asyncio.Task[Any]] = []

    async def renew() -> None:
        async with other.transaction() as session:
            await subscriptions.renew(
                session, outbox, CUSTOMER, RenewIn(product_id="basic", plan_id="basic-1m"), now=NOW
            )

    claim = scheduler._claim

    async def claim_then_renew(*args: Any, **kwargs: Any) -> Any:
        rows = await claim(*args, **kwargs)
        if rows and not renewal:
            renewal.append(asyncio.create_task(renew()))
            await asyncio.sleep(0.5)  # the renewal reaches the claimed row and waits on it
            assert not renewal[0].done()
        return rows

    monkeypatch.setattr(scheduler, "_claim", claim_then_renew)
    try:
        result = await run_tick(db, outbox, now=NOW, expiring_days=0)
        await asyncio.wait_for(renewal[0], timeout=30)
    finally:
        await other.dispose()

    assert result.expired == [CUSTOMER]
    sub = await subscription(db)
    assert (sub.status, sub.starts_at) == ("active", NOW)
    assert sub.expires_at == add_period(NOW, 1, "months")
    billing_events = [r for r in await sent(db) if r.type in (EXPIRED, ACTIVATED)]
    assert [(r.type, r.data.get("action")) for r in billing_events] == [
        (EXPIRED, None),
        (ACTIVATED, "renewed"),
    ]
