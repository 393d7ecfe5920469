"""GET /api/v1/stats: every service's figures and the consumer lag, each section on its own."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from gateway.consumer_lag import consumer_lag
from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers, make_settings
from gateway.tests.seed import sell
from gateway.tests.services import InProcessServices


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    # No broker here: the lag section must be reported unavailable, quickly.
    return make_settings(tmp_path, kafka_bootstrap_servers="127.0.0.1:1", kafka_timeout_seconds=1.0)


async def test_stats_gathers_every_service_and_marks_the_failing_ones(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    await sell(client, services, admin)
    await sell(client, services, admin, webshop_id="shop-us")
    services.down("activity")

    response = await client.get("/api/v1/stats", headers=admin)

    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["customers"]["status"] == "ok"
    assert stats["customers"]["data"]["by_status"]["active"] == 2
    revenue = {r["currency"]: r["amount"] for r in stats["billing"]["data"]["revenue_per_day"]}
    assert revenue == {"EUR": "9.99", "USD": "10.99"}
    assert stats["billing"]["data"]["active_subscriptions"] == 2
    assert stats["tickets"]["status"] == "ok"
    assert stats["activity"]["status"] == "unavailable"
    assert "activity" in stats["activity"]["reason"]
    assert stats["consumer_lag"]["status"] == "unavailable"


async def test_a_service_answering_in_another_shape_is_unavailable_not_an_error(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    async def other_shape(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"by_status": "many"})

    services.replace("customers", other_shape)

    stats = (await client.get("/api/v1/stats", headers=admin)).json()

    assert stats["customers"]["status"] == "unavailable"
    assert "unexpected shape" in stats["customers"]["reason"]
    assert stats["billing"]["status"] == "ok"


@pytest.fixture
async def topic(kafka_bootstrap_servers: str) -> AsyncIterator[tuple[str, str]]:
    """A prefix and one topic under it with two partitions."""
    prefix = f"lag{uuid.uuid4().hex[:8]}."
    name = f"{prefix}customers.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        yield prefix, name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.mark.kafka
async def test_consumer_lag_is_end_offset_minus_the_group_commit(
    kafka_bootstrap_servers: str, topic: tuple[str, str]
) -> None:
    prefix, name = topic
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for number in range(5):
            await producer.send_and_wait(name, b"x", partition=0, key=str(number).encode())
        await producer.send_and_wait(name, b"x", partition=1)
    finally:
        await producer.stop()
    # billing's group (prefix + "billing", as services/runtime names it) has read 2 of partition
    # 0 and all of partition 1; tickets' group has committed nothing.
    group = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=f"{prefix}billing",
        enable_auto_commit=False,
    )
    await group.start()
    try:
        group.assign([TopicPartition(name, 0), TopicPartition(name, 1)])
        await group.commit(
            {
                TopicPartition(name, 0): OffsetAndMetadata(2, ""),
                TopicPartition(name, 1): OffsetAndMetadata(1, ""),
            }
        )
    finally:
        await group.stop()

    lags = await consumer_lag(
        kafka_bootstrap_servers, prefix, ["billing", "tickets"], timeout_seconds=10
    )

    billing, tickets = lags
    assert billing.group_id == f"{prefix}billing"
    assert billing.lag == 3
    assert [(p.topic, p.partition, p.committed, p.end, p.lag) for p in billing.partitions] == [
        ("customers.events", 0, 2, 5, 3),
        ("customers.events", 1, 1, 1, 0),
    ]
    assert tickets.lag == 0
    assert tickets.partitions == []
