"""MoneyType and UTCDateTime behave the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import StatementError

from services.runtime.db import Database
from services.runtime.tests.conftest import Tables

AMOUNTS = [
    Decimal("0"),
    Decimal("0.0001"),
    Decimal("9.99"),
    Decimal("12.5"),
    Decimal("-0.01"),
    Decimal("99999999.9999"),
    Decimal("-123456789.1234"),
]


async def test_money_round_trips_exactly(db: Database, tables: Tables) -> None:
    async with db.transaction() as session:
        await session.execute(insert(tables.sample), [{"amount": a} for a in AMOUNTS])
    async with db.sessions() as session:
        read = (await session.scalars(select(tables.sample.c.amount).order_by("id"))).all()
    assert read == AMOUNTS
    assert all(isinstance(value, Decimal) for value in read)


async def test_money_sum_of_a_thousand_tenths_is_exactly_one_hundred(
    db: Database, tables: Tables
) -> None:
    async with db.transaction() as session:
        await session.execute(insert(tables.sample), [{"amount": Decimal("0.1")}] * 1000)
    async with db.sessions() as session:
        total = await session.scalar(select(func.sum(tables.sample.c.amount)))
    assert isinstance(total, Decimal)
    assert total == Decimal("100")
    assert str(total) == "100.00"


async def test_money_refuses_more_than_four_decimal_places(db: Database, tables: Tables) -> None:
    with pytest.raises(StatementError, match="more than 4 decimal places"):
        async with db.transaction() as session:
            await session.execute(insert(tables.sample).values(amount=Decimal("0.00001")))


async def test_utc_datetime_comes_back_aware_in_utc(db: Database, tables: Tables) -> None:
    in_prague = datetime(2025, 3, 30, 3, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.transaction() as session:
        await session.execute(insert(tables.sample).values(at=in_prague))
    async with db.sessions() as session:
        read = await session.scalar(select(tables.sample.c.at))
    assert read is not None
    assert read == in_prague
    assert read.utcoffset() == timedelta(0)
    assert read.replace(tzinfo=None) == datetime(2025, 3, 30, 1, 30, 15, 123456)


async def test_utc_datetime_compares_correctly_across_offsets(db: Database, tables: Tables) -> None:
    base = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(tables.sample),
            [{"at": base - timedelta(minutes=1)}, {"at": base + timedelta(minutes=1)}],
        )
    # 13:00 at +01:00 is 12:00 UTC: exactly one row is earlier.
    same_moment = datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    async with db.sessions() as session:
        earlier = (
            await session.scalars(
                select(tables.sample.c.at).where(tables.sample.c.at < same_moment)
            )
        ).all()
    assert earlier == [base - timedelta(minutes=1)]


async def test_utc_datetime_refuses_naive_datetimes(db: Database, tables: Tables) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as session:
            await session.execute(insert(tables.sample).values(at=datetime(2025, 1, 1, 12, 0)))
