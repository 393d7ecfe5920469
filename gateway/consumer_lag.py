"""How far each service's consumers are behind: committed offsets of its group vs end offsets.

Each service consumes in one consumer group named `KAFKA_TOPIC_PREFIX` + service name (see
services/runtime/consumer.py). The lag of a partition is its end offset minus the group's
committed offset; a partition the group has never committed is not counted (it has no
position to be behind from, and the runtime consumes from the earliest offset once it joins).
"""

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gateway.schemas.stats import PartitionLag, ServiceLag
from services.runtime.kafka_security import KafkaSecurity


def group_id(prefix: str, service: str) -> str:
    return f"{prefix}{service}"


async def consumer_lag(
    bootstrap_servers: str,
    prefix: str,
    services: Sequence[str],
    *,
    timeout_seconds: float,
    security: KafkaSecurity | None = None,
) -> list[ServiceLag]:
    """Lag per service and partition, read from the broker with one admin client and one
    group-less consumer (which only asks for end offsets and never joins a group)."""
    request_timeout_ms = int(timeout_seconds * 1000)
    options = (security or KafkaSecurity()).client_options()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="gateway-stats",
        request_timeout_ms=request_timeout_ms,
        **options,
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="gateway-stats",
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=request_timeout_ms,
        **options,
    )
    await admin.start()
    try:
        await consumer.start()
        try:
            committed = {
                service: await admin.list_consumer_group_offsets(group_id(prefix, service))
                for service in services
            }
            partitions = sorted(
                {tp for offsets in committed.values() for tp in offsets},
                key=lambda tp: (tp.topic, tp.partition),
            )
            ends: dict[TopicPartition, int] = (
                await consumer.end_offsets(partitions) if partitions else {}
            )
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    result = []
    for service in services:
        rows = []
        for tp, offset in sorted(
            committed[service].items(), key=lambda item: (item[0].topic, item[0].partition)
        ):
            if offset.offset < 0:
                continue
            end = ends.get(tp, offset.offset)
            rows.append(
                PartitionLag(
                    topic=tp.topic.removeprefix(prefix),
                    partition=tp.partition,
                    committed=offset.offset,
                    end=end,
                    lag=max(0, end - offset.offset),
                )
            )
        result.append(
            ServiceLag(
                service=service,
                group_id=group_id(prefix, service),
                lag=sum(row.lag for row in rows),
                partitions=rows,
            )
        )
    return result
