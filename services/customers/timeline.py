"""What happened to a customer, as far as this service knows, newest first: built from the
timestamps the tables already keep (no event log of its own)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.bulk.models import CustomerBatchItem
from services.customers.models import Account, Customer, WebshopOrder
from services.customers.profiles.models import Profile
from services.runtime.problems import Problem


class TimelineItem(BaseModel):
    at: datetime
    service: Literal["customers"] = "customers"
    kind: str
    summary: str
    ref: str | None


class Timeline(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = None


async def customer_timeline(session: AsyncSession, customer_id: str, *, limit: int) -> Timeline:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")
    items: list[TimelineItem] = []
    batch_id = await session.scalar(
        select(CustomerBatchItem.batch_id).where(CustomerBatchItem.customer_id == customer_id)
    )
    how = {"manual": "by an operator", "webshop": "from a webshop order"}[customer.source]
    if batch_id is not None:
        how = f"by bulk-add job {batch_id}"
    items.append(
        TimelineItem(
            at=customer.created_at,
            kind="customer.created",
            summary=f"Customer created {how}",
            ref=customer.id,
        )
    )
    account = await session.get(Account, customer_id)
    if account is not None and account.last_login_at is not None:
        items.append(
            TimelineItem(
                at=account.last_login_at,
                kind="account.logged_in",
                summary="Last login to the account",
                ref=None,
            )
        )
    orders = await session.scalars(
        select(WebshopOrder)
        .where(WebshopOrder.customer_id == customer_id)
        .order_by(WebshopOrder.received_at.desc())
        .limit(limit)
    )
    for order in orders:
        items.append(
            TimelineItem(
                at=order.received_at,
                kind="order.received",
                summary=f"Webshop order {order.order_id} from {order.webshop_id} ({order.reply})",
                ref=order.order_id,
            )
        )
    profiles = await session.scalars(
        select(Profile)
        .where(Profile.customer_id == customer_id)
        .order_by(Profile.created_at.desc())
        .limit(limit)
    )
    for profile in profiles:
        kids = " (kids)" if profile.kids else ""
        items.append(
            TimelineItem(
                at=profile.created_at,
                kind="profile.created",
                summary=f"Profile {profile.name!r}{kids} created",
                ref=profile.id,
            )
        )
    # Newest first; at equal times the creation sorts as the older, below its default profile.
    items.sort(key=lambda item: (item.at, item.kind != "customer.created"), reverse=True)
    return Timeline(items=items[:limit])
