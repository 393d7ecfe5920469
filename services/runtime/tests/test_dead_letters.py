"""The dead-letter desk on a real broker: a record the consumer set aside is listed with its
reason, replayed once the cause is fixed (for that consumer alone), and never replayed twice."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import insert

from services.contracts.customers import CustomerCreatedV1, CustomerInfo
from services.runtime.consumer import Delivery, EventConsumer, PoisonMessage
from services.runtime.db import Database
from services.runtime.dead_letters import DeadLetterDesk
from services.runtime.producer import Producer
from services.runtime.tests._helpers import consumer_record, event_bytes
from services.runtime.tests.conftest import Tables
from services.runtime.topics_admin import ensure_topics

pytestmark = pytest.mark.kafka

CREATED = CustomerCreatedV1(
    customer_id="customer-1",
    source="manual",
    webshop_id="shop-eu",
    login="jane",
    info=CustomerInfo(first_name="Jane", last_name="Doe"),
    created_at=datetime(2025, 1, 1, tzinfo=UTC),
    order=None,
)


async def _read_all(servers: str, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        for _ in range(50):
            batches = await reader.getmany(timeout_ms=200)
            records += [r for rs in batches.values() for r in rs]
            if len(records) >= count:
                break
        return records
    finally:
        await reader.stop()


async def test_a_dead_letter_is_listed_replayed_for_its_consumer_once_and_then_handled(
    kafka_bootstrap_servers: str, sqlite_db: Database, tables: Tables, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    source = f"{prefix}customers.events"
    await ensure_topics(kafka_bootstrap_servers, (source, f"{source}.dlq"), partitions=2)
    producer = Producer(kafka_bootstrap_servers, client_id="test")
    await producer.start()
    broken = True
    handled: list[str] = []
    consumers = {
        name: EventConsumer(service=name, db=sqlite_db, inbox=tables.inbox, producer=producer)
        for name in ("billing", "tickets")
    }

    @consumers["billing"].on(source, CustomerCreatedV1)
    async def handle(delivery: Delivery, data: CustomerCreatedV1) -> None:
        if broken:
            raise PoisonMessage("no such webshop 'shop-eu' (yet)")
        await delivery.session.execute(insert(tables.sample).values(amount=None, at=None))
        handled.append(delivery.event.id)

    @consumers["tickets"].on(source, CustomerCreatedV1)
    async def ignore(delivery: Delivery, data: CustomerCreatedV1) -> None:
        handled.append(f"tickets:{delivery.event.id}")

    desk = DeadLetterDesk(kafka_bootstrap_servers, prefix=prefix)
    try:
        record = consumer_record(source, event_bytes(CREATED, event_id="e-1"), offset=41)
        assert await consumers["billing"].process(source, record) == "dead_lettered"

        [listing] = await desk.topics(["customers.events"])
        assert (listing.topic, listing.total, listing.pending) == ("customers.events.dlq", 1, 1)
        [letter], more = await desk.read("customers.events")
        assert more is None
        assert letter.reason == "no such webshop 'shop-eu' (yet)"
        assert (letter.consumer, letter.source_topic, letter.source_offset) == (
            "billing",
            source,
            41,
        )
        assert (letter.event_type, letter.event_id, letter.replayed) == (
            "customer.created.v1",
            "e-1",
            False,
        )

        broken = False  # the cause is fixed
        replay = await desk.replay("customers.events")
        assert (replay.replayed, replay.unroutable) == (1, 0)
        assert replay.by_source == {"customers.events": 1}
        again = await desk.replay("customers.events")
        assert again.replayed == 0  # nothing is sent twice

        [back] = await _read_all(kafka_bootstrap_servers, source, 1)
        headers = dict(back.headers)
        assert headers["x-replay-for"] == b"billing"
        assert headers["x-replayed-from"].startswith(f"{source}.dlq/".encode())
        assert not [k for k in headers if k.startswith("x-dlq-")]
        assert await consumers["tickets"].process(source, back) == "ignored"
        assert await consumers["billing"].process(source, back) == "handled"
        assert handled == ["e-1"]

        [listing] = await desk.topics(["customers.events"])
        assert (listing.total, listing.pending) == (1, 0)
        [letter], _ = await desk.read("customers.events")
        assert letter.replayed
        assert (await desk.read("customers.events", pending_only=True))[0] == []
    finally:
        await producer.stop()


async def test_a_topic_without_dead_letters_lists_as_empty(kafka_bootstrap_servers: str) -> None:
    desk = DeadLetterDesk(kafka_bootstrap_servers, prefix=f"t{uuid.uuid4().hex[:8]}.")
    [listing] = await desk.topics(["apps.events"])
    assert (listing.total, listing.pending) == (0, 0)
    assert await desk.read("apps.events") == ([], None)
    assert (await desk.replay("apps.events")).replayed == 0
