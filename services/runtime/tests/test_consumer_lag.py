"""`consumer_lag` on /metrics: each partition's end offset minus the group's committed offset,
read from a real broker by clients of the gauge's own, measured again as records arrive."""

import gc
import uuid
import warnings
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from services.runtime.consumer_lag import LagGauge, LagReader

pytestmark = pytest.mark.kafka


@pytest.fixture
async def topic(kafka_bootstrap_servers: str) -> AsyncIterator[tuple[str, str]]:
    """A prefix and one topic under it with two partitions."""
    prefix = f"lag{uuid.uuid4().hex[:8]}."
    name = f"{prefix}apps.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        yield prefix, name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def produce(servers: str, topic: str, partition: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for _ in range(count):
            await producer.send_and_wait(topic, b"{}", partition=partition)
    finally:
        await producer.stop()


async def commit(servers: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


def lag(service: str, partition: int) -> float | None:
    labels = {"service": service, "topic": "apps.events", "partition": str(partition)}
    return REGISTRY.get_sample_value("consumer_lag", labels)


async def test_the_gauge_follows_the_groups_committed_offsets_against_the_end(
    kafka_bootstrap_servers: str, topic: tuple[str, str]
) -> None:
    prefix, name = topic
    await produce(kafka_bootstrap_servers, name, 0, 5)
    await produce(kafka_bootstrap_servers, name, 1, 1)
    # activity's group has read 2 of partition 0 and all of partition 1; tickets' nothing.
    await commit(
        kafka_bootstrap_servers,
        f"{prefix}activity",
        {TopicPartition(name, 0): 2, TopicPartition(name, 1): 1},
    )
    reader = LagReader(
        kafka_bootstrap_servers, prefix=prefix, client_id="lag-test", timeout_seconds=10
    )
    gauge = LagGauge(reader, ["activity", "tickets"], interval_seconds=60)
    try:
        await gauge.measure_once()
        assert (lag("activity", 0), lag("activity", 1)) == (3, 0)
        assert lag("tickets", 0) is None  # never committed: no position to be behind from

        # The consumer is stopped: what arrives now adds to its lag at the next measurement.
        await produce(kafka_bootstrap_servers, name, 0, 4)
        await gauge.measure_once()
        assert lag("activity", 0) == 7
    finally:
        await gauge.stop()


async def test_a_broker_away_fails_each_measurement_without_hanging() -> None:
    reader = LagReader("127.0.0.1:1", prefix="none.", client_id="lag-test", timeout_seconds=1)
    gauge = LagGauge(reader, ["activity"], interval_seconds=60)
    for _ in range(2):  # the second opens new clients: the failed ones are closed
        with pytest.raises(KafkaError):
            await gauge.measure_once()
    await gauge.stop()


async def test_clients_that_failed_to_start_are_closed() -> None:
    """A broker away at start: the clients made for the read are closed, not left to the
    garbage collector (which warned "Unclosed AIOKafkaConsumer" and kept their sockets)."""
    reader = LagReader("127.0.0.1:1", prefix="none.", client_id="lag-test", timeout_seconds=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            try:
                await reader.start()
            except KafkaError:
                pass
            else:
                pytest.fail("started against a broker that is not there")
        gc.collect()
    assert [w for w in caught if "Unclosed" in str(w.message)] == []
