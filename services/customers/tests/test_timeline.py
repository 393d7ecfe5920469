"""The customers service's part of the timeline: creation, webshop orders, profiles, newest
first, in the shape every service answers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from services.contracts.webshop import Buyer, OrderPaidV1, Payment
from services.customers import listing, timeline, webshop_orders
from services.customers.profiles import service as profiles
from services.customers.profiles.models import Profile
from services.runtime.db import Database
from services.runtime.outbox import Outbox


async def test_timeline_lists_creation_orders_and_profiles_newest_first(
    db: Database, outbox: Outbox
) -> None:
    order = OrderPaidV1(
        order_id="o-t",
        webshop_id="shop-eu",
        buyer=Buyer(email="t@example.com", first_name="Tia", last_name="Line"),
        product_id="basic",
        plan_id="basic-1m",
        amount=Decimal("9.99"),
        currency="EUR",
        paid_at=datetime(2026, 1, 1, tzinfo=UTC),
        payment=Payment(provider="card", reference="r-t"),
    )
    async with db.transaction() as session:
        await webshop_orders.handle_order_paid(session, outbox, order)
    async with db.sessions() as session:
        [customer] = (await listing.list_customers(session, listing.ListFilters())).items
    async with db.transaction() as session:
        kids = await profiles.create_profile(
            session, outbox, customer.id, profiles.ProfileCreate(name="Kids", kids=True)
        )
        # A profile made an hour later, so the order of the three is certain.
        later = datetime.now(UTC) + timedelta(hours=1)
        await session.execute(update(Profile).where(Profile.id == kids.id).values(created_at=later))

    async with db.sessions() as session:
        found = await timeline.customer_timeline(session, customer.id, limit=200)
        first_two = await timeline.customer_timeline(session, customer.id, limit=2)

    kinds = [item.kind for item in found.items]
    # The order row is written just after the customer and its default profile.
    assert kinds == ["profile.created", "order.received", "profile.created", "customer.created"]
    assert [i.at for i in found.items] == sorted((i.at for i in found.items), reverse=True)
    assert found.items[0].ref == kids.id and "(kids)" in found.items[0].summary
    assert found.items[1].ref == "o-t"
    assert "webshop" in found.items[-1].summary
    assert {i.service for i in found.items} == {"customers"}
    assert found.next_cursor is None
    assert first_two.items == found.items[:2]
