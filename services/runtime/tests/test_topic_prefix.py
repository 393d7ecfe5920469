"""KAFKA_TOPIC_PREFIX on a real broker: a consumer built with one system's prefix reads that
system's topics in that system's group, and nothing of another system on the same broker,
while its handlers keep the system's own topic names."""

import asyncio
import logging
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.contracts import topics
from services.contracts.customers import CustomerCreatedV1
from services.runtime.consumer import Delivery, EventConsumer
from services.runtime.db import Database
from services.runtime.producer import Producer
from services.runtime.tests._helpers import event_bytes
from services.runtime.tests.conftest import Tables
from services.runtime.tests.test_consumer import CREATED
from services.runtime.topics_admin import ensure_topics


@pytest.mark.kafka
@pytest.mark.parametrize("batch_size", [1, 100])
async def test_a_consumer_reads_its_own_system_s_topics_only(
    sqlite_db: Database, tables: Tables, kafka_bootstrap_servers: str, batch_size: int
) -> None:
    ours, theirs = f"t{uuid.uuid4().hex[:8]}.", f"t{uuid.uuid4().hex[:8]}."
    name = topics.CUSTOMERS_EVENTS
    await ensure_topics(kafka_bootstrap_servers, (f"{ours}{name}", f"{theirs}{name}"), partitions=1)
    producer = Producer(kafka_bootstrap_servers, client_id="test-topic-prefix")
    consumer = EventConsumer(
        service="prefixed", db=sqlite_db, inbox=tables.inbox, producer=producer, topic_prefix=ours
    )
    handled: list[tuple[str, str]] = []
    first_handled = asyncio.Event()

    @consumer.on(name, CustomerCreatedV1)
    async def handle(delivery: Delivery, data: CustomerCreatedV1) -> None:
        handled.append((delivery.topic, delivery.event.id))
        first_handled.set()

    broker = KafkaBroker(kafka_bootstrap_servers, logger=logging.getLogger("faststream"))
    consumer.subscribe(broker, batch_size=batch_size)
    await producer.start()
    await broker.start()
    try:
        await producer.send_and_wait(
            f"{theirs}{name}", value=event_bytes(CREATED, event_id="theirs"), key=b"c"
        )
        await producer.send_and_wait(
            f"{ours}{name}", value=event_bytes(CREATED, event_id="ours"), key=b"c"
        )
        async with asyncio.timeout(30):
            await first_handled.wait()
        await asyncio.sleep(1.0)  # room for the other system's record, were it read
    finally:
        await broker.stop()
        await producer.stop()

    assert handled == [(name, "ours")]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        groups = {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    assert f"{ours}prefixed" in groups
    assert "prefixed" not in groups
