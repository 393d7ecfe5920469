"""Async SQLAlchemy engine and sessions for one service's own database, and the column types
that behave the same on SQLite and PostgreSQL (UTC datetimes, exact money)."""

import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, event, exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = Decimal("10000")
# A pooled PostgreSQL connection idle this long is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0
IDLE_SINCE = "idle_since"
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite would otherwise hand back naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MoneyType(TypeDecorator[Decimal]):
    """Decimal stored as an integer of ten-thousandths: exact sums on SQLite and PostgreSQL."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = value * MONEY_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than 4 decimal places")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        exact = Decimal(value).scaleb(-4)
        cents = exact.quantize(Decimal("0.01"))
        return cents if cents == exact else exact


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the consumer and the relay write; busy_timeout makes a
    # concurrent writer wait instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (it holds personal data and password
    hashes); SQLite gives its -wal and -shm files the same mode. A directory made here is
    private too."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_async_engine(url, pool_size=5, max_overflow=5, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # hide_parameters: a failed statement's message must not carry its values (a password
    # waiting in webshop_order, personal data) into the logs.
    # After PostgreSQL went away and came back, the pool holds dead connections: a connection
    # that sat idle is pinged before it is handed out (see _ping_if_idle), and an error that
    # says the connection is gone invalidates the whole pool, so the process recovers without
    # a restart. LIFO: the connection just returned is the next one out, so under load the same
    # few stay busy (and unpinged) while the rest idle. The timeouts bound how long a request
    # waits on a server that does not answer (asyncpg's connect would wait 60 s) or on a pool
    # exhausted by hung connections (SQLAlchemy's: 30 s): it is refused with 503 instead
    # (services/runtime/transient.py).
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_use_lifo=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        hide_parameters=True,
    )
    event.listen(engine.sync_engine.pool, "checkin", _note_idle_since)
    event.listen(
        engine.sync_engine.pool, "checkout", functools.partial(_ping_if_idle, engine.dialect)
    )
    return engine


def _note_idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[IDLE_SINCE] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect,
    dbapi_connection: DBAPIConnection,
    record: ConnectionPoolEntry,
    _proxy: PoolProxiedConnection,
) -> None:
    """SQLAlchemy's pre-ping, for a connection idle longer than IDLE_PING_SECONDS only. The
    asyncpg dialect pings with BEGIN, an empty statement and ROLLBACK: three round trips on
    every checkout, that is every event batch, relay round and request (~8% of the customers
    service's CPU per list page, py-spy). A connection back from use a moment ago is as alive
    as a ping would say; one that breaks anyway fails its statement as a disconnect, which
    invalidates the pool, and the work is retried as after any outage."""
    idle_since = record.info.get(IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if not dialect.is_disconnect(error, dbapi_connection, None):
            raise
        # As pre-ping: the server went away, so every pooled connection is suspect.
        raise exc.InvalidatePoolError() from error


class Database:
    """One engine and session factory; `transaction()` is the unit of work's boundary."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT of the session's database, with its ON CONFLICT clauses (PostgreSQL and
    SQLite spell them the same)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def utcnow() -> datetime:
    return datetime.now(UTC)
