"""Runtime tests run against test-only tables: the messaging tables of define_messaging_tables
and a table exercising the column types, made by create_all on SQLite and PostgreSQL."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table

from services.runtime.db import Database, MoneyType, UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables
from services.runtime.tests._helpers import BACKENDS, created_database


@dataclass(frozen=True)
class Tables:
    outbox: Table
    leases: Table
    inbox: Table
    idempotency: Table
    sample: Table  # one row per value: money and a moment


def _tables() -> tuple[MetaData, Tables]:
    metadata = MetaData()
    outbox, leases, inbox, idempotency = define_messaging_tables(metadata)
    sample = Table(
        "sample",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("amount", MoneyType()),
        Column("at", UTCDateTime()),
    )
    return metadata, Tables(outbox, leases, inbox, idempotency, sample)


@pytest.fixture
def tables() -> Tables:
    return _tables()[1]


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, tables: Tables
) -> AsyncIterator[Database]:
    async with created_database(
        request, tmp_path, name="runtime", metadata=tables.outbox.metadata
    ) as database:
        yield database


@pytest.fixture
async def sqlite_db(tmp_path: Path, tables: Tables) -> AsyncIterator[Database]:
    """SQLite only: for tests of logic that does not depend on the backend."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'runtime.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(tables.outbox.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()
