"""The device limit follows the customer's product; device_limit.changed is announced only when
the limit changes."""

from datetime import UTC, datetime, timedelta

from services.activity import customer_events, devices, models
from services.activity.app import SPEC
from services.activity.models import DeviceLimit
from services.contracts import topics
from services.contracts.billing import SubscriptionAction, SubscriptionActivatedV1
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import (
    consumer_record,
    event_bytes,
    outbox_rows,
    service_runtime,
)

CUSTOMER = "c0ffee00-0000-4000-8000-000000000002"
CHANGED = "device_limit.changed.v1"
OFFLINE_AFTER = timedelta(seconds=90)


def activated(
    product_id: str, max_devices: int, action: SubscriptionAction = "opened"
) -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=CUSTOMER,
        subscription_id="sub-1",
        order_id=None,
        action=action,
        webshop_id="shop-eu",
        product_id=product_id,
        plan_id=f"{product_id}-1m",
        extra_product_ids=[],
        status="active",
        starts_at=datetime(2025, 1, 1, tzinfo=UTC),
        expires_at=datetime(2025, 2, 1, tzinfo=UTC),
        max_devices=max_devices,
    )


async def follow(db: Database, outbox: Outbox, event: SubscriptionActivatedV1) -> None:
    async with db.transaction() as session:
        await customer_events.follow_subscription(session, outbox, event)


async def limit_of(db: Database) -> DeviceLimit | None:
    async with db.sessions() as session:
        return await session.get(DeviceLimit, CUSTOMER)


async def announced(db: Database) -> list[int]:
    rows = await outbox_rows(db, models.outbox)
    assert {(r.type, r.topic, r.key) for r in rows} <= {(CHANGED, topics.ACTIVITY_EVENTS, CUSTOMER)}
    return [r.data["max_devices"] for r in rows]


async def test_the_first_subscription_sets_and_announces_the_limit(
    db: Database, outbox: Outbox
) -> None:
    await follow(db, outbox, activated("basic", 2))

    limit = await limit_of(db)
    assert limit is not None
    assert (limit.product_id, limit.max_devices) == ("basic", 2)
    assert await announced(db) == [2]
    async with db.sessions() as session:
        assert (
            await devices.list_devices(session, CUSTOMER, offline_after=OFFLINE_AFTER)
        ).max_devices == 2


async def test_a_renewal_of_the_same_product_announces_nothing(
    db: Database, outbox: Outbox
) -> None:
    await follow(db, outbox, activated("basic", 2))
    await follow(db, outbox, activated("basic", 2, "renewed"))

    assert await announced(db) == [2]


async def test_a_product_with_another_limit_changes_and_announces_it(
    db: Database, outbox: Outbox
) -> None:
    await follow(db, outbox, activated("basic", 2))
    await follow(db, outbox, activated("premium", 5, "changed"))
    await follow(db, outbox, activated("basic", 2, "changed"))

    limit = await limit_of(db)
    assert limit is not None
    assert (limit.product_id, limit.max_devices) == ("basic", 2)
    assert await announced(db) == [2, 5, 2]


async def test_a_product_with_the_same_limit_is_followed_without_an_announcement(
    db: Database, outbox: Outbox
) -> None:
    await follow(db, outbox, activated("basic", 2))
    await follow(db, outbox, activated("family", 2, "changed"))

    limit = await limit_of(db)
    assert limit is not None
    assert (limit.product_id, limit.max_devices) == ("family", 2)
    assert await announced(db) == [2]


async def test_a_customer_without_a_subscription_has_no_limit(db: Database) -> None:
    async with db.sessions() as session:
        page = await devices.list_devices(session, CUSTOMER, offline_after=OFFLINE_AFTER)
    assert (page.max_devices, page.items) == (None, [])


async def test_billing_events_reach_the_limit_through_the_consumer(db: Database) -> None:
    async with service_runtime(SPEC, db) as rt:
        for number, event in enumerate([activated("basic", 2), activated("premium", 5)]):
            record = consumer_record(
                topics.BILLING_EVENTS, event_bytes(event, event_id=f"e{number}")
            )
            assert await rt.consumer.process(topics.BILLING_EVENTS, record) == "handled"

    assert await announced(db) == [2, 5]
