"""A partition's run of subscription.activated (a renewal run brings one an order), applied
together: the same outcome as one by one (each customer's last limit, policy and status kept,
each change announced, the devices seen longest ago evicted down to the limit once, an erased
customer left alone, a poison record dead-lettered alone), in one statement per step."""

from datetime import timedelta
from typing import cast

from sqlalchemy import select

from services.activity import models
from services.activity.models import Device, DeviceLimit
from services.activity.tests.conftest import Feed, process_batch_seeing_statements
from services.activity.tests.events import activated, connected, now
from services.contracts import topics
from services.contracts.customers import CustomerErasedV1
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    envelope_bytes,
    event_bytes,
    of_type,
    outbox_rows,
)

ONE, TWO, ERASED, STRANGER = (f"c0ffee00-0000-4000-8000-00000000020{i}" for i in range(4))


async def test_a_batch_of_activations_applies_each_customers_in_order(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    for customer_id in (ONE, TWO, ERASED):
        await feed(activated(3, customer_id=customer_id, policy="evict_oldest"))
    start = now() - timedelta(hours=1)
    for minutes, device_id in enumerate(("a", "b", "c")):
        await feed(connected(device_id, customer_id=ONE, at=start + timedelta(minutes=minutes)))
    await feed(CustomerErasedV1(customer_id=ERASED, erased_at=now()))
    already = len(await outbox_rows(db, models.outbox))

    renewal = event_bytes(activated(3, customer_id=TWO, product_id="premium"))
    values = [
        renewal,
        event_bytes(activated(1, customer_id=ONE)),  # lowered, then raised in the same run:
        event_bytes(activated(2, customer_id=ONE, product_id="family")),  # the last one stays
        renewal,  # delivered twice in one poll
        event_bytes(activated(2, customer_id=ERASED)),
        envelope_bytes("subscription.activated.v1", {"customer_id": ONE}, event_id="poison"),
        event_bytes(activated(4, customer_id=STRANGER, status="trial")),
    ]
    records = [
        consumer_record(topics.BILLING_EVENTS, value, offset=i) for i, value in enumerate(values)
    ]
    statements = await process_batch_seeing_statements(runtime, records)

    [poison] = cast(RecordingProducer, runtime.consumer.producer).sent
    assert "violates its schema" in poison.header("x-dlq-reason")
    rows = (await outbox_rows(db, models.outbox))[already:]
    changes = [(r.key, r.data["max_devices"]) for r in of_type(rows, "device_limit.changed.v1")]
    assert changes == [(ONE, 1), (ONE, 2), (STRANGER, 4)]
    unbound = of_type(rows, "device.unbound.v1")
    # Evicted once, down to the limit the batch leaves (2): the device seen longest ago.
    assert [(r.key, r.data["device_id"], r.data["reason"]) for r in unbound] == [
        (ONE, "a", "evicted_by_limit")
    ]
    async with db.sessions() as session:
        limits = {
            row.customer_id: (row.product_id, row.max_devices, row.subscription_status, row.erased)
            for row in (await session.scalars(select(DeviceLimit))).all()
        }
        devices = sorted((await session.scalars(select(Device.id))).all())
    assert limits[ONE] == ("family", 2, "active", False)
    assert limits[TWO] == ("premium", 3, "active", False)
    assert limits[ERASED] == (None, None, None, True)
    assert limits[STRANGER] == ("basic", 4, "trial", False)
    assert devices == ["b", "c"]
    # Set-based: the limit rows locked by one statement and the devices counted by one, not a
    # lock and a count for each event.
    locked = "SELECT DEVICE_LIMIT.CUSTOMER_ID, DEVICE_LIMIT.MAX_DEVICES,"
    locks = [s for s in statements if s.startswith(locked)]
    assert len(locks) == 1
    assert len([s for s in statements if s.startswith("SELECT DEVICE.CUSTOMER_ID, COUNT(*)")]) == 1
    assert not [s for s in statements if s.startswith("SELECT COUNT(*) AS")]
