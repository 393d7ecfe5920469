"""EventConsumer.process: the inbox makes effects happen once, bad records go to the DLQ with the
reason, transient failures are retried and a handler that keeps failing is dead-lettered."""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from services.contracts.customers import CustomerCreatedV1, CustomerInfo
from services.contracts.envelope import CloudEvent
from services.contracts.webshop import OrderRefundedV1
from services.runtime.consumer import Delivery, EventConsumer, PoisonMessage
from services.runtime.db import Database
from services.runtime.logging_setup import JsonFormatter
from services.runtime.metrics import EVENTS_DEAD_LETTERED
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    envelope_bytes,
    event_bytes,
)
from services.runtime.tests.conftest import Tables

TOPIC = "customers.events"
CREATED = CustomerCreatedV1(
    customer_id="customer-1",
    source="manual",
    webshop_id="shop-eu",
    login="jane",
    info=CustomerInfo(first_name="Jane", last_name="Doe"),
    created_at=datetime(2025, 1, 1, tzinfo=UTC),
    order=None,
)


class Harness:
    """A consumer with one handler for customer.created on TOPIC; the handler records the event
    id in the `sample` table (inside the delivery's transaction) and then runs `behaviour`."""

    def __init__(
        self, db: Database, tables: Tables, *, max_attempts: int = 3, topic_prefix: str = ""
    ) -> None:
        self.db = db
        self.tables = tables
        self.producer = RecordingProducer()
        self.calls = 0
        self.behaviour: Callable[[int], None] = lambda attempt: None
        self.consumer = EventConsumer(
            service="test",
            db=db,
            inbox=tables.inbox,
            producer=self.producer.as_producer(),
            max_attempts=max_attempts,
            max_backoff_seconds=0.001,
            topic_prefix=topic_prefix,
        )

        @self.consumer.on(TOPIC, CustomerCreatedV1)
        async def handle(delivery: Delivery, data: CustomerCreatedV1) -> None:
            self.calls += 1
            await delivery.session.execute(insert(tables.sample).values(amount=None, at=None))
            self.behaviour(self.calls)

    async def effects(self) -> int:
        async with self.db.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(self.tables.sample))
        return int(count or 0)

    async def inbox_ids(self) -> list[str]:
        async with self.db.sessions() as session:
            return list((await session.scalars(select(self.tables.inbox.c.event_id))).all())


@pytest.fixture
def harness(db: Database, tables: Tables) -> Harness:
    return Harness(db, tables)


async def test_an_event_is_handled_once_and_its_id_kept_in_the_inbox(harness: Harness) -> None:
    record = consumer_record(TOPIC, event_bytes(CREATED, source="/services/x", event_id="e-1"))

    assert await harness.consumer.process(TOPIC, record) == "handled"

    assert await harness.effects() == 1
    assert await harness.inbox_ids() == ["/services/x#e-1"]
    assert harness.producer.sent == []


async def test_the_same_event_twice_has_its_effect_once(harness: Harness) -> None:
    record = consumer_record(TOPIC, event_bytes(CREATED, event_id="e-1"))

    assert await harness.consumer.process(TOPIC, record) == "handled"
    assert await harness.consumer.process(TOPIC, record) == "duplicate"

    assert harness.calls == 1
    assert await harness.effects() == 1


async def test_the_same_id_from_another_source_is_another_event(harness: Harness) -> None:
    first = consumer_record(TOPIC, event_bytes(CREATED, source="/a", event_id="e-1"))
    second = consumer_record(TOPIC, event_bytes(CREATED, source="/b", event_id="e-1"))

    assert await harness.consumer.process(TOPIC, first) == "handled"
    assert await harness.consumer.process(TOPIC, second) == "handled"
    assert await harness.effects() == 2


async def test_invalid_json_goes_to_the_dlq_as_it_was(harness: Harness) -> None:
    raw = b'{"specversion": "1.0", "id": '
    record = consumer_record(
        TOPIC, raw, key=b"customer-9", partition=4, offset=17, headers=[("trace", b"abc")]
    )

    dead_lettered = EVENTS_DEAD_LETTERED.labels("test", TOPIC)
    before = dead_lettered._value.get()

    assert await harness.consumer.process(TOPIC, record) == "dead_lettered"

    assert dead_lettered._value.get() == before + 1
    [sent] = harness.producer.sent
    assert sent.topic == "customers.events.dlq"
    assert (sent.value, sent.key) == (raw, b"customer-9")
    assert "invalid CloudEvent envelope" in sent.header("x-dlq-reason")
    assert sent.header("x-dlq-source-topic") == TOPIC
    assert sent.header("x-dlq-source-partition") == "4"
    assert sent.header("x-dlq-source-offset") == "17"
    assert sent.header("x-dlq-consumer") == "test"
    assert sent.header("trace") == "abc"  # the original headers travel along
    assert harness.calls == 0
    assert await harness.inbox_ids() == []


