"""OutboxRelay: publishes in commit order per key, deletes what was acknowledged, and shares the
buckets of keys between relays on one database through leases.

The first tests use a recording producer; those marked `kafka` publish to a real broker.
"""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import RecordMetadata
from sqlalchemy import func, select, update

from services.contracts.activity import DeviceLimitChangedV1
from services.contracts.envelope import CloudEvent
from services.runtime import outbox_relay
from services.runtime.db import Database
from services.runtime.fault_injection import relay_crash_point, relay_crash_trigger
from services.runtime.messaging_tables import OUTBOX_BUCKETS
from services.runtime.outbox import Outbox, bucket_of
from services.runtime.outbox_relay import OutboxRelay
from services.runtime.producer import Producer
from services.runtime.tests._helpers import RecordingProducer, Sent
from services.runtime.tests.conftest import Tables

TOPIC = "activity.events"


def _change(customer_id: str, max_devices: int) -> DeviceLimitChangedV1:
    return DeviceLimitChangedV1(
        customer_id=customer_id, max_devices=max_devices, changed_at=datetime.now(UTC)
    )


async def _write(
    db: Database, tables: Tables, keys: Sequence[str], *, topic: str = TOPIC, start: int = 0
) -> list[tuple[str, str]]:
    """One outbox row per key, each in its own transaction; returns (key, event id) in commit
    order. `max_devices` numbers the rows so a consumer can check their order."""
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    written = []
    for number, key in enumerate(keys, start=start):
        async with db.transaction() as session:
            event = await outbox.add(session, _change(key, number), topic=topic, key=key)
        written.append((key, event.id))
    return written


async def _outbox_count(db: Database, tables: Tables) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(tables.outbox)) or 0)


def _relay(
    db: Database, tables: Tables, producer: Producer, *, topic_prefix: str = "", **options: float
) -> OutboxRelay:
    return OutboxRelay(
        db=db,
        outbox=tables.outbox,
        leases=tables.leases,
        producer=producer,
        service="test",
        interval_seconds=options.get("interval_seconds", 0.05),
        batch_size=int(options.get("batch_size", 500)),
        topic_prefix=topic_prefix,
    )


def _ids(sent: list[Sent]) -> list[str]:
    return [CloudEvent.model_validate_json(s.value or b"").id for s in sent]


# Interleaved keys: the per-key order is the interesting one.
KEYS = [f"customer-{i % 7}" for i in range(40)]


async def test_publish_once_sends_rows_in_commit_order_then_deletes_them(
    db: Database, tables: Tables
) -> None:
    written = await _write(db, tables, KEYS)
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer())
    await relay._ensure_lease_rows()  # what start() does before its loop

    assert await relay.publish_once() == len(KEYS)

    sent_keys = [(s.key or b"").decode() for s in producer.sent]
    assert list(zip(sent_keys, _ids(producer.sent), strict=True)) == written
    assert {s.topic for s in producer.sent} == {TOPIC}
    assert all(s.header("content-type") == "application/cloudevents+json" for s in producer.sent)
    assert await _outbox_count(db, tables) == 0
    assert await relay.publish_once() == 0


async def test_rows_go_out_under_the_deployment_s_topic_prefix(
    db: Database, tables: Tables
) -> None:
    # Rows name the system's topic; the prefix (KAFKA_TOPIC_PREFIX) is the deployment's.
    await _write(db, tables, KEYS[:3])
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer(), topic_prefix="staging.")
    await relay._ensure_lease_rows()

    assert await relay.publish_once() == 3
    assert {s.topic for s in producer.sent} == {f"staging.{TOPIC}"}


async def test_publish_once_sends_at_most_one_batch(db: Database, tables: Tables) -> None:
    await _write(db, tables, KEYS)
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer(), batch_size=15)
    await relay._ensure_lease_rows()

    assert await relay.publish_once() == 15
    assert await _outbox_count(db, tables) == len(KEYS) - 15


