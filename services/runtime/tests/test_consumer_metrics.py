"""The consumer's dead-letter counters exist, at 0, from the moment it subscribes: the alert on
their rate (DeadLettersArriving) sees the first dead letters, not only those after them."""

import logging

from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from services.contracts import topics
from services.contracts.customers import CustomerCreatedV1
from services.runtime.consumer import Delivery, EventConsumer
from services.runtime.db import Database
from services.runtime.producer import Producer
from services.runtime.tests.conftest import Tables


async def test_each_subscribed_topic_has_its_dead_letter_count_at_zero(
    sqlite_db: Database, tables: Tables
) -> None:
    consumer = EventConsumer(
        service="metrics-at-zero",
        db=sqlite_db,
        inbox=tables.inbox,
        producer=Producer("127.0.0.1:1", client_id="unused"),
    )

    @consumer.on(topics.CUSTOMERS_EVENTS, CustomerCreatedV1)
    async def handle(delivery: Delivery, data: CustomerCreatedV1) -> None:
        pass

    labels = {"service": "metrics-at-zero", "topic": topics.CUSTOMERS_EVENTS}
    assert REGISTRY.get_sample_value("events_dead_lettered_total", labels) is None

    consumer.subscribe(KafkaBroker("127.0.0.1:1", logger=logging.getLogger("faststream")))

    assert REGISTRY.get_sample_value("events_dead_lettered_total", labels) == 0
