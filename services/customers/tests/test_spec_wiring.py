"""The customers service as wired by its ServiceSpec, driven through FastStream's in-memory
TestKafkaBroker: a paid order on webshop.orders reaches handle_order_paid."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import pytest
from faststream.kafka import TestKafkaBroker

from services.contracts import topics
from services.contracts.webshop import Buyer, OrderPaidV1, Payment
from services.customers import models
from services.customers.app import SPEC
from services.runtime.db import Database
from services.runtime.tests._helpers import (
    RecordingProducer,
    event_bytes,
    outbox_rows,
    service_runtime,
)

ORDER = OrderPaidV1(
    order_id="o-42",
    webshop_id="shop-eu",
    buyer=Buyer(external_id="ext-42", email="ann@example.com", first_name="Ann", last_name="Lee"),
    product_id="basic",
    plan_id="basic-1m",
    amount=Decimal("9.99"),
    currency="EUR",
    paid_at=datetime(2025, 1, 2, tzinfo=UTC),
    payment=Payment(provider="stripe", reference="pay-42"),
)


@pytest.mark.parametrize("workers", [1, 3])
async def test_a_paid_order_published_to_webshop_orders_places_the_order(
    db: Database, workers: int
) -> None:
    async with (
        service_runtime(SPEC, db, consumer_workers=workers) as rt,
        TestKafkaBroker(rt.broker) as broker,
    ):
        value = event_bytes(ORDER, source="/webshops/shop-eu", event_id="w-1")
        await broker.publish(value, topic=topics.WEBSHOP_ORDERS, key=b"o-42")
        await broker.publish(value, topic=topics.WEBSHOP_ORDERS, key=b"o-42")  # redelivered

    rows = await outbox_rows(db, models.outbox)
    assert [r.type for r in rows] == [
        "customer.created.v1",
        "profile.created.v1",
        "customer.order_placed.v1",
    ]
    assert rows[2].data["order"]["order_id"] == "o-42"
    assert rows[2].event.source == "/services/customers"


async def test_a_record_that_does_not_parse_is_dead_lettered_through_the_broker(
    db: Database,
) -> None:
    async with (
        service_runtime(SPEC, db) as rt,
        TestKafkaBroker(rt.broker) as broker,
    ):
        # Declared JSON, as webshops send it: the body must still reach our parser.
        await broker.publish(
            b'{"id": "w-1", "type": ',
            topic=topics.WEBSHOP_ORDERS,
            key=b"o-1",
            headers={"content-type": "application/json"},
        )

    dead_letters = cast(RecordingProducer, rt.consumer.producer).sent
    [sent] = dead_letters
    assert sent.topic == f"{topics.WEBSHOP_ORDERS}.dlq"
    assert sent.value == b'{"id": "w-1", "type": '
    assert "invalid CloudEvent envelope" in sent.header("x-dlq-reason")
    assert await outbox_rows(db, models.outbox) == []
