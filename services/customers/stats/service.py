"""Figures for the operators' dashboard: customers per status and new customers per UTC day."""

from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Customer
from services.customers.status import STATUS_RANK
from services.runtime.db import utcnow

DAYS = 30


class DayCount(BaseModel):
    day: date
    count: int


class CustomerStats(BaseModel):
    by_status: dict[str, int]
    new_per_day: list[DayCount]


async def customer_stats(session: AsyncSession, *, now: datetime | None = None) -> CustomerStats:
    """Every status (zero included), and the last 30 UTC days including today, oldest first."""
    counted = await session.execute(select(Customer.status, func.count()).group_by(Customer.status))
    by_status = dict.fromkeys(STATUS_RANK, 0)
    for status, count in counted.all():
        by_status[status] = int(count)
    today = (now or utcnow()).date()
    first = today - timedelta(days=DAYS - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    per_day = dict.fromkeys((first + timedelta(days=n) for n in range(DAYS)), 0)
    # SQLite keeps UTC as naive text ("YYYY-MM-DD hh:mm:ss"); PostgreSQL a timestamptz that is
    # cut at UTC midnight whatever the session's time zone.
    if session.get_bind().dialect.name == "postgresql":
        day_of = func.date(func.timezone("UTC", Customer.created_at))
    else:
        day_of = func.date(Customer.created_at)
    grouped = await session.execute(
        select(day_of, func.count()).where(Customer.created_at >= since).group_by(day_of)
    )
    for day, count in grouped.all():
        key = day if isinstance(day, date) else date.fromisoformat(str(day))
        if key in per_day:
            per_day[key] = int(count)
    return CustomerStats(
        by_status=by_status,
        new_per_day=[DayCount(day=day, count=count) for day, count in per_day.items()],
    )
