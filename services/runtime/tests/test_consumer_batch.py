"""EventConsumer.process_batch: a poll's records handled together per partition, with the same
guarantees as one by one: effects once, order kept, bad records dead-lettered, the rest done."""

from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from sqlalchemy import insert, select

from services.contracts.customers import CustomerCreatedV1, CustomerInfo
from services.runtime.consumer import Delivery, EventConsumer, PoisonMessage
from services.runtime.db import Database
from services.runtime.tests._helpers import RecordingProducer, consumer_record, event_bytes
from services.runtime.tests.conftest import Tables

TOPIC = "customers.events"


def created(customer_id: str) -> CustomerCreatedV1:
    return CustomerCreatedV1(
        customer_id=customer_id,
        source="manual",
        webshop_id="shop-eu",
        login=customer_id,
        info=CustomerInfo(first_name="Jane", last_name="Doe"),
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        order=None,
    )


class Harness:
    """Records, in the `sample` table's `amount` column, the order in which customers arrive
    (as their numeric suffix); a customer id in `poison` makes the handler refuse it."""

    def __init__(self, db: Database, tables: Tables) -> None:
        self.db = db
        self.tables = tables
        self.producer = RecordingProducer()
        self.poison: set[str] = set()
        self.consumer = EventConsumer(
            service="test",
            db=db,
            inbox=tables.inbox,
            producer=self.producer.as_producer(),
            max_attempts=2,
            max_backoff_seconds=0.001,
        )

        @self.consumer.on(TOPIC, CustomerCreatedV1)
        async def handle(delivery: Delivery, data: CustomerCreatedV1) -> None:
            if data.customer_id in self.poison:
                raise PoisonMessage(f"refused {data.customer_id}")
            number = int(data.customer_id.removeprefix("c-"))
            await delivery.session.execute(insert(tables.sample).values(amount=number, at=None))

    async def handled(self) -> list[int]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(self.tables.sample.c.amount).order_by(self.tables.sample.c.id)
            )
            return [int(v) for v in rows.all()]


def record(
    number: int, *, partition: int = 0, event_id: str | None = None
) -> "ConsumerRecord[bytes, bytes]":
    return consumer_record(
        TOPIC,
        event_bytes(created(f"c-{number}"), event_id=event_id or f"e-{number}"),
        partition=partition,
        offset=number,
    )


async def test_a_batch_is_handled_in_partition_order(db: Database, tables: Tables) -> None:
    harness = Harness(db, tables)
    records = [record(n, partition=n % 2) for n in range(1, 9)]

    await harness.consumer.process_batch(records)

    handled = await harness.handled()
    assert sorted(handled) == list(range(1, 9))
    for partition in (0, 1):
        in_partition = [n for n in handled if n % 2 == partition]
        assert in_partition == sorted(in_partition)


async def test_duplicates_within_and_across_batches_take_effect_once(
    db: Database, tables: Tables
) -> None:
    harness = Harness(db, tables)
    first = [record(1), record(2), record(1)]  # the same event twice in one poll
    await harness.consumer.process_batch(first)
    await harness.consumer.process_batch([record(2), record(3)])

    assert await harness.handled() == [1, 2, 3]


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_its_batch_handled(
    db: Database, tables: Tables
) -> None:
    harness = Harness(db, tables)
    harness.poison.add("c-2")

    await harness.consumer.process_batch([record(1), record(2), record(3)])

    assert await harness.handled() == [1, 3]
    assert [sent.topic for sent in harness.producer.sent] == [f"{TOPIC}.dlq"]
    reasons = dict(harness.producer.sent[0].headers)
    assert b"refused c-2" in reasons["x-dlq-reason"]


async def test_an_unparseable_record_in_a_batch_is_dead_lettered_alone(
    db: Database, tables: Tables
) -> None:
    harness = Harness(db, tables)
    garbage = consumer_record(TOPIC, b"{not json", offset=99)

    await harness.consumer.process_batch([record(1), garbage, record(2)])

    assert await harness.handled() == [1, 2]
    assert [sent.value for sent in harness.producer.sent] == [b"{not json"]
