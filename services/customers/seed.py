"""Seed N synthetic customers for benchmarks and demos:
`python -m services.customers.seed --count 1000000 --database-url postgresql+asyncpg://...`

Migrates the database first, then writes customers and accounts in large batches: PostgreSQL
through COPY, SQLite through multi-row inserts. Into empty tables, the secondary indexes are
dropped first and built once at the end (one sort per index instead of a million ordered
inserts into each of fifteen: 1M customers in minutes, not a quarter of an hour). The mix of
statuses, sources, webshops, products, expiries and creation dates is fixed by `--seed`, so two
runs with the same arguments make the same population (ids and logins differ per run, so a
database can be seeded twice). Every seeded account shares one argon2 hash of a random password
nobody knows: hashing a million passwords would take hours and no one signs in as a fixture.
"""

import argparse
import asyncio
import json
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text

from services.customers import credentials
from services.customers.app import SPEC
from services.customers.models import Account, Customer
from services.customers.name_keys import name_keys
from services.customers.status import STATUS_RANK
from services.runtime import migrations
from services.runtime.db import Database

_FIRST_NAMES = (
    "Adam Anna Arthur Barbara Ben Carla Chloe Daniel David Dora Elena Emil Emma Eva Felix "
    "Frank Greta Hana Hugo Ida Ivan Jakub Jan Jana Jane John Julia Karel Karin Lars Laura "
    "Lena Leo Lucas Marie Mark Marta Martin Maya Milan Nina Noah Olga Oscar Paul Petra "
    "Petr Rosa Ruth Sara Simon Sofia Tereza Tom Ursula Vera Viktor Wendy Zoe Šárka Žofie "
    "Jiří Łukasz"
)
FIRST_NAMES = _FIRST_NAMES.split()
_LAST_NAMES = (
    "Adams Baker Bauer Becker Black Brown Carter Clark Cooper Davis Dvořák Evans Fischer "
    "Ford Fox Garcia Gray Green Hall Harris Hill Horák Hughes Jackson James Johnson Jones "
    "Kelly King Klein Koch Kovář Král Krause Lang Lee Lewis Lopez Martin Meyer Miller "
    "Moore Morgan Müller Navrátil Nelson Novák Novotná Parker Patel Pokorný Price "
    "Procházka Richter Roberts Robinson Ross Schmidt Schneider Schulz Scott Smith Smithers "
    "Svoboda Taylor Thomas Thompson Turner Veselý Wagner Walker Weber White Wilson Wolf "
    "Wood Wright Young Zimmermann"
)
LAST_NAMES = _LAST_NAMES.split()
# (status, weight): most customers are active or expired, as in a grown operator's base.
STATUSES = (("active", 55), ("expired", 22), ("trial", 10), ("pending", 8), ("disabled", 5))
WEBSHOPS = ("shop-eu", "shop-us", "shop-cz")
PRODUCTS = (("basic", "basic-1m"), ("premium", "premium-1m"), ("trial", "trial-14d"))
CUSTOMER_COLUMNS = (
    "id",
    "status",
    "status_rank",
    "source",
    "webshop_id",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "country",
    "search_name",
    "search_full_name",
    "search_email",
    "search_login",
    "created_at",
    "updated_at",
    "product_id",
    "plan_id",
    "extra_product_ids",
    "subscription_id",
    "subscription_status",
    "expires_at",
)
ACCOUNT_COLUMNS = (
    "customer_id",
    "login",
    "password_hash",
    "login_generated",
    "disabled",
    "created_at",
)


@dataclass(frozen=True)
class Population:
    count: int
    now: datetime
    run: str
    password_hash: str
    seed: int


def _rows(population: Population) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(population.seed)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    for n in range(population.count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        status = rng.choices(statuses, weights)[0]
        created_at = population.now - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        product_id, plan_id = rng.choice(PRODUCTS)
        subscription_status: str | None = "expired" if status == "disabled" else status
        if status == "pending":
            expires_at, subscription_status = None, None
        elif status in ("expired", "disabled"):
            expires_at = population.now - timedelta(seconds=rng.randrange(3600, 400 * 86400))
        else:
            expires_at = population.now + timedelta(seconds=rng.randrange(3600, 365 * 86400))
        login = f"{population.run}{n:07d}"
        email = f"{first}.{last}{n}@example.com".lower()
        source = "webshop" if rng.random() < 0.4 else "manual"
        # Ids are random, not drawn from `rng`: a second run with the same seed adds customers.
        customer_id = str(uuid.uuid4())
        search_name, search_full_name = name_keys(first, last)
        customer = {
            "id": customer_id,
            "status": status,
            "status_rank": STATUS_RANK[status],
            "source": source,
            "webshop_id": rng.choice(WEBSHOPS),
            "external_id": f"ext-{population.run}-{n}" if source == "webshop" else None,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": f"+420{rng.randrange(600000000, 799999999)}",
            "city": None,
            "country": "CZ",
            "search_name": search_name,
            "search_full_name": search_full_name,
            "search_email": email,
            "search_login": login,
            "created_at": created_at,
            "updated_at": created_at,
            "product_id": None if status == "pending" else product_id,
            "plan_id": None if status == "pending" else plan_id,
            "extra_product_ids": [],
            "subscription_id": None if status == "pending" else str(uuid.uuid4()),
            "subscription_status": subscription_status,
            "expires_at": expires_at,
        }
        account = {
            "customer_id": customer_id,
            "login": login,
            "password_hash": population.password_hash,
            "login_generated": True,
            "disabled": status == "disabled",
            "created_at": created_at,
        }
        yield customer, account


def _batches(
    population: Population, size: int
) -> Iterator[list[tuple[dict[str, Any], dict[str, Any]]]]:
    batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for pair in _rows(population):
        batch.append(pair)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


SEEDED_TABLES = ("customer", "account")

# Indexes that back no constraint (a primary key or unique constraint stays: dropping it would
# drop the constraint), with the statement that makes each again.
_PG_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relname = ANY(:tables) AND t.relnamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""
# SQLite's own indexes (primary keys, UNIQUE) have no statement and stay.
_SQLITE_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    "AND tbl_name IN ('customer', 'account')"
)


