"""The seed command: N customers with accounts, a fixed mix of statuses, unique logins, and a
database the list can read (COPY on PostgreSQL, multi-row inserts on SQLite)."""

from collections import Counter

from sqlalchemy import func, select, text

from services.customers import listing, seed
from services.customers.models import Account, Customer
from services.customers.status import STATUS_RANK
from services.runtime.db import Database


async def test_seed_writes_customers_with_accounts_in_every_status(db: Database) -> None:
    await seed.seed(db.url, 400, seed_value=7, batch_size=150)
    await seed.seed(db.url, 100, seed_value=7, batch_size=150)  # seeding twice is allowed

    async with db.sessions() as session:
        customers = list(await session.scalars(select(Customer)))
        accounts = await session.scalar(select(func.count()).select_from(Account))
        page = await listing.list_customers(
            session, listing.ListFilters(status_group="active"), sort="name", limit=10
        )
    assert len(customers) == accounts == 500
    statuses = Counter(c.status for c in customers)
    assert set(statuses) == set(STATUS_RANK)
    assert statuses["active"] > statuses["expired"] > statuses["disabled"]
    assert all(c.status_rank == STATUS_RANK[c.status] for c in customers)
    assert all((c.expires_at is None) == (c.status == "pending") for c in customers)
    assert len({c.search_login for c in customers}) == 500
    assert [i.info.last_name.lower() for i in page.items] == sorted(
        i.info.last_name.lower() for i in page.items
    )


async def _indexes(db: Database) -> set[tuple[str, str]]:
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            rows = await conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE tablename IN ('customer', 'account')"
                )
            )
        else:
            rows = await conn.execute(
                text(
                    "SELECT name, coalesce(sql, '') FROM sqlite_master "
                    "WHERE type = 'index' AND tbl_name IN ('customer', 'account')"
                )
            )
        return {(name, sql) for name, sql in rows}


async def test_a_bulk_load_into_empty_tables_leaves_every_index_as_the_migrations_made_it(
    db: Database,
) -> None:
    migrated = await _indexes(db)
    assert len(migrated) > 10

    await seed.seed(db.url, 300, seed_value=3, batch_size=100)

    assert await _indexes(db) == migrated
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 300
