"""The local cluster's Kafka refuses what its ACLs do not allow: one broker of `make cluster`'s
kind (SASL/SCRAM, StandardAuthorizer, the ACLs of deploy/kafka_acls.py), no services. That the
services work under these ACLs is test_cluster.py's part."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import OffsetAndMetadata

from deploy.kafka_acls import PROCESSES, SERVICES, all_acls
from deploy.local.cluster import unused_port
from deploy.local.kafka import REPO_ROOT, LocalKafkaCluster
from deploy.local.kafka_auth import ADMIN, ClusterAuth, describe_acls
from deploy.simulator.__main__ import play
from deploy.simulator.apps import AppSimulator, made_up
from services.contracts.topics import ALL_TOPICS, APPS_EVENTS, BILLING_EVENTS
from services.runtime.consumer_lag import LagReader, PartitionOffsets
from services.runtime.kafka_security import KafkaSecurity
from services.runtime.topics_admin import ensure_topics

ACTIVITY_EVENTS = "activity.events"


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[LocalKafkaCluster, ClusterAuth]]:
    taken: set[int] = set()
    auth = ClusterAuth.generate(PROCESSES)
    with tempfile.TemporaryDirectory(prefix="tvcm-acls-") as data:
        kafka = LocalKafkaCluster(
            ports=[unused_port(taken)],
            controller_ports=[unused_port(taken)],
            data_dir=Path(data),
            log_dir=REPO_ROOT / "test-artifacts" / "system" / "cluster-acls",
            auth=auth,
            acls=all_acls(),
        )
        with kafka:
            asyncio.run(
                ensure_topics(kafka.bootstrap_servers, ALL_TOPICS, security=auth.security(ADMIN))
            )
            yield kafka, auth


def producer(kafka: LocalKafkaCluster, security: KafkaSecurity) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=10000,
        **security.client_options(),
    )


async def test_the_brokers_hold_exactly_the_acls_derived_from_the_code(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    kafka, auth = secured
    assert await describe_acls(kafka.bootstrap_servers, auth.security(ADMIN)) == all_acls()


async def test_a_service_s_user_may_not_write_another_service_s_topic(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    kafka, auth = secured
    activity = producer(kafka, auth.security("activity"))
    await activity.start()
    try:
        await activity.send_and_wait(ACTIVITY_EVENTS, b"{}", key=b"c1")  # its own topic
        with pytest.raises(TopicAuthorizationFailedError):
            await activity.send_and_wait(BILLING_EVENTS, b"{}", key=b"c1")
    finally:
        await activity.stop()
    # The owner may.
    billing = producer(kafka, auth.security("billing"))
    await billing.start()
    try:
        await billing.send_and_wait(BILLING_EVENTS, b"{}", key=b"c1")
    finally:
        await billing.stop()


async def test_a_service_s_user_may_not_use_another_service_s_consumer_group(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    kafka, auth = secured
    partition = TopicPartition(APPS_EVENTS, 0)  # activity and billing both read apps.events

    async def committed_as(user: str, group: str) -> int | None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            request_timeout_ms=10000,
            **auth.security(user).client_options(),
        )
        await consumer.start()
        try:
            consumer.assign([partition])
            offset: int | None = await consumer.committed(partition)
            return offset
        finally:
            await consumer.stop()

    assert await committed_as("activity", "activity") is None  # its own group: nothing yet
    with pytest.raises(GroupAuthorizationFailedError):
        await committed_as("activity", "billing")


async def test_a_client_without_valid_credentials_is_refused(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    kafka, auth = secured

    async def topics_seen(**options: object) -> set[str]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=kafka.bootstrap_servers, request_timeout_ms=5000, **options
        )
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    assert set(ALL_TOPICS) <= await topics_seen(**auth.security(ADMIN).client_options())
    # No SASL at all: the broker answers nothing until a client authenticates.
    with pytest.raises(KafkaConnectionError):
        await topics_seen()
    wrong = KafkaSecurity.model_validate(
        {**auth.security("activity").model_dump(), "sasl_password": "not-the-password"}
    )
    with pytest.raises(KafkaConnectionError):
        await topics_seen(**wrong.client_options())


async def test_the_app_simulator_plays_onto_the_cluster_as_its_admin(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    kafka, auth = secured
    simulator = AppSimulator([made_up("c0ffee00-0000-4000-8000-0000000000b1")], seed=3)
    counts = await play(
        simulator,
        events=5,
        rate=0,
        bootstrap_servers=kafka.bootstrap_servers,
        topic=APPS_EVENTS,
        kafka_options=auth.security(ADMIN).client_options(),
    )
    assert sum(counts.values()) == 5


async def test_each_service_reads_its_own_lag_and_the_gateway_every_services(
    secured: tuple[LocalKafkaCluster, ClusterAuth],
) -> None:
    # The consumer_lag gauges (services/runtime/consumer_lag.py) under these ACLs: a service
    # reads its own group's offsets, the gateway every service's.
    kafka, auth = secured
    partition = TopicPartition(APPS_EVENTS, 1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id="tickets",
        enable_auto_commit=False,
        request_timeout_ms=10000,
        **auth.security("tickets").client_options(),
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.commit({partition: OffsetAndMetadata(0, "")})
    finally:
        await consumer.stop()

    async def lag_as(user: str, services: list[str]) -> dict[str, list[PartitionOffsets]]:
        reader = LagReader(
            kafka.bootstrap_servers,
            prefix="",
            client_id=f"{user}-lag",
            timeout_seconds=10,
            security=auth.security(user),
        )
        await reader.start()
        try:
            return await reader.read(services)
        finally:
            await reader.stop()

    [own] = (await lag_as("tickets", ["tickets"]))["tickets"]
    assert (own.topic, own.partition, own.committed) == (APPS_EVENTS, 1, 0)
    every = await lag_as("gateway", list(SERVICES))
    assert every["tickets"] == [own]
    assert set(every) == set(SERVICES)