class FailingProducer(RecordingProducer):
    """Accepts records into its batch; the broker never acknowledges them."""

    async def send(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> "asyncio.Future[RecordMetadata]":
        await super().send(topic, value=value, key=key, headers=headers)
        failed: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        failed.set_exception(KafkaTimeoutError())
        return failed


async def test_rows_stay_in_the_outbox_when_kafka_does_not_acknowledge(
    db: Database, tables: Tables
) -> None:
    await _write(db, tables, KEYS[:5])
    relay = _relay(db, tables, FailingProducer().as_producer())
    await relay._ensure_lease_rows()

    with pytest.raises(KafkaTimeoutError):
        await relay.publish_once()

    assert await _outbox_count(db, tables) == 5


class InjectedCrash(Exception):
    """Stands in for the SIGKILL the injection point sends its own process in a campaign."""


def _crash() -> None:
    raise InjectedCrash


async def test_the_crash_point_strikes_after_the_acknowledgement_and_before_the_rows_go(
    db: Database, tables: Tables, tmp_path: Path
) -> None:
    # The fault the campaign injects (FAULT_INJECTION_DIR): the broker has the batch, the
    # outbox still has the rows, so a restarted relay publishes them again as duplicates.
    written = await _write(db, tables, KEYS[:5])
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer())
    relay.after_acknowledged = relay_crash_point(tmp_path, "test", crash=_crash)
    await relay._ensure_lease_rows()
    relay_crash_trigger(tmp_path, "test").touch()

    with pytest.raises(InjectedCrash):
        await relay.publish_once()
    assert _ids(producer.sent) == [event_id for _, event_id in written]
    assert await _outbox_count(db, tables) == 5
    assert not relay_crash_trigger(tmp_path, "test").exists()  # one file, one fault

    assert await relay.publish_once() == 5
    assert _ids(producer.sent) == [event_id for _, event_id in written] * 2
    assert await _outbox_count(db, tables) == 0


def test_the_crash_point_is_a_no_op_without_its_directory_or_its_file(tmp_path: Path) -> None:
    relay_crash_point(None, "test", crash=_crash)()
    relay_crash_point(tmp_path, "test", crash=_crash)()
    relay_crash_trigger(tmp_path, "other").touch()
    relay_crash_point(tmp_path, "test", crash=_crash)()
    assert relay_crash_trigger(tmp_path, "other").exists()


async def test_a_bucket_leased_to_a_live_relay_is_left_alone(db: Database, tables: Tables) -> None:
    await _write(db, tables, ["customer-a", "customer-b"])
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer())
    await relay._ensure_lease_rows()
    taken = bucket_of("customer-a")
    assert taken != bucket_of("customer-b")
    async with db.transaction() as session:
        await session.execute(
            update(tables.leases)
            .where(tables.leases.c.bucket == taken)
            .values(owner="other-host:1234", expires_at=datetime.now(UTC) + timedelta(minutes=1))
        )

    assert await relay.publish_once() == 1

    assert [s.key for s in producer.sent] == [b"customer-b"]
    assert await _outbox_count(db, tables) == 1


