"""A consumer group scaled 1 -> 3 -> 1 with hard stops while webshop orders flow: the customers
service as real processes sharing one PostgreSQL database, two of its three replicas SIGKILLed
in the middle of the stream (docs/faults.md).

Checked on customers.events: every order's `customer.order_placed` is there (none lost), under
one event id (a redelivered record had no second effect; the same id twice is a relay's
duplicate, allowed), every buyer is one customer, and each customer's orders come out in the
order the webshop sent them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import ServiceProcess, service_processes
from services.runtime.service_auth import service_token_secret_in
from tests.system.conftest import System, TopicReader, Webshop, eventually, order_paid

pytestmark = pytest.mark.postgres

BUYERS = 12
# Buyers whose first order is sent just before the kill.
BURST_BUYERS = 60


class Replicas:
    """Replicas of the customers service on one database, started and killed one by one."""

    def __init__(self, make: Callable[[str], ServiceProcess]) -> None:
        self.make = make
        self.running: dict[str, ServiceProcess] = {}

    def start(self, name: str) -> ServiceProcess:
        process = self.make(name)
        process.start()
        self.running[name] = process
        return process

    def stop_all(self) -> None:
        for process in self.running.values():
            process.stop()


@pytest.fixture(scope="module")
def customers_replicas(
    kafka_bootstrap_servers: str,
    new_postgres_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[System, Replicas]]:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"t{run_id}."
    data_dir: Path = tmp_path_factory.mktemp("scaling")
    log_dir = REPO_ROOT / "test-artifacts" / "system" / f"consumer_scaling-{run_id}"
    database_url = new_postgres_database("customers")
    service_token_key = service_token_secret_in(data_dir)

    def make(replica: str) -> ServiceProcess:
        [process] = [
            p
            for p in service_processes(
                kafka_bootstrap_servers=kafka_bootstrap_servers,
                data_dir=data_dir,
                log_dir=log_dir,
                ports={"customers": free_port()},
                database_urls={"customers": database_url},
                extra_env={"KAFKA_TOPIC_PREFIX": prefix, "OUTBOX_RELAY_INTERVAL_SECONDS": "0.1"},
                with_gateway=False,
                replica=replica,
            )
            if p.name == f"customers-{replica}"
        ]
        return process

    replicas = Replicas(make)
    try:
        first = replicas.start("a")
        first.wait_ready(90.0)
        system = System(
            "postgres",
            prefix,
            kafka_bootstrap_servers,
            {"customers": first},
            service_token_key=service_token_key,
            log_dir=log_dir,
        )
        yield system, replicas
    finally:
        replicas.stop_all()


def new_buyers(count: int) -> list[dict[str, str]]:
    return [
        {
            "external_id": f"scale-{uuid.uuid4().hex[:8]}",
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
            "first_name": "Scale",
            "last_name": f"Buyer{i}",
        }
        for i in range(count)
    ]


async def stable_members(system: System, service: str) -> int:
    """How many consumers the service's group has once its rebalance settled (0 meanwhile)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([system.topic(service)])
    finally:
        await admin.close()
    _error, _group, state, _protocol_type, _protocol, members = response.groups[0]
    return len(members) if state == "Stable" else 0


async def test_group_scaled_up_and_down_with_sigkill_loses_nothing_and_keeps_order(
    customers_replicas: tuple[System, Replicas],
) -> None:
    system, replicas = customers_replicas
    buyers = new_buyers(BUYERS)
    # New buyers cost a customer and a password hash each: a burst of them keeps the replicas
    # busy when they are killed.
    burst_buyers = new_buyers(BURST_BUYERS)
    sent: dict[str, list[str]] = {b["external_id"]: [] for b in (*buyers, *burst_buyers)}
    shop = Webshop(system)
    await shop.start()

    async def send_round(pause: float = 0.5, to: list[dict[str, str]] = buyers) -> None:
        for buyer in to:
            order = order_paid(buyer=buyer)
            await shop.send(order, key=buyer["external_id"])
            sent[buyer["external_id"]].append(order["data"]["order_id"])
        await asyncio.sleep(pause)

    try:
        await send_round()
        # 1 -> 3: two more replicas join the group (rebalances while records flow).
        extra = [replicas.start(name) for name in ("b", "c")]
        for _ in range(2):
            await send_round()
        for process in extra:
            await asyncio.to_thread(process.wait_ready, 90.0)

        async def three_members() -> bool:
            return await stable_members(system, "customers") == 3

        await eventually(three_members, timeout=30, what="three members in the group")
        await send_round()
        # A burst, so that the replicas are busy when they die: whatever they were doing (a
        # batch half applied, one committed but its offsets not yet, a relay round between
        # ack and delete), the survivor redoes or absorbs it.
        await send_round(pause=0.0, to=burst_buyers)
        await send_round(pause=0.0)
        await asyncio.sleep(0.5)
        # 3 -> 1: both die at once.
        for process in extra:
            process.kill()
        for _ in range(2):
            await send_round()
    finally:
        await shop.stop()
    assert replicas.running["a"].alive(), replicas.running["a"].log_tail()

    expected = {order_id for orders in sent.values() for order_id in orders}
    async with TopicReader(system, "customers.events") as reader:

        async def all_placed() -> bool:
            placed = {
                e["data"]["order"]["order_id"]
                for _p, e in await reader.read()
                if e["type"] == "customer.order_placed.v1"
            }
            return expected <= placed

        # The killed replicas' outbox leases lapse (15 s) before the survivor takes them over.
        await eventually(all_placed, timeout=60, what="every order placed")
        events = list(reader.events)

    ids_per_order: dict[str, set[str]] = {}
    customer_of_order: dict[str, str] = {}
    sequence_per_customer: dict[str, list[str]] = {}
    seen_ids: set[str] = set()
    for _partition, event in events:
        if event["type"] != "customer.order_placed.v1":
            continue
        order_id = event["data"]["order"]["order_id"]
        ids_per_order.setdefault(order_id, set()).add(event["id"])
        customer_of_order[order_id] = event["data"]["customer_id"]
        if event["id"] not in seen_ids:  # a relay's duplicate repeats an event already placed
            seen_ids.add(event["id"])
            sequence_per_customer.setdefault(event["data"]["customer_id"], []).append(order_id)
    duplicates = {o: ids for o, ids in ids_per_order.items() if len(ids) != 1}
    assert duplicates == {}, f"orders handled more than once: {duplicates}"
    for external_id, orders in sent.items():
        customers = {customer_of_order[o] for o in orders}
        assert len(customers) == 1, f"buyer {external_id} became {customers}"
        [customer_id] = customers
        assert sequence_per_customer[customer_id] == orders, f"order inverted for {external_id}"
