"""The outbox relay killed (SIGKILL) between Kafka's acknowledgement of a batch and the delete of
its rows: after the restart the rows go out again, a duplicate on the topic, and the consumer's
inbox makes it one effect (docs/faults.md).

The window is made certain by the fault campaign's injection point
(services/runtime/fault_injection.py, off unless FAULT_INJECTION_DIR is set): a trigger file
makes the next acknowledged batch of one customers process its last.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import ServiceProcess, service_processes, start_all, stop_all
from services.runtime.fault_injection import relay_crash_trigger
from services.runtime.service_auth import service_token_secret_in
from tests.system.conftest import System, TopicReader, Webshop, eventually, order_paid

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def customers_and_billing(
    kafka_bootstrap_servers: str,
    new_postgres_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[System]:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"t{run_id}."
    data_dir: Path = tmp_path_factory.mktemp("relay-crash")
    log_dir = REPO_ROOT / "test-artifacts" / "system" / f"relay_crash-{run_id}"
    names = ("customers", "billing")
    processes = [
        process
        for process in service_processes(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            data_dir=data_dir,
            log_dir=log_dir,
            ports={name: free_port() for name in ("customers", "billing", "tickets", "activity")},
            database_urls={name: new_postgres_database(name) for name in names},
            extra_env={
                "KAFKA_TOPIC_PREFIX": prefix,
                "SEED_DEMO_CATALOG": "1",
                "OUTBOX_RELAY_INTERVAL_SECONDS": "0.1",
                "FAULT_INJECTION_DIR": str(data_dir / "faults"),
            },
            with_gateway=False,
        )
        if process.name in names
    ]
    service_token_key = service_token_secret_in(data_dir)
    start_all(processes)
    try:
        yield System(
            "postgres",
            prefix,
            kafka_bootstrap_servers,
            {p.name: p for p in processes},
            service_token_key=service_token_key,
            log_dir=log_dir,
        )
    finally:
        stop_all(processes)


@pytest.fixture
async def shop(customers_and_billing: System) -> AsyncIterator[Webshop]:
    webshop = Webshop(customers_and_billing)
    await webshop.start()
    try:
        yield webshop
    finally:
        await webshop.stop()


def restart(process: ServiceProcess) -> None:
    process.start()
    process.wait_ready(90.0)


async def test_relay_killed_after_the_ack_publishes_again_and_the_inbox_makes_one_effect(
    customers_and_billing: System, shop: Webshop
) -> None:
    system = customers_and_billing
    customers = system.processes["customers"]
    # Customers dies right after its relay's next acknowledged batch, before the delete.
    trigger = relay_crash_trigger(Path(customers.env["FAULT_INJECTION_DIR"]), "customers")
    trigger.parent.mkdir(exist_ok=True)
    trigger.touch()

    order = order_paid()
    order_id = order["data"]["order_id"]
    await shop.send(order, key=order["data"]["buyer"]["external_id"])

    async def killed() -> bool:
        return not customers.alive()

    await eventually(killed, timeout=60, what="customers to be killed after the ack")
    assert customers.exit_code() == -signal.SIGKILL, customers.log_tail()
    assert not trigger.exists()  # one fault: the restarted process runs normally
    await asyncio.to_thread(restart, customers)

    reply = await shop.reply_for(order_id, timeout=60)
    assert reply["type"] == "order.accepted.v1", reply
    customer_id = reply["data"]["customer_id"]

    # The batch went out twice: each of its events is on the topic twice, under one id.
    async with TopicReader(system, "customers.events") as reader:

        async def published_twice() -> list[dict[str, Any]] | None:
            events = [
                e
                for _partition, e in await reader.read()
                if e["type"] == "customer.order_placed.v1"
                and e["data"]["order"]["order_id"] == order_id
            ]
            return events if len(events) >= 2 else None

        placed = await eventually(published_twice, timeout=30, what="the order's event twice")
    assert len({e["id"] for e in placed}) == 1, placed

    # One effect: billing answered once, and recorded one sale.
    await asyncio.sleep(2.0)  # time for a second handling to show, were there one
    replies = await shop.replies_for(order_id)
    assert len({r["id"] for r in replies}) == 1, replies
    async with system.service_client("billing") as client:
        response = await client.get(f"/customers/{customer_id}/transactions")
        assert response.status_code == 200, response.text
        kinds = sorted(t["kind"] for t in response.json()["items"])
    assert kinds == ["charge", "payment"], response.text
