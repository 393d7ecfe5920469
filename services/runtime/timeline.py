"""How a service answers GET /customers/{id}/timeline: each of its tables read newest first up to
`limit`, every moment worth telling added as one item, the `limit` newest kept."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from services.contracts.timeline import ServiceName, ServiceTimeline, TimelineItem

M = TypeVar("M")


async def newest(
    session: AsyncSession,
    model: type[M],
    moment: QueryableAttribute[datetime],
    customer_id: str,
    limit: int,
) -> Sequence[M]:
    """The customer's `limit` newest rows of `model` by `moment` (its `customer_id` column)."""
    # Read by name: the tables' customer_id columns differ in nullability, so no one type fits.
    customer: Any = getattr(model, "customer_id")  # noqa: B009
    query = select(model).where(customer == customer_id).order_by(moment.desc()).limit(limit)
    return (await session.scalars(query)).all()


class TimelineBuilder:
    """One service's timeline items, gathered from its tables in any order."""

    def __init__(self, service: ServiceName) -> None:
        self.service: ServiceName = service
        self.items: list[TimelineItem] = []

    def add(self, at: datetime | None, kind: str, summary: str, ref: str | None) -> None:
        """One item; a moment that has not happened (None) adds nothing."""
        if at is not None:
            item = TimelineItem(service=self.service, at=at, kind=kind, summary=summary, ref=ref)
            self.items.append(item)

    def newest_first(self, limit: int) -> ServiceTimeline:
        return ServiceTimeline.newest_first(self.items, limit)
