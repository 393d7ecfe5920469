"""Erasure: personal data, account and profiles gone, a tombstone left, customer.erased once;
the list and the record no longer show the customer; a repeat changes nothing."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.customers import CustomerInfo
from services.contracts.webshop import Buyer, OrderPaidV1, Payment
from services.customers import listing, models, service, timeline, webshop_orders
from services.customers.erasure import service as erasure
from services.customers.erasure.models import ErasedCustomer
from services.customers.models import Account, Customer, WebshopOrder
from services.customers.profiles.models import Profile
from services.customers.schemas import CustomerCreate
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import of_type, outbox_rows


async def erase(db: Database, outbox: Outbox, customer_id: str) -> datetime:
    async with db.transaction() as session:
        return await erasure.erase_customer(session, outbox, customer_id)


async def rows_of(db: Database, model: type[models.Base], customer_id: str) -> int:
    column = model.id if model is Customer else model.customer_id  # type: ignore[attr-defined]
    async with db.sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(model).where(column == customer_id)
        )
    return int(found or 0)


async def manual_customer(db: Database, outbox: Outbox, key: str | None = None) -> str:
    payload = CustomerCreate(
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        info=CustomerInfo(first_name="Eve", last_name="Secret", email="eve@example.com"),
    )
    async with db.transaction() as session:
        created = await service.create_customer(session, outbox, payload)
    return created.id


async def test_erasure_removes_personal_data_and_leaves_a_tombstone_and_one_event(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await manual_customer(db, outbox)

    erased_at = await erase(db, outbox, customer_id)

    for model in (Customer, Account, Profile):
        assert await rows_of(db, model, customer_id) == 0, model
    async with db.sessions() as session:
        tombstone = await session.get(ErasedCustomer, customer_id)
        page = await listing.list_customers(session, listing.ListFilters(q="secret"))
        with pytest.raises(Problem) as gone:
            await service.get_customer(session, customer_id)
        with pytest.raises(Problem) as no_timeline:
            await timeline.customer_timeline(session, customer_id, limit=10)
    assert tombstone is not None and tombstone.erased_at == erased_at
    assert page.items == [] and page.total == 0
    assert (gone.value.status, no_timeline.value.status) == (404, 404)
    [event] = of_type(await outbox_rows(db, models.outbox), "customer.erased.v1")
    assert event.key == customer_id
    assert event.data == {"customer_id": customer_id, "erased_at": event.data["erased_at"]}


async def test_a_second_erasure_changes_nothing_and_an_unknown_id_is_404(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await manual_customer(db, outbox)
    first = await erase(db, outbox, customer_id)

    again = await erase(db, outbox, customer_id)
    with pytest.raises(Problem) as unknown:
        await erase(db, outbox, "never-existed")

    assert again == first
    assert unknown.value.status == 404
    assert len(of_type(await outbox_rows(db, models.outbox), "customer.erased.v1")) == 1


async def test_billing_events_for_an_erased_customer_bring_nothing_back(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await manual_customer(db, outbox)
    await erase(db, outbox, customer_id)

    async with db.transaction() as session:
        await service.handle_subscription_activated(
            session,
            outbox,
            SubscriptionActivatedV1.model_validate(
                {
                    "customer_id": customer_id,
                    "subscription_id": "s-1",
                    "action": "opened",
                    "webshop_id": "shop-eu",
                    "product_id": "basic",
                    "plan_id": "basic-1m",
                    "extra_product_ids": [],
                    "status": "active",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "expires_at": "2026-02-01T00:00:00Z",
                    "max_devices": 2,
                    "device_policy": "reject",
                    "starts_on_first_login": False,
                    "order_id": None,
                }
            ),
        )

    assert await rows_of(db, Customer, customer_id) == 0


async def test_a_webshop_customer_keeps_its_order_rows_without_a_password(
    db: Database, outbox: Outbox
) -> None:
    order = OrderPaidV1(
        order_id="o-9",
        webshop_id="shop-eu",
        buyer=Buyer(external_id="x-9", email="w@example.com", first_name="W", last_name="Shop"),
        product_id="basic",
        plan_id="basic-1m",
        amount=Decimal("9.99"),
        currency="EUR",
        paid_at=datetime(2026, 1, 1, tzinfo=UTC),
        payment=Payment(provider="card", reference="r-9"),
    )
    async with db.transaction() as session:
        await webshop_orders.handle_order_paid(session, outbox, order)
    async with db.sessions() as session:
        customer_id = (await session.scalars(select(Customer.id))).one()

    await erase(db, outbox, customer_id)

    async with db.sessions() as session:
        kept = await session.get(WebshopOrder, ("shop-eu", "o-9"))
    assert kept is not None and kept.generated_password is None
