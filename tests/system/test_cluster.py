"""The local cluster (`make cluster`'s code): three brokers, two replicas of everything. One test
on purpose, since it starts three JVMs and ten processes: a sale through gateway a is read through
gateway b; an order a webshop aborted in a Kafka transaction is never handled; then the leader of
the partition a webshop order goes to is SIGKILLed and that order and an operator's renewal
still go through, with nothing lost, doubled or dead-lettered. Every process runs as its own
Kafka user under the ACLs of deploy/kafka_acls.py (the refusals: test_cluster_acls.py); the
test's own clients are the admin."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner

from deploy.local.cluster import DATABASES, REPLICAS, ClusterPorts, LocalCluster
from deploy.local.kafka import REPO_ROOT
from deploy.local.processes import SERVICES
from services.contracts.topics import PARTITIONS
from tests.system.conftest import System, Webshop, eventually, order_paid

Json = dict[str, Any]
TOPIC_CONFIG = 1  # DescribeConfigs' config source: set on the topic, not a broker default
ADMIN = {"username": "admin", "password": "cluster-test-admin-pw"}


@pytest.fixture
def cluster(
    new_postgres_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    run_id = uuid.uuid4().hex[:8]
    local = LocalCluster(
        # Logs where the other system tests keep theirs; data in a temporary directory.
        run_dir=tmp_path_factory.mktemp("cluster"),
        ports=ClusterPorts.free(),
        database_urls={name: new_postgres_database(f"cluster_{name}") for name in DATABASES},
        extra_env={
            "ADMIN_USERNAME": ADMIN["username"],
            "ADMIN_PASSWORD": ADMIN["password"],
            "OUTBOX_RELAY_INTERVAL_SECONDS": "0.1",
        },
        logs_at=REPO_ROOT / "test-artifacts" / "system" / f"cluster-{run_id}",
    )
    local.start(timeout=420)
    try:
        yield local
    finally:
        local.stop()


def client(base_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
    )


async def describe(servers: str, topic: str, options: Json) -> list[Json]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, **options)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        partitions: list[Json] = described["partitions"]
        return partitions
    finally:
        await admin.close()


async def min_insync_replicas(servers: str, topic: str, options: Json) -> tuple[str, int]:
    """The topic's min.insync.replicas and where it comes from (1: set on the topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, **options)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)]
        )
    finally:
        await admin.close()
    [(_code, _message, _type, _name, entries)] = response.resources
    return next((e[1], e[3]) for e in entries if e[0] == "min.insync.replicas")


