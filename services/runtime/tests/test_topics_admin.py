"""ensure_topics on a real broker: creates what is missing, and refuses to start quietly
without topics when the broker cannot hold the replicas asked for; and it returns only once the
broker's metadata shows the new topics (against a fake admin client: a real broker's delay
cannot be ordered)."""

import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NodeNotReadyError

from services.runtime import topics_admin
from services.runtime.topics_admin import (
    TopicCreationError,
    _until_visible,
    ensure_topics,
    topic_configs,
)


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


@pytest.mark.kafka
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


@pytest.mark.kafka
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


class _SlowMetadata:
    """An admin client whose metadata shows a new topic only from the `visible_from`-th look."""

    def __init__(self, visible_from: int | None) -> None:
        self.visible_from = visible_from
        self.looks = 0

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        return []

    async def create_topics(self, new_topics: list[NewTopic]) -> Any:
        return SimpleNamespace(topic_errors=[(t.name, 0, None) for t in new_topics])

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        self.looks += 1
        seen = self.visible_from is not None and self.looks >= self.visible_from
        return [
            {"topic": t, "error_code": 0 if seen else 3, "partitions": [{}] if seen else []}
            for t in topics
        ]


async def test_waits_until_the_metadata_shows_the_new_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Creation is answered before the metadata shows the topic; a consumer started in that gap
    # fails the service's start with UnknownTopicOrPartition (seen on a busy broker).
    admin = _SlowMetadata(visible_from=3)
    monkeypatch.setattr(topics_admin, "AIOKafkaAdminClient", lambda **_: admin)
    await ensure_topics("broker:9092", ("a", "b"))
    assert admin.looks == 3


class _DeadNodeFirst(_SlowMetadata):
    """The first client asks a broker that just died (its metadata still names it)."""

    clients = 0

    def __init__(self) -> None:
        super().__init__(visible_from=1)
        _DeadNodeFirst.clients += 1
        self.dead = _DeadNodeFirst.clients == 1

    async def list_topics(self) -> list[str]:
        if self.dead:
            raise NodeNotReadyError("Attempt to send a request to node which is not ready")
        return []


async def test_a_broker_that_just_died_does_not_fail_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by the fault campaign: a replica started while one of three brokers was down
    # exited at its start (NodeNotReadyError from the admin client's first request).
    _DeadNodeFirst.clients = 0
    monkeypatch.setattr(topics_admin, "AIOKafkaAdminClient", lambda **_: _DeadNodeFirst())
    await ensure_topics("broker:9092", ("a",))
    assert _DeadNodeFirst.clients == 2


async def test_a_broker_that_stays_away_still_fails_the_start_in_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class AlwaysDead(_SlowMetadata):
        async def list_topics(self) -> list[str]:
            raise NodeNotReadyError("no broker")

    monkeypatch.setattr(topics_admin, "AIOKafkaAdminClient", lambda **_: AlwaysDead(1))
    with pytest.raises(NodeNotReadyError):
        await ensure_topics("broker:9092", ("a",), retry_for_seconds=1.0)


async def test_topics_that_never_show_stop_the_start() -> None:
    admin = _SlowMetadata(visible_from=None)
    with pytest.raises(TopicCreationError, match="not in the broker's metadata"):
        await _until_visible(cast(AIOKafkaAdminClient, admin), ["a"], timeout=0.5)


@pytest.mark.parametrize(
    ("replicas", "configs"),
    [(1, {}), (2, {}), (3, {"min.insync.replicas": "2"}), (5, {"min.insync.replicas": "2"})],
)
def test_replicated_topics_acknowledge_a_write_once_two_replicas_hold_it(
    replicas: int, configs: dict[str, str]
) -> None:
    assert topic_configs(replicas) == configs
