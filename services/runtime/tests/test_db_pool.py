"""The PostgreSQL pool pings a connection before handing it out only when it sat idle, and a
connection the server dropped meanwhile is replaced rather than failing the work."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.runtime import db as db_module
from services.runtime.db import Database

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database(new_postgres_database: Callable[[str], str]) -> AsyncIterator[Database]:
    database = Database(new_postgres_database("pool"))
    try:
        yield database
    finally:
        await database.dispose()


def count_pings(monkeypatch: pytest.MonkeyPatch, database: Database) -> list[object]:
    pings: list[object] = []
    dialect: Any = database.engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def select_one(database: Database) -> int:
    async with database.sessions() as session:
        return int((await session.execute(text("SELECT 1"))).scalar_one())


async def drop_connections(database: Database) -> None:
    """The server ends every session of the database, as a restart would."""
    url = make_url(database.url)
    admin = url.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await connection.close()


async def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(
    monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    # "A moment" made long, so a slow machine's pauses between the statements do not count.
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 60.0)
    pings = count_pings(monkeypatch, database)
    for _ in range(20):
        assert await select_one(database) == 1
    assert pings == []


async def test_a_connection_that_sat_idle_is_pinged_and_replaced_when_the_server_dropped_it(
    monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.1)
    pings = count_pings(monkeypatch, database)
    assert await select_one(database) == 1
    await drop_connections(database)
    await asyncio.sleep(0.2)
    # The ping finds the connection dead: a new one serves the statement, which succeeds.
    assert await select_one(database) == 1
    assert len(pings) == 1


async def test_a_busy_connection_the_server_dropped_fails_once_then_the_pool_recovers(
    monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    # The price of not pinging a connection used a moment ago: the first statement on it
    # fails as a disconnect (transient: retried by the consumer, 503 to a client), and the
    # pool is renewed for the next.
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 60.0)
    assert await select_one(database) == 1
    await drop_connections(database)
    with pytest.raises(DBAPIError) as failed:
        await select_one(database)
    assert failed.value.connection_invalidated
    assert await select_one(database) == 1
