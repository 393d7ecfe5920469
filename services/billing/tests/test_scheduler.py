"""The expiry scheduler: due periods end once, the expiring notice goes out once per period, and
two schedulers racing on one database never double an effect."""

import asyncio
from datetime import timedelta

from sqlalchemy import event, update

from services.billing import subscriptions
from services.billing.models import Subscription
from services.billing.scheduler import run_tick
from services.billing.schemas import RenewIn
from services.billing.tests._setup import CUSTOMER, NOW, open_subscription, sent, subscription
from services.runtime.db import Database
from services.runtime.outbox import Outbox

EXPIRED = "subscription.expired.v1"
EXPIRING = "subscription.expiring.v1"


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