async def test_under_a_topic_prefix_the_dlq_and_the_source_header_carry_it(
    db: Database, tables: Tables
) -> None:
    # The dead-letter desk replays to the source header as it is, so it names the topic as it
    # is on the broker; handlers and the inbox keep the system's name.
    harness = Harness(db, tables, topic_prefix="t1.")
    record = consumer_record(f"t1.{TOPIC}", b"not json")

    assert await harness.consumer.process(TOPIC, record) == "dead_lettered"

    [sent] = harness.producer.sent
    assert sent.topic == f"t1.{TOPIC}.dlq"
    assert sent.header("x-dlq-source-topic") == f"t1.{TOPIC}"


async def test_an_envelope_without_data_goes_to_the_dlq_naming_the_field(
    harness: Harness,
) -> None:
    raw = json.dumps(
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "/x",
            "type": CREATED.event_type,
            "time": "2025-01-01T00:00:00Z",
        }
    ).encode()

    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, raw)) == "dead_lettered"

    [sent] = harness.producer.sent
    assert "data" in sent.header("x-dlq-reason")


async def test_a_schema_violation_goes_to_the_dlq_naming_the_field(harness: Harness) -> None:
    data = CREATED.model_dump(mode="json")
    del data["login"]
    raw = envelope_bytes(CREATED.event_type, data)

    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, raw)) == "dead_lettered"

    [sent] = harness.producer.sent
    reason = sent.header("x-dlq-reason")
    assert reason.startswith("customer.created.v1 violates its schema")
    assert "login" in reason
    assert sent.value == raw
    assert harness.calls == 0


async def test_an_unknown_event_type_goes_to_the_dlq(harness: Harness) -> None:
    raw = envelope_bytes("customer.teleported.v1", {"customer_id": "c"})

    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, raw)) == "dead_lettered"

    [sent] = harness.producer.sent
    assert "unknown event type 'customer.teleported.v1'" in sent.header("x-dlq-reason")


async def test_a_known_type_the_service_does_not_handle_is_ignored(harness: Harness) -> None:
    refunded = OrderRefundedV1(
        order_id="o-1",
        webshop_id="shop-eu",
        amount=Decimal("9.99"),
        currency="EUR",
        refunded_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    record = consumer_record(TOPIC, event_bytes(refunded))

    assert await harness.consumer.process(TOPIC, record) == "ignored"
    assert harness.producer.sent == []
    assert harness.calls == 0


async def test_a_known_type_the_service_does_not_handle_is_skipped_before_validation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Most of a shared topic is for other services: a skip costs a JSON parse, not the
    # envelope's and payload's validation (nor a dead letter: the record's consumers judge it).
    validated: list[bytes] = []
    original = CloudEvent.model_validate_json

    def counting(value: bytes) -> CloudEvent:
        validated.append(value)
        return original(value)

    monkeypatch.setattr(CloudEvent, "model_validate_json", counting)
    unhandled = json.dumps({"type": "order.refunded.v1", "data": {"order_id": 1}}).encode()

    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, unhandled)) == "ignored"
    assert validated == []
    assert harness.producer.sent == []
    # A malformed record of a type the service handles still goes to the dead-letter topic.
    malformed = json.dumps({"type": "customer.created.v1", "data": {}}).encode()
    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, malformed)) == (
        "dead_lettered"
    )
    [sent] = harness.producer.sent
    assert "invalid CloudEvent envelope" in sent.header("x-dlq-reason")


async def test_a_handled_type_on_a_topic_it_is_not_registered_for_is_ignored(
    harness: Harness,
) -> None:
    record = consumer_record("webshop.orders", event_bytes(CREATED))
    assert await harness.consumer.process("webshop.orders", record) == "ignored"
    assert harness.calls == 0


async def test_transient_database_errors_are_retried_until_handled(harness: Harness) -> None:
    def fail_twice(attempt: int) -> None:
        if attempt <= 2:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    harness.behaviour = fail_twice
    record = consumer_record(TOPIC, event_bytes(CREATED, event_id="e-1"))

    assert await harness.consumer.process(TOPIC, record) == "handled"

    assert harness.calls == 3
    # The failed attempts were rolled back with their inbox row: one effect, one inbox entry.
    assert await harness.effects() == 1
    assert len(await harness.inbox_ids()) == 1
    assert harness.producer.sent == []


async def test_transient_errors_are_retried_beyond_max_attempts(
    db: Database, tables: Tables
) -> None:
    harness = Harness(db, tables, max_attempts=2)

    def fail_four_times(attempt: int) -> None:
        if attempt <= 4:
            raise ConnectionError("database went away")

    harness.behaviour = fail_four_times
    record = consumer_record(TOPIC, event_bytes(CREATED))

    assert await harness.consumer.process(TOPIC, record) == "handled"
    assert harness.calls == 5


class _StartingUp(Exception):
    """What asyncpg raises while PostgreSQL recovers: CannotConnectNowError, SQLSTATE 57P03."""

    sqlstate = "57P03"


