"""ensure_topics on a real broker: creates what is missing, and refuses to start quietly
without topics when the broker cannot hold the replicas asked for."""

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.topics_admin import TopicCreationError, ensure_topics, topic_configs

pytestmark = pytest.mark.kafka


async def _describe(bootstrap_servers: str, topics: list[str]) -> dict[str, tuple[int, int]]:
    """Partitions and replicas per topic, for the topics that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [t for t in topics if t in existing]
        if not present:
            return {}
        described = await admin.describe_topics(present)
        return {
            d["topic"]: (len(d["partitions"]), len(d["partitions"][0]["replicas"]))
            for d in described
        }
    finally:
        await admin.close()


async def _delete(bootstrap_servers: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def test_creates_missing_topics_and_accepts_existing_ones(
    kafka_bootstrap_servers: str,
) -> None:
    run = uuid.uuid4().hex[:8]
    topics = [f"test.topics-admin.{run}.a", f"test.topics-admin.{run}.b"]
    try:
        await ensure_topics(kafka_bootstrap_servers, (topics[0],), partitions=3)
        # The second call finds one topic there and creates the other.
        await ensure_topics(kafka_bootstrap_servers, tuple(topics), partitions=3)
        assert await _describe(kafka_bootstrap_servers, topics) == {t: (3, 1) for t in topics}
    finally:
        await _delete(kafka_bootstrap_servers, topics)


async def test_more_replicas_than_brokers_stops_the_start(kafka_bootstrap_servers: str) -> None:
    # The test broker is a single node: a replication factor of 2 cannot be met.
    topic = f"test.topics-admin.{uuid.uuid4().hex[:8]}.replicated"
    try:
        with pytest.raises(TopicCreationError, match="InvalidReplicationFactor") as refused:
            await ensure_topics(kafka_bootstrap_servers, (topic,), replication_factor=2)
        assert topic in str(refused.value)
        assert await _describe(kafka_bootstrap_servers, [topic]) == {}
    finally:
        await _delete(kafka_bootstrap_servers, [topic])


@pytest.mark.parametrize(
    ("replicas", "configs"),
    [(1, {}), (2, {}), (3, {"min.insync.replicas": "2"}), (5, {"min.insync.replicas": "2"})],
)
def test_replicated_topics_acknowledge_a_write_once_two_replicas_hold_it(
    replicas: int, configs: dict[str, str]
) -> None:
    assert topic_configs(replicas) == configs