@asynccontextmanager
async def _indexes_built_after(db: Database) -> AsyncIterator[None]:
    """Into empty tables: the secondary indexes dropped for the load and made again after it,
    each in one pass over the loaded rows. Into tables with rows, nothing changes (rebuilding
    would cost more than adding to them)."""
    async with db.engine.connect() as conn:
        if await conn.scalar(select(func.count()).select_from(text("customer"))):
            indexes: list[tuple[str, str]] = []
        elif db.dialect == "postgresql":
            rows = await conn.execute(text(_PG_INDEXES), {"tables": list(SEEDED_TABLES)})
            indexes = [(name, sql) for name, sql in rows]
        else:
            indexes = [(name, sql) for name, sql in await conn.execute(text(_SQLITE_INDEXES))]
        for name, _ in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
        await conn.commit()
    try:
        yield
    finally:
        async with db.engine.connect() as conn:
            if db.dialect == "postgresql" and indexes:
                # Sorting a million keys in memory rather than in temporary files.
                await conn.execute(text("SET maintenance_work_mem = '256MB'"))
            for _, sql in indexes:
                await conn.execute(text(sql))
            await conn.commit()


async def _copy_postgres(db: Database, population: Population, batch_size: int) -> None:
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for batch in _batches(population, batch_size):
            async with driver.transaction():
                await driver.copy_records_to_table(
                    "customer",
                    records=[
                        tuple(
                            json.dumps(c[k]) if k == "extra_product_ids" else c[k]
                            for k in CUSTOMER_COLUMNS
                        )
                        for c, _ in batch
                    ],
                    columns=list(CUSTOMER_COLUMNS),
                )
                await driver.copy_records_to_table(
                    "account",
                    records=[tuple(a[k] for k in ACCOUNT_COLUMNS) for _, a in batch],
                    columns=list(ACCOUNT_COLUMNS),
                )


async def _analyze_postgres(db: Database) -> None:
    """Fresh statistics for the planner (and the list's estimated total), and the visibility
    map that index-only scans need, as autovacuum would leave them after a while; after the
    indexes are made, so their statistics are there too."""
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for table in SEEDED_TABLES:
            await driver.execute(f"VACUUM (ANALYZE) {table}")


async def _insert_sqlite(db: Database, population: Population, batch_size: int) -> None:
    for batch in _batches(population, batch_size):
        async with db.transaction() as session:
            await session.execute(insert(cast(Table, Customer.__table__)), [c for c, _ in batch])
            await session.execute(insert(cast(Table, Account.__table__)), [a for _, a in batch])


async def seed(
    database_url: str, count: int, *, seed_value: int = 1, batch_size: int = 20_000
) -> None:
    await asyncio.to_thread(migrations.upgrade, SPEC.migrations_dir, database_url)
    population = Population(
        count=count,
        now=datetime.now(UTC),
        # Logins must be unique: a short tag per run lets a database be seeded more than once.
        run="s" + secrets.token_hex(3),
        password_hash=credentials.hash_password(secrets.token_urlsafe(24)),
        seed=seed_value,
    )
    db = Database(database_url)
    try:
        async with _indexes_built_after(db):
            if db.dialect == "postgresql":
                await _copy_postgres(db, population, batch_size)
            else:
                await _insert_sqlite(db, population, batch_size)
        if db.dialect == "postgresql":
            await _analyze_postgres(db)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=1, help="random seed of the population")
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(
        seed(args.database_url, args.count, seed_value=args.seed, batch_size=args.batch_size)
    )
    elapsed = time.perf_counter() - started
    print(f"seeded {args.count} customers in {elapsed:.1f} s ({args.count / elapsed:.0f}/s)")


if __name__ == "__main__":
    main()
