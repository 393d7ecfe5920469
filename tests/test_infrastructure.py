"""The test servers themselves: Kafka and PostgreSQL as provided by the root conftest.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.kafka import free_port, random_cluster_id


def test_random_cluster_id_has_the_kraft_shape() -> None:
    ids = {random_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.kafka
async def test_kafka_idempotent_produce_then_consume(kafka_bootstrap_servers: str) -> None:
    topic = f"test.infrastructure.{uuid.uuid4().hex[:8]}"  # test-only topic
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])

        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap_servers, enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            sent = [
                await producer.send_and_wait(topic, key=b"customer-1", value=f"{i}".encode())
                for i in range(20)
            ]
        finally:
            await producer.stop()
        assert len({metadata.partition for metadata in sent}) == 1  # one key, one partition

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap_servers,
            group_id=f"test-infrastructure-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        received: list[tuple[bytes, bytes]] = []
        try:
            async with asyncio.timeout(30):
                while len(received) < 20:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        received.extend((r.key, r.value) for r in records)
        finally:
            await consumer.stop()
        assert received == [(b"customer-1", f"{i}".encode()) for i in range(20)]
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


@pytest.mark.postgres
async def test_postgres_fresh_databases(new_postgres_database: Callable[[str], str]) -> None:
    first = new_postgres_database("infra")
    second = new_postgres_database("infra")
    assert first != second
    assert make_url(first).drivername == "postgresql+asyncpg"

    engine = create_async_engine(first)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (id int PRIMARY KEY, name text)"))
            await connection.execute(
                text("INSERT INTO probe VALUES (:id, :name)"), [{"id": 1, "name": "ä"}]
            )
        async with engine.connect() as connection:
            database = (await connection.execute(text("SELECT current_database()"))).scalar_one()
            assert database == make_url(first).database
            name = (await connection.execute(text("SELECT name FROM probe"))).scalar_one()
            assert name == "ä"
    finally:
        await engine.dispose()

    engine = create_async_engine(second)
    try:
        async with engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE tablename = 'probe'")
            )
            assert tables.scalar_one() == 0  # a fresh database each time
    finally:
        await engine.dispose()