async def details_where(http: httpx.AsyncClient, customer_id: str, check: Any, what: str) -> Json:
    async def find() -> Json | None:
        response = await http.get(f"/api/v1/customers/{customer_id}")
        body: Json = response.json()
        return body if response.status_code == 200 and check(body) else None

    return await eventually(find, timeout=90, what=f"customer {customer_id} {what}")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_killed_broker_loses_no_order_and_no_operator_action(
    cluster: LocalCluster,
) -> None:
    servers = cluster.kafka.bootstrap_servers
    admin = cluster.kafka_client_options
    assert admin["security_protocol"] == "SASL_PLAINTEXT"
    for topic in ("webshop.orders", "billing.events", "__consumer_offsets"):
        assert {len(p["replicas"]) for p in await describe(servers, topic, admin)} == {3}, topic
    assert await min_insync_replicas(servers, "webshop.orders", admin) == ("2", TOPIC_CONFIG)
    # Each process is its own Kafka user, not the admin.
    for process in cluster.processes:
        assert process.env["KAFKA_SASL_USERNAME"] == process.name.rsplit("-", 1)[0]

    gateways = {r: cluster.gateway_url(r) for r in REPLICAS}
    async with httpx.AsyncClient(base_url=gateways["a"], timeout=30.0) as anonymous:
        signed_in = await anonymous.post("/api/v1/auth/token", data=ADMIN)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]

    # Sold through gateway a, read through gateway b (another gateway and other services).
    async with client(gateways["a"], token) as a, client(gateways["b"], token) as b:
        sold = await a.post(
            "/api/v1/customers",
            json={
                "webshop_id": "shop-eu",
                "product_id": "basic",
                "plan_id": "basic-1m",
                "extra_product_ids": [],
                "info": {"first_name": "Clu", "last_name": "Ster", "email": "clu@example.com"},
                "credentials": None,
            },
        )
        assert sold.status_code == 201, sold.text
        customer_id = sold.json()["id"]
        active = await details_where(b, customer_id, lambda c: c["status"] == "active", "active")
        expires_before = at(active["subscription"]["expires_at"])

        order = order_paid()
        key = order["data"]["buyer"]["external_id"].encode()
        partition = DefaultPartitioner()(key, list(range(PARTITIONS)), [])
        [leader] = [
            p["leader"]
            for p in await describe(servers, "webshop.orders", admin)
            if p["partition"] == partition
        ]
        processes = {p.name: p for p in cluster.processes}
        system = System("postgres", "", servers, processes, kafka_options=admin)
        shop = Webshop(system)
        producer = AIOKafkaProducer(
            bootstrap_servers=servers, enable_idempotence=True, acks="all", **admin
        )
        await shop.start()
        await producer.start()
        try:
            # First a webshop changes its mind: an order it sends in a transaction and aborts
            # lands in the log ahead of the real one, and must never be handled.
            aborted = order_paid(buyer=order["data"]["buyer"])
            hesitant = AIOKafkaProducer(
                bootstrap_servers=servers,
                transactional_id=f"shop-{uuid.uuid4().hex[:8]}",
                **admin,
            )
            await hesitant.start()
            try:
                await hesitant.begin_transaction()
                await hesitant.send_and_wait(
                    "webshop.orders", json.dumps(aborted).encode(), key=key
                )
                await hesitant.abort_transaction()
            finally:
                await hesitant.stop()

            await producer.client.force_metadata_update()
            cluster.kafka.node(leader).kill()

            # The webshop's order: its producer finds the partition's new leader.
            await producer.send_and_wait("webshop.orders", json.dumps(order).encode(), key=key)
            # The operator's renewal, through gateway b.
            renewed = await b.post(
                f"/api/v1/customers/{customer_id}/subscription/renew",
                json={"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []},
                headers={"Idempotency-Key": f"renew-{customer_id}"},
            )
            assert renewed.status_code == 200, renewed.text
            expires_after = at(renewed.json()["subscription"]["expires_at"])
            assert expires_after > expires_before

            reply = await shop.reply_for(order["data"]["order_id"], timeout=120)
            assert reply["type"] == "order.accepted.v1", reply
            replies = await shop.replies_for(order["data"]["order_id"])
            # Same key, same partition, earlier offset: had it been read, it was answered.
            assert await shop.replies_for(aborted["data"]["order_id"]) == []
        finally:
            await producer.stop()
            await shop.stop()

        assert len(replies) == 1
        bought = reply["data"]["customer_id"]
        await details_where(a, bought, lambda c: c["status"] == "active", "bought and active")
        await details_where(
            a,
            customer_id,
            lambda c: at(c["subscription"]["expires_at"]) == expires_after,
            "with the renewed expiry",
        )
        ledger = await a.get(f"/api/v1/customers/{customer_id}/transactions")
        assert [e["kind"] for e in ledger.json()["items"]] == ["charge", "charge"]
        dead = await b.get("/api/v1/dead-letters")
        assert dead.status_code == 200, dead.text
        assert [t for t in dead.json()["items"] if t["total"]] == []
        # The stats page reads every service's consumer lag as the gateway's user.
        stats = await a.get("/api/v1/stats")
        lag = stats.json()["consumer_lag"]
        assert lag["status"] == "ok", lag
        assert {row["service"] for row in lag["data"] if row["partitions"]} == set(SERVICES)
    assert not cluster.kafka.node(leader).running
    assert all(p.alive() for p in cluster.processes)
