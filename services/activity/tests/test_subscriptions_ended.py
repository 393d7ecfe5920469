"""A month end's subscription ends, a partition's batch at a time: the same outcome as one by
one (connected devices logged out once, the customer refused until a renewal, an erased
customer left alone, a stranger remembered as ended), in one statement per step."""

from sqlalchemy import select

from services.activity import models
from services.activity.models import Device, DeviceLimit
from services.activity.tests.conftest import Feed, process_batch_seeing_statements
from services.activity.tests.events import activated, connected, now
from services.contracts import topics
from services.contracts.apps import DeviceDisconnectedV1
from services.contracts.billing import SubscriptionCancelledV1, SubscriptionExpiredV1
from services.contracts.customers import CustomerErasedV1
from services.contracts.envelope import CloudEvent, EventData
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import consumer_record, event_bytes, of_type, outbox_rows

ONE, TWO, ERASED, STRANGER = (f"c0ffee00-0000-4000-8000-00000000010{i}" for i in range(4))


def expired(customer_id: str) -> SubscriptionExpiredV1:
    return SubscriptionExpiredV1(
        customer_id=customer_id, subscription_id="sub-1", product_id="basic", expired_at=now()
    )


def cancelled(customer_id: str) -> SubscriptionCancelledV1:
    return SubscriptionCancelledV1(
        customer_id=customer_id, subscription_id="sub-1", product_id="basic", cancelled_at=now()
    )


async def test_a_batch_of_ended_subscriptions_logs_out_each_connected_device_once(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    for customer_id in (ONE, TWO, ERASED):
        await feed(activated(3, customer_id=customer_id))
    for customer_id, device_id in ((ONE, "a"), (ONE, "b"), (TWO, "c"), (TWO, "d"), (ERASED, "e")):
        await feed(connected(device_id, customer_id=customer_id))
    await feed(DeviceDisconnectedV1(customer_id=TWO, device_id="d", at=now()))
    await feed(CustomerErasedV1(customer_id=ERASED, erased_at=now()))
    ends: list[EventData] = [
        expired(TWO),
        expired(ONE),
        expired(ERASED),
        expired(STRANGER),
        cancelled(TWO),  # the last of TWO's: cancelled
    ]
    raws = [event_bytes(e) for e in ends]
    records = [
        consumer_record(topics.BILLING_EVENTS, raw, offset=i)
        for i, raw in enumerate([*raws, raws[1]])  # ONE's expiry delivered twice
    ]
    statements = await process_batch_seeing_statements(runtime, records)

    logouts = of_type(await outbox_rows(db, models.outbox), "device.logout.v1")
    assert sorted((r.key, r.data["device_id"], r.data["reason"]) for r in logouts) == [
        (ONE, "a", "subscription_ended"),
        (ONE, "b", "subscription_ended"),
        (TWO, "c", "subscription_ended"),
        (ERASED, "e", "erased"),  # at the erasure, not again now
    ]
    async with db.sessions() as session:
        limits = {
            row.customer_id: (row.subscription_status, row.erased)
            for row in (await session.scalars(select(DeviceLimit))).all()
            if row.customer_id in (ONE, TWO, ERASED, STRANGER)
        }
        still_connected = (
            await session.scalars(select(Device.id).where(Device.connected.is_(True)))
        ).all()
    assert limits == {
        ONE: ("expired", False),
        TWO: ("cancelled", False),
        ERASED: (None, True),
        STRANGER: ("expired", False),
    }
    assert still_connected == []
    # Set-based: the limit rows locked in one statement, the devices logged out by one UPDATE,
    # not a read of each customer's limit and devices.
    locks = [
        s
        for s in statements
        if s.startswith("SELECT DEVICE_LIMIT.CUSTOMER_ID, DEVICE_LIMIT.MAX_DEVICES,")
    ]
    assert len(locks) == 1
    assert len([s for s in statements if s.startswith("UPDATE DEVICE SET")]) == 1
    assert not [s for s in statements if s.startswith("SELECT DEVICE.")]

    # Until a renewal nothing connects.
    await feed(connected("a", customer_id=ONE))
    [rejected] = of_type(await outbox_rows(db, models.outbox), "device.rejected.v1")
    assert (rejected.key, rejected.data["reason"]) == (ONE, "no_active_subscription")


async def test_each_logout_continues_the_trace_of_the_event_that_ended_its_subscription(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    """Thousands of ends in one set-based run, yet each logout is in its subscription's trace:
    that of the customer's last event of the batch, the one that decided their status."""
    for customer_id, device_id in ((ONE, "a"), (TWO, "b")):
        await feed(activated(3, customer_id=customer_id))
        await feed(connected(device_id, customer_id=customer_id))
    ends: list[tuple[EventData, str]] = [
        (expired(ONE), "1" * 32),
        (expired(TWO), "2" * 32),
        (cancelled(TWO), "3" * 32),  # TWO's last: its trace is the logout's
    ]
    records = [
        consumer_record(
            topics.BILLING_EVENTS,
            CloudEvent.wrap(
                data, source="/services/billing", subject=None, traceparent=f"00-{t}-{'a' * 16}-01"
            ).to_bytes(),
            offset=n,
        )
        for n, (data, t) in enumerate(ends)
    ]
    await runtime.consumer.process_batch(records)

    logouts = of_type(await outbox_rows(db, models.outbox), "device.logout.v1")
    assert sorted((r.key, (r.event.traceparent or "")[3:35]) for r in logouts) == [
        (ONE, "1" * 32),
        (TWO, "3" * 32),
    ]
