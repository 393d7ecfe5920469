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
from gateway.tests.fakes import FakeServices, unreachable

CUSTOMER_STATS = {
    "by_status": {"pending": 1, "trial": 0, "active": 3, "expired": 1, "disabled": 0},
    "new_per_day": [{"day": "2026-11-27", "count": 2}, {"day": "2026-11-28", "count": 3}],
}
BILLING_STATS = {
    "revenue_per_day": [
        {"day": "2026-11-28", "currency": "EUR", "amount": "29.97"},
        {"day": "2026-11-28", "currency": "USD", "amount": "9.99"},
    ],
    "active_subscriptions": 3,
}
TICKET_STATS = {
    "by_status": {"open": 2, "pending": 0, "resolved": 1, "closed": 0},
    "open_tickets": 2,
}


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    # No broker here: the lag section must be reported unavailable, quickly.
    return make_settings(tmp_path, kafka_bootstrap_servers="127.0.0.1:1", kafka_timeout_seconds=1.0)


async def test_stats_gathers_every_service_and_marks_the_failing_ones(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", "/stats", 200, CUSTOMER_STATS)
    fake.answer("billing", "GET", "/stats", 200, BILLING_STATS)
    fake.answer("tickets", "GET", "/stats", 200, TICKET_STATS)
    fake.on("activity", "GET", "/stats", unreachable)

    response = await client.get("/api/v1/stats", headers=admin)

    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["customers"] == {"status": "ok", "data": CUSTOMER_STATS}
    assert stats["billing"]["data"]["revenue_per_day"][1] == {
        "day": "2026-11-28",
        "currency": "USD",
        "amount": "9.99",
    }
    assert stats["tickets"]["data"]["open_tickets"] == 2
    assert stats["activity"]["status"] == "unavailable"
    assert "activity" in stats["activity"]["reason"]
    assert stats["consumer_lag"]["status"] == "unavailable"


async def test_a_service_answering_in_another_shape_is_unavailable_not_an_error(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", "/stats", 200, {"by_status": "many"})

    stats = (await client.get("/api/v1/stats", headers=admin)).json()

    assert stats["customers"]["status"] == "unavailable"
    assert "unexpected shape" in stats["customers"]["reason"]


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