async def test_a_database_still_starting_up_is_not_a_reason_to_dead_letter(
    db: Database, tables: Tables
) -> None:
    # SQLAlchemy wraps it in a plain DBAPIError, neither OperationalError nor a disconnect.
    harness = Harness(db, tables, max_attempts=2)

    def starting_up(attempt: int) -> None:
        if attempt <= 4:
            raise DBAPIError("SELECT 1", {}, _StartingUp("the database system is starting up"))

    harness.behaviour = starting_up
    record = consumer_record(TOPIC, event_bytes(CREATED))

    assert await harness.consumer.process(TOPIC, record) == "handled"
    assert harness.calls == 5
    assert harness.producer.sent == []


async def test_a_handler_failing_every_time_is_dead_lettered_after_max_attempts(
    harness: Harness,
) -> None:
    def always_fail(attempt: int) -> None:
        raise ValueError(f"bad data, attempt {attempt}")

    harness.behaviour = always_fail
    raw = event_bytes(CREATED, event_id="e-1")

    assert await harness.consumer.process(TOPIC, consumer_record(TOPIC, raw)) == "dead_lettered"

    assert harness.calls == 3
    [sent] = harness.producer.sent
    assert sent.topic == "customers.events.dlq"
    assert sent.value == raw
    reason = sent.header("x-dlq-reason")
    assert "handler failed 3 times" in reason
    assert "ValueError" in reason
    assert await harness.effects() == 0
    assert await harness.inbox_ids() == []


async def test_a_poison_message_is_dead_lettered_at_once_with_its_reason(
    harness: Harness,
) -> None:
    def poison(attempt: int) -> None:
        raise PoisonMessage("customer-1 belongs to another tenant")

    harness.behaviour = poison

    outcome = await harness.consumer.process(TOPIC, consumer_record(TOPIC, event_bytes(CREATED)))

    assert outcome == "dead_lettered"
    assert harness.calls == 1
    [sent] = harness.producer.sent
    assert sent.header("x-dlq-reason") == "customer-1 belongs to another tenant"
    assert await harness.effects() == 0


async def test_after_commit_runs_only_when_the_handler_committed(
    db: Database, tables: Tables
) -> None:
    harness = Harness(db, tables)
    commits: list[str] = []
    harness.consumer.after_commit = lambda: commits.append("woken")
    record = consumer_record(TOPIC, event_bytes(CREATED))

    await harness.consumer.process(TOPIC, record)
    await harness.consumer.process(TOPIC, record)  # a duplicate commits nothing new

    assert commits == ["woken"]


async def test_failure_logs_do_not_carry_the_failed_statements_parameters(
    sqlite_db: Database, tables: Tables, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler whose statement keeps failing is logged with its traceback when given up on;
    the statement's parameters (here a generated password) must not reach the log."""
    harness = Harness(sqlite_db, tables)
    secret = "48213377-generated-password"

    async def write_secret(delivery: Delivery, data: CustomerCreatedV1) -> None:
        harness.calls += 1
        # A NOT NULL violation: IntegrityError, raised with the statement and its parameters.
        await delivery.session.execute(
            text("INSERT INTO inbox (event_id, topic, processed_at) VALUES (:secret, NULL, NULL)"),
            {"secret": secret},
        )

    harness.consumer.on(TOPIC, CustomerCreatedV1)(write_secret)
    formatter = JsonFormatter("test")
    record = consumer_record(TOPIC, event_bytes(CREATED))
    with caplog.at_level(logging.WARNING, logger="services.runtime.consumer"):
        outcome = await harness.consumer.process(TOPIC, record)

    assert outcome == "dead_lettered"
    logged = "\n".join(formatter.format(entry) for entry in caplog.records)
    assert "giving up" in logged
    assert secret not in logged
    assert secret not in harness.producer.sent[0].header("x-dlq-reason")


async def test_an_invalid_payload_is_dead_lettered_and_answered_once(harness: Harness) -> None:
    """A topic whose senders wait on an answer registers `invalid`: it runs after the DLQ copy,
    in the inbox's transaction, so a redelivered record is answered once."""
    answered: list[tuple[str, object]] = []

    async def answer(delivery: Delivery, reason: str) -> None:
        answered.append((reason, delivery.event.data.get("order_id")))
        await delivery.session.execute(insert(harness.tables.sample).values(amount=None, at=None))

    @harness.consumer.on("webshop.orders", OrderRefundedV1, invalid=answer)
    async def refunded(delivery: Delivery, data: OrderRefundedV1) -> None:
        raise AssertionError("an invalid refund never reaches the handler")

    data = {
        "order_id": "o-9",
        "webshop_id": "shop-eu",
        "amount": "-500.00",
        "currency": "EUR",
        "refunded_at": "2025-01-01T00:00:00Z",
    }
    record = consumer_record("webshop.orders", envelope_bytes(OrderRefundedV1.event_type, data))

    assert await harness.consumer.process("webshop.orders", record) == "dead_lettered"
    assert await harness.consumer.process("webshop.orders", record) == "duplicate"

    [(reason, order_id)] = answered
    assert order_id == "o-9"
    assert reason.startswith("order.refunded.v1 violates its schema: amount:")
    assert await harness.effects() == 1
    assert [s.header("x-dlq-reason") for s in harness.producer.sent] == [reason, reason]
