"""What happened to a customer, as far as this service knows, newest first: built from the
timestamps the tables already keep (no event log of its own)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.timeline import ServiceTimeline
from services.customers.bulk.models import CustomerBatchItem
from services.customers.models import Account, Customer, WebshopOrder
from services.customers.profiles.models import Profile
from services.runtime.problems import Problem
from services.runtime.timeline import TimelineBuilder, newest


async def customer_timeline(
    session: AsyncSession, customer_id: str, *, limit: int
) -> ServiceTimeline:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")
    batch_id = await session.scalar(
        select(CustomerBatchItem.batch_id).where(CustomerBatchItem.customer_id == customer_id)
    )
    how = {"manual": "by an operator", "webshop": "from a webshop order"}[customer.source]
    if batch_id is not None:
        how = f"by bulk-add job {batch_id}"
    timeline = TimelineBuilder("customers")
    for profile in await newest(session, Profile, Profile.created_at, customer_id, limit):
        kids = " (kids)" if profile.kids else ""
        summary = f"Profile {profile.name!r}{kids} created"
        timeline.add(profile.created_at, "profile.created", summary, profile.id)
    account = await session.get(Account, customer_id)
    if account is not None:
        timeline.add(account.last_login_at, "account.logged_in", "Last login to the account", None)
    for order in await newest(session, WebshopOrder, WebshopOrder.received_at, customer_id, limit):
        summary = f"Webshop order {order.order_id} from {order.webshop_id} ({order.reply})"
        timeline.add(order.received_at, "order.received", summary, order.order_id)
    # Added last, the creation sorts below what happened at its instant (its default profile,
    # the order that made it): newest_first keeps the order of equal moments.
    timeline.add(customer.created_at, "customer.created", f"Customer created {how}", customer.id)
    return timeline.newest_first(limit)
