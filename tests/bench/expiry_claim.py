"""The scheduler's pass over 10,000 due subscriptions on PostgreSQL, month end after month end
on one table (as `make bench BENCH=expiry` resets it between legs): each round puts every row
back to due, runs `run_tick` and prints its seconds and the claim's plan. The statistics then
describe the previous month end (hardly any row due), which is what made PostgreSQL plan the
claim's UPDATE as a scan of every due row per candidate before the claim found its rows by key.

    BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:15432/postgres \\
        python -m tests.bench.expiry_claim --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url

from services.billing.app import SPEC
from services.billing.demo_catalog import seed_if_empty
from services.billing.models import Subscription
from services.billing.scheduler import run_tick
from services.runtime.db import Database
from services.runtime.migrations import upgrade
from services.runtime.outbox import Outbox

# The claim as the scheduler runs it, counted instead of applied: the plan and its time.
CLAIM = """EXPLAIN (ANALYZE, FORMAT TEXT)
WITH candidates AS MATERIALIZED (
    SELECT id FROM subscription WHERE status IN ('active', 'trial') AND expires_at <= now()
    ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)
SELECT count(*) FROM subscription WHERE id IN (SELECT id FROM candidates)"""


async def rounds(admin_url: str, count: int, rounds: int, batch_size: int) -> None:
    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"benchclaim_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(database_url)
    try:
        await asyncio.to_thread(upgrade, SPEC.migrations_dir, database_url)
        outbox = Outbox(SPEC.metadata.tables["outbox"], source="/bench", on_commit=lambda: None)
        async with db.transaction() as session:
            await seed_if_empty(session)
        ids = [str(uuid.uuid4()) for _ in range(count)]
        for round_ in range(rounds):
            now = datetime.now(UTC)
            due = now - timedelta(seconds=1)
            async with db.transaction() as session:
                if round_ == 0:
                    await session.execute(
                        insert(Subscription),
                        [
                            {
                                "id": i,
                                "customer_id": i,
                                "webshop_id": "shop-eu",
                                "product_id": "basic",
                                "plan_id": "basic-1m",
                                "extra_product_ids": [],
                                "status": "active",
                                "starts_at": due - timedelta(days=30),
                                "expires_at": due,
                                "cancel_at_period_end": False,
                                "version": 0,
                                "created_at": now,
                                "updated_at": now,
                            }
                            for i in ids
                        ],
                    )
                else:
                    await session.execute(
                        update(Subscription).values(
                            status="active", expires_at=due, expiring_notice_for=None
                        )
                    )
                await session.execute(text("DELETE FROM outbox"))
            async with db.engine.connect() as conn:
                plan = (await conn.execute(text(CLAIM), {"limit": batch_size})).scalars().all()
                await conn.rollback()
            started = time.perf_counter()
            result = await run_tick(db, outbox, now=datetime.now(UTC), batch_size=batch_size)
            seconds = time.perf_counter() - started
            print(f"round {round_ + 1}: {len(result.expired)} expired in {seconds:.2f} s")
            print("  claim: " + "\n  claim: ".join(line for line in plan if "rows=" in line))
            # The bench's raw leg: every row back to due, then expired by one UPDATE.
            async with db.transaction() as session:
                await session.execute(update(Subscription).values(status="active"))
                await session.execute(update(Subscription).values(status="expired"))
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    admin_url = os.environ.get("BENCH_POSTGRES_URL")
    if not admin_url:
        raise SystemExit("BENCH_POSTGRES_URL: an admin URL of a PostgreSQL server")
    asyncio.run(rounds(admin_url, args.subscriptions, args.rounds, args.batch_size))


if __name__ == "__main__":
    main()
