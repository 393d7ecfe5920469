"""Two billing replicas seeding the demo catalog at once: one seeds, the other finds it seeded
and starts (it crashed on a duplicate product id before)."""

import asyncio

from sqlalchemy import delete, func, select

from services.billing.demo_catalog import DEMO_PRODUCTS, DEMO_WEBSHOPS, seed_if_empty
from services.billing.models import Plan, Product, Webshop
from services.runtime.db import Database


async def _empty_catalog(db: Database) -> None:
    async with db.transaction() as session:
        for table in (Webshop, Plan, Product):
            await session.execute(delete(table))


async def _seed(db: Database) -> bool:
    async with db.transaction() as session:
        return await seed_if_empty(session)


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Product)) or 0,
            await session.scalar(select(func.count()).select_from(Plan)) or 0,
            await session.scalar(select(func.count()).select_from(Webshop)) or 0,
        )


DEMO_COUNTS = (
    len(DEMO_PRODUCTS),
    sum(len(p.plans) for p in DEMO_PRODUCTS),
    len(DEMO_WEBSHOPS),
)


async def test_a_second_seeder_waits_for_the_first_and_leaves_its_catalog(db: Database) -> None:
    await _empty_catalog(db)
    other = Database(db.url)  # the second replica: its own engine and connections
    try:
        async with db.transaction() as session:
            assert await seed_if_empty(session)
            # The second starts while the first has read "empty" and written, uncommitted.
            second = asyncio.create_task(_seed(other))
            await asyncio.sleep(0.5)
            assert not second.done()
        assert await second is False
        assert await _counts(db) == DEMO_COUNTS
    finally:
        await other.dispose()


async def test_replicas_seeding_together_seed_once(db: Database) -> None:
    await _empty_catalog(db)
    replicas = [Database(db.url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(_seed(r) for r in replicas))
        assert sorted(results) == [False, False, True]
        assert await _counts(db) == DEMO_COUNTS
        assert await _seed(replicas[0]) is False  # and a restart changes nothing
    finally:
        for replica in replicas:
            await replica.dispose()