async def test_an_expired_lease_of_a_dead_relay_is_taken_over(db: Database, tables: Tables) -> None:
    await _write(db, tables, KEYS)
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer())
    await relay._ensure_lease_rows()
    async with db.transaction() as session:
        await session.execute(
            update(tables.leases).values(
                owner="crashed-host:1", expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )

    assert await relay.publish_once() == len(KEYS)
    assert await _outbox_count(db, tables) == 0


async def test_two_relays_never_hold_the_same_bucket_and_together_publish_every_row_once(
    db: Database, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claim on every round instead of every few seconds, so the takeover below is immediate.
    monkeypatch.setattr(outbox_relay, "LEASE_RENEW_SECONDS", 0.0)
    first_written = await _write(db, tables, KEYS)
    a, b = RecordingProducer(), RecordingProducer()
    relay_a = _relay(db, tables, a.as_producer())
    relay_b = _relay(db, tables, b.as_producer())
    await asyncio.gather(relay_a._ensure_lease_rows(), relay_b._ensure_lease_rows())
    async with db.sessions() as session:
        buckets = (await session.scalars(select(tables.leases.c.bucket))).all()
    assert sorted(buckets) == list(range(OUTBOX_BUCKETS))

    # Both relays work at once, round after round; then one stops (releasing its leases)
    # and the other must carry on with the rows written after.
    for _ in range(3):
        await asyncio.gather(relay_a.publish_once(), relay_b.publish_once())
        held_a = await relay_a._claim_buckets()
        held_b = await relay_b._claim_buckets()
        assert not set(held_a) & set(held_b)
    await relay_a._release_leases()
    second_written = await _write(db, tables, KEYS, start=len(KEYS))
    assert await relay_b.publish_once() == len(KEYS)

    assert not {s.key for s in a.sent} & {s.key for s in b.sent[: len(b.sent) - len(KEYS)]}
    published = _ids(a.sent) + _ids(b.sent)
    written = first_written + second_written
    assert sorted(published) == sorted(event_id for _, event_id in written)
    per_key: defaultdict[str, list[str]] = defaultdict(list)
    for sent, event_id in zip(a.sent + b.sent, published, strict=True):
        per_key[(sent.key or b"").decode()].append(event_id)
    for key, event_ids in per_key.items():
        assert event_ids == [e for k, e in written if k == key], key
    assert await _outbox_count(db, tables) == 0


# --- against a real broker -------------------------------------------------------------------


@pytest.fixture
async def kafka_topic(kafka_bootstrap_servers: str) -> AsyncIterator[str]:
    topic = f"test.outbox-relay.{uuid.uuid4().hex[:8]}"  # test-only topic
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        yield topic
        await admin.delete_topics([topic])
    finally:
        await admin.close()


@pytest.fixture
async def kafka_producer(kafka_bootstrap_servers: str) -> AsyncIterator[Producer]:
    producer = Producer(kafka_bootstrap_servers, client_id="test-outbox-relay")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _consume(bootstrap_servers: str, topic: str, count: int) -> list[tuple[str, str]]:
    """(key, event id) of the first `count` records of `topic`, in each partition's order."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[str, str]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received.extend(
                        (r.key.decode(), CloudEvent.model_validate_json(r.value).id)
                        for r in records
                        if r.key is not None and r.value is not None
                    )
        # Anything beyond `count` would be a duplicate: give it a moment to show up.
        for records in (await consumer.getmany(timeout_ms=300)).values():
            received.extend(
                (r.key.decode(), CloudEvent.model_validate_json(r.value).id)
                for r in records
                if r.key is not None and r.value is not None
            )
    finally:
        await consumer.stop()
    return received


def _assert_each_once_in_key_order(
    received: list[tuple[str, str]], written: list[tuple[str, str]]
) -> None:
    assert sorted(e for _, e in received) == sorted(e for _, e in written)
    for key in {k for k, _ in written}:
        assert [e for k, e in received if k == key] == [e for k, e in written if k == key], key


async def _drained(db: Database, tables: Tables) -> None:
    async with asyncio.timeout(30):
        while True:
            if not await _outbox_count(db, tables):
                return
            await asyncio.sleep(0.05)


@pytest.mark.kafka
async def test_relay_publishes_to_kafka_in_commit_order_per_key_and_deletes(
    sqlite_db: Database,
    tables: Tables,
    kafka_topic: str,
    kafka_producer: Producer,
    kafka_bootstrap_servers: str,
) -> None:
    written = await _write(sqlite_db, tables, KEYS, topic=kafka_topic)
    relay = _relay(sqlite_db, tables, kafka_producer)
    await relay.start()
    try:
        await _drained(sqlite_db, tables)
    finally:
        await relay.stop()

    received = await _consume(kafka_bootstrap_servers, kafka_topic, len(written))
    _assert_each_once_in_key_order(received, written)


@pytest.mark.kafka
async def test_two_relays_on_one_database_publish_each_row_in_key_order(
    tmp_path: Path,
    tables: Tables,
    kafka_topic: str,
    kafka_producer: Producer,
    kafka_bootstrap_servers: str,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    writer, db_a, db_b = Database(url), Database(url), Database(url)
    try:
        async with writer.engine.begin() as connection:
            await connection.run_sync(tables.outbox.metadata.create_all)
        relay_a = _relay(db_a, tables, kafka_producer)
        relay_b = _relay(db_b, tables, kafka_producer)
        await asyncio.gather(relay_a.start(), relay_b.start())
        written = await _write(writer, tables, KEYS, topic=kafka_topic)
        await _drained(writer, tables)
        await relay_a.stop()  # releases its leases: relay B takes the buckets over
        written += await _write(writer, tables, KEYS, topic=kafka_topic, start=len(KEYS))
        await _drained(writer, tables)
        await relay_b.stop()
        async with writer.sessions() as session:
            owners = (await session.scalars(select(tables.leases.c.owner))).all()
        assert set(owners) == {None}  # both stopped cleanly and gave their leases back
    finally:
        for database in (writer, db_a, db_b):
            await database.dispose()

    received = await _consume(kafka_bootstrap_servers, kafka_topic, len(written))
    _assert_each_once_in_key_order(received, written)


async def test_the_backlog_gauges_count_unpublished_rows_and_the_oldest_ones_age(
    sqlite_db: Database, tables: Tables
) -> None:
    from services.runtime.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

    relay = _relay(sqlite_db, tables, RecordingProducer().as_producer())
    relay.service = f"gauges-{uuid.uuid4().hex[:6]}"
    await _write(sqlite_db, tables, ["a", "b", "c"])
    async with sqlite_db.transaction() as session:
        await session.execute(
            update(tables.outbox)
            .where(tables.outbox.c.key == "a")
            .values(created_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    await relay._measure_backlog()
    assert OUTBOX_BACKLOG.labels(relay.service)._value.get() == 3
    assert 600 <= OUTBOX_OLDEST_AGE.labels(relay.service)._value.get() < 660

    await relay._ensure_lease_rows()
    await relay.publish_once()
    relay._measured_at = float("-inf")
    await relay._measure_backlog()
    assert OUTBOX_BACKLOG.labels(relay.service)._value.get() == 0
    assert OUTBOX_OLDEST_AGE.labels(relay.service)._value.get() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_commit_in_another_process_wakes_the_relay_on_postgresql(
    db: Database, tables: Tables
) -> None:
    """Another replica's commit (here: another engine, whose outbox wakes nothing in this
    process) reaches the relay by NOTIFY, long before its polling interval."""
    producer = RecordingProducer()
    relay = _relay(db, tables, producer.as_producer(), interval_seconds=60.0)
    await relay.start()
    other = Database(db.url)
    try:
        await asyncio.sleep(0.5)  # the relay's first round (empty) and its LISTEN
        [(_key, event_id)] = await _write(other, tables, ["customer-1"])
        for _ in range(200):  # up to 10 s, far below the 60 s interval
            if producer.sent:
                break
            await asyncio.sleep(0.05)
        assert _ids(producer.sent) == [event_id]
    finally:
        await relay.stop()
        await other.dispose()


async def test_a_commit_while_the_relay_publishes_gets_the_next_round_at_once(
    sqlite_db: Database, tables: Tables
) -> None:
    """The wake of a commit that lands during a round (while the relay waits for Kafka's
    acks) is kept: the row goes out in the next round, not after the polling interval."""
    recording = RecordingProducer()
    written: list[str] = []

    class CommitsDuringTheFirstRound:
        async def send(self, topic: str, **record: Any) -> "asyncio.Future[RecordMetadata]":
            if not written:
                [(_key, event_id)] = await _write(sqlite_db, tables, ["customer-2"], start=1)
                written.append(event_id)
                relay.wake()  # what the outbox's after-commit hook does in the service
            return await recording.send(topic, **record)

    relay = _relay(
        sqlite_db, tables, cast(Producer, CommitsDuringTheFirstRound()), interval_seconds=60.0
    )
    [(_key, first)] = await _write(sqlite_db, tables, ["customer-1"])
    await relay.start()
    try:
        for _ in range(100):  # up to 5 s, far below the 60 s interval
            if len(recording.sent) == 2:
                break
            await asyncio.sleep(0.05)
        assert _ids(recording.sent) == [first, *written]
    finally:
        await relay.stop()
