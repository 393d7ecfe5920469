"""EventConsumer.process_batch: a poll's records handled together per partition, with the same
guarantees as one by one: effects once, order kept, bad records dead-lettered, the rest done."""

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.customers import AccountUpdatedV1, CustomerCreatedV1, CustomerInfo
from services.runtime.consumer import Delivery, EventConsumer, Incoming, PoisonMessage
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


class BatchHarness(Harness):
    """The same, with customer.created taken by a batch handler (one INSERT for its run) and
    account.updated by a per-event handler that records its customer as a negative number."""

    def __init__(self, db: Database, tables: Tables) -> None:
        super().__init__(db, tables)
        self.calls: list[list[int]] = []

        @self.consumer.on_batch(TOPIC, CustomerCreatedV1)
        async def handle_all(session: AsyncSession, events: Sequence[Incoming]) -> None:
            numbers = []
            for incoming in events:
                assert isinstance(incoming.data, CustomerCreatedV1)
                if incoming.data.customer_id in self.poison:
                    raise PoisonMessage(f"refused {incoming.data.customer_id}")
                numbers.append(int(incoming.data.customer_id.removeprefix("c-")))
            self.calls.append(numbers)
            await session.execute(
                insert(tables.sample).values([{"amount": n, "at": None} for n in numbers])
            )

        @self.consumer.on(TOPIC, AccountUpdatedV1)
        async def handle_one(delivery: Delivery, data: AccountUpdatedV1) -> None:
            number = -int(data.customer_id.removeprefix("c-"))
            await delivery.session.execute(insert(tables.sample).values(amount=number, at=None))


def account_record(number: int) -> "ConsumerRecord[bytes, bytes]":
    data = AccountUpdatedV1(
        customer_id=f"c-{number}",
        login=f"c-{number}",
        disabled=False,
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return consumer_record(TOPIC, event_bytes(data, event_id=f"a-{number}"), offset=number)


def statements_on(db: Database) -> list[str]:
    """Every SQL statement the database is sent from now on."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    return statements


async def test_a_batch_handler_gets_a_partitions_run_in_one_call_and_the_inbox_one_statement(
    db: Database, tables: Tables
) -> None:
    harness = BatchHarness(db, tables)
    statements = statements_on(db)

    await harness.consumer.process_batch([record(n) for n in range(1, 6)])

    assert harness.calls == [[1, 2, 3, 4, 5]]
    assert await harness.handled() == [1, 2, 3, 4, 5]
    inbox_statements = [s for s in statements if "inbox" in s]
    assert len(inbox_statements) == 1
    assert "ON CONFLICT" in inbox_statements[0] and "RETURNING" in inbox_statements[0]


async def test_a_batch_handler_never_sees_a_duplicate(db: Database, tables: Tables) -> None:
    harness = BatchHarness(db, tables)
    await harness.consumer.process_batch([record(1), record(2), record(1)])
    await harness.consumer.process_batch([record(2), record(3), record(3)])

    assert harness.calls == [[1, 2], [3]]
    assert await harness.handled() == [1, 2, 3]


async def test_per_event_handlers_between_batch_runs_keep_the_partition_order(
    db: Database, tables: Tables
) -> None:
    harness = BatchHarness(db, tables)

    await harness.consumer.process_batch(
        [record(1), record(2), account_record(3), record(4), record(5)]
    )

    assert harness.calls == [[1, 2], [4, 5]]
    assert await harness.handled() == [1, 2, -3, 4, 5]


async def test_a_poison_record_in_a_batch_run_is_dead_lettered_and_its_neighbours_handled(
    db: Database, tables: Tables
) -> None:
    harness = BatchHarness(db, tables)
    harness.poison.add("c-3")
    garbage = consumer_record(TOPIC, b"{not json", offset=99)

    await harness.consumer.process_batch([record(1), record(2), garbage, record(3), record(4)])

    assert await harness.handled() == [1, 2, 4]
    unparseable, refused = harness.producer.sent
    assert unparseable.value == b"{not json"
    assert b"refused c-3" in dict(refused.headers)["x-dlq-reason"]
    # Redelivered after a crash: nothing is applied twice, the poison is not retried.
    await harness.consumer.process_batch([record(1), record(2), record(4)])
    assert await harness.handled() == [1, 2, 4]


async def test_a_failing_run_is_halved_until_the_poison_record_stands_alone(
    db: Database, tables: Tables
) -> None:
    harness = BatchHarness(db, tables)
    harness.poison.add("c-3")

    await harness.consumer.process_batch([record(n) for n in range(1, 9)])

    assert harness.calls == [[1, 2], [4], [5, 6, 7, 8]]
    assert await harness.handled() == [1, 2, 4, 5, 6, 7, 8]
    [refused] = harness.producer.sent
    assert b"refused c-3" in dict(refused.headers)["x-dlq-reason"]
