"""PostgreSQL stopped at once (`pg_ctl stop -m immediate`) for ~10 s under a stream of webshop
orders and operator writes, then started again (docs/faults.md).

While it is down every service and the gateway refuse what needs the database with 503
problem+json and Retry-After, within a bounded time, and their /readyz says 503; consumers
wait without dead-lettering good records. When it is back, the same processes serve again (no
restart), every order is answered once, and the operator's retried writes took effect once.
The test starts its own PostgreSQL server: the shared test server is never stopped.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.postgres import LocalPostgres
from deploy.local.processes import SERVICES, service_processes, start_all, stop_all
from services.contracts.topics import ALL_TOPICS
from services.runtime.service_auth import service_token_secret_in
from tests.system.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    System,
    Webshop,
    eventually,
    order_paid,
)

pytestmark = pytest.mark.postgres

OUTAGE_SECONDS = 10.0
# How long a request may take to be refused while the database is away.
REFUSAL_BOUND_SECONDS = 8.0
# How long after PostgreSQL accepts connections again every process must be ready.
RECOVERY_BOUND_SECONDS = 30.0


@pytest.fixture(scope="module")
def outage_system(kafka_bootstrap_servers: str) -> Iterator[tuple[System, LocalPostgres]]:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"t{run_id}."
    log_dir = REPO_ROOT / "test-artifacts" / "system" / f"database_outage-{run_id}"
    # Under /tmp: the server runs as the postgres user, who must reach its data directory.
    with tempfile.TemporaryDirectory(prefix="pgoutage-") as scratch:
        root = Path(scratch)
        root.chmod(0o755)
        # durable_commits: the immediate stop must not forget what the server acknowledged
        # (with synchronous_commit off it does, and a consumer that committed its offset after
        # its transaction loses the record's effect).
        postgres = LocalPostgres(
            port=free_port(),
            data_dir=root / "postgres",
            log_file=log_dir / "postgres.log",
            durable_commits=True,
        )
        postgres.start()
        try:
            data_dir = root / "data"
            database_urls = {
                name: postgres.create_database(name) for name in (*SERVICES, "gateway")
            }
            processes = service_processes(
                kafka_bootstrap_servers=kafka_bootstrap_servers,
                data_dir=data_dir,
                log_dir=log_dir,
                ports={name: free_port() for name in (*SERVICES, "gateway")},
                database_urls=database_urls,
                extra_env={
                    "KAFKA_TOPIC_PREFIX": prefix,
                    "SEED_DEMO_CATALOG": "1",
                    "ADMIN_USERNAME": ADMIN_USERNAME,
                    "ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "OUTBOX_RELAY_INTERVAL_SECONDS": "0.1",
                    "BILLING_SCHEDULER_INTERVAL_SECONDS": "1",
                },
            )
            service_token_key = service_token_secret_in(data_dir)
            start_all(processes)
            try:
                system = System(
                    "postgres",
                    prefix,
                    kafka_bootstrap_servers,
                    {p.name: p for p in processes},
                    service_token_key=service_token_key,
                    log_dir=log_dir,
                )
                response = httpx.post(
                    f"{system.gateway}/api/v1/auth/token",
                    data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                )
                response.raise_for_status()
                system.token = response.json()["access_token"]
                yield system, postgres
            finally:
                stop_all(processes)
        finally:
            postgres.stop()


def sale(email: str) -> dict[str, Any]:
    return {
        "webshop_id": "shop-eu",
        "product_id": "premium",
        "plan_id": "premium-1m",
        "extra_product_ids": [],
        "info": {"first_name": "Outage", "last_name": "Buyer", "email": email},
        "credentials": None,
    }


async def timed(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, url, **kwargs)
    return response, time.monotonic() - started


def assert_refused_for_outage(response: httpx.Response, took: float, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), what
    assert int(response.headers["Retry-After"]) >= 1, what
    assert took < REFUSAL_BOUND_SECONDS, f"{what} took {took:.1f} s"


async def probe_every_service(system: System, customer_id: str) -> None:
    """A write and a read of each service, and its readiness: all refused for the outage."""
    renew = {"product_id": "premium", "plan_id": "premium-1m", "extra_product_ids": []}
    calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        "customers": [
            ("PATCH", f"/customers/{customer_id}", {"json": {"info": {"city": "Outage"}}}),
            ("GET", f"/customers/{customer_id}", {}),
        ],
        "billing": [
            ("POST", f"/customers/{customer_id}/subscription/renew", {"json": renew}),
            ("GET", f"/customers/{customer_id}/subscription", {}),
        ],
        "tickets": [
            (
                "POST",
                f"/customers/{customer_id}/tickets",
                {"json": {"subject": "outage", "opened_by": "operator"}},
            ),
            ("GET", f"/customers/{customer_id}/tickets", {}),
        ],
        "activity": [
            ("DELETE", f"/customers/{customer_id}/favorites/item-1", {}),
            ("GET", f"/customers/{customer_id}/devices", {}),
        ],
    }
    for name, requests in calls.items():
        async with system.service_client(name) as client:
            for method, path, kwargs in requests:
                headers = {"Idempotency-Key": str(uuid.uuid4())} if method != "GET" else {}
                response, took = await timed(client, method, path, headers=headers, **kwargs)
                assert_refused_for_outage(response, took, f"{name} {method} {path}")
            ready, took = await timed(client, "GET", "/readyz")
            assert ready.status_code == 503, f"{name} /readyz: {ready.text}"
            assert "database" in ready.json()["failures"], ready.text
    async with system.client() as client:
        ready, _took = await timed(client, "GET", "/readyz")
        assert ready.status_code == 503 and "database" in ready.json()["failures"], ready.text


async def dead_letters(system: System) -> list[tuple[str, bytes]]:
    """Every record on every dead-letter topic of this run."""
    consumer = AIOKafkaConsumer(
        *(system.topic(topic) for topic in ALL_TOPICS if topic.endswith(".dlq")),
        bootstrap_servers=system.kafka,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        found: list[tuple[str, bytes]] = []
        for _ in range(5):
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                found.extend((r.topic, r.value or b"") for r in records)
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def shop(outage_system: tuple[System, LocalPostgres]) -> AsyncIterator[Webshop]:
    webshop = Webshop(outage_system[0])
    await webshop.start()
    try:
        yield webshop
    finally:
        await webshop.stop()


async def test_postgres_stopped_at_once_answers_503_and_all_resumes_without_restart(
    outage_system: tuple[System, LocalPostgres], shop: Webshop
) -> None:
    system, postgres = outage_system
    pids = {name: process.process.pid for name, process in system.processes.items()}  # type: ignore[union-attr]
    async with system.client() as client:
        created = await client.post(
            "/api/v1/customers", json=sale(f"{uuid.uuid4().hex}@example.com")
        )
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]

    orders: list[dict[str, Any]] = []
    streaming = True

    async def stream_orders() -> None:
        # A webshop keeps selling through the outage: its orders wait on the topic.
        while streaming:
            order = order_paid()
            await shop.send(order, key=order["data"]["buyer"]["external_id"])
            orders.append(order)
            await asyncio.sleep(0.4)

    stream = asyncio.create_task(stream_orders())
    await asyncio.sleep(2.0)

    await asyncio.to_thread(postgres.crash)
    stopped_at = time.monotonic()
    # The operator's sales during the outage, each with its key, refused and retried later.
    keys = [str(uuid.uuid4()) for _ in range(3)]
    emails = {key: f"{uuid.uuid4().hex[:12]}@example.com" for key in keys}
    async with system.client() as client:
        for key in keys:
            response, took = await timed(
                client,
                "POST",
                "/api/v1/customers",
                json=sale(emails[key]),
                headers={"Idempotency-Key": key},
            )
            assert_refused_for_outage(response, took, "gateway POST /api/v1/customers")
    await probe_every_service(system, customer_id)
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
    await asyncio.to_thread(postgres.start)
    restarted_at = time.monotonic()

    # The same processes serve again, each within the bound.
    for name, process in system.processes.items():

        async def ready(url: str = process.url) -> bool:
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    return (await client.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        remaining = RECOVERY_BOUND_SECONDS - (time.monotonic() - restarted_at)
        await eventually(ready, timeout=max(remaining, 0.1), what=f"{name} ready again")
        assert process.process is not None and process.process.pid == pids[name], name
        assert process.alive(), f"{name} exited: {process.log_tail()}"

    streaming = False
    await stream
    # The operator retries each refused sale with its key: each takes effect once.
    async with system.client() as client:
        for key in keys:

            async def sold(key: str = key) -> httpx.Response | None:
                response = await client.post(
                    "/api/v1/customers", json=sale(emails[key]), headers={"Idempotency-Key": key}
                )
                assert response.status_code in (201, 409, 503), response.text
                return response if response.status_code == 201 else None

            await eventually(sold, timeout=20, what=f"the sale under key {key}")
            again = await client.post(
                "/api/v1/customers", json=sale(emails[key]), headers={"Idempotency-Key": key}
            )
            assert again.status_code == 201 and again.headers.get("Idempotent-Replayed")
            listed = await client.get("/api/v1/customers", params={"q": emails[key]})
            assert listed.json()["total"] == 1, listed.text

    assert len(orders) >= 25, len(orders)
    # Every order, sent before, during and after the outage, answered once: none lost, none
    # handled twice (a second handling would answer with a second event id).
    replies: dict[str, dict[str, dict[str, Any]]] = {o["data"]["order_id"]: {} for o in orders}

    async def all_answered() -> bool:
        for reply in await shop.replies_for_all():
            if reply["data"]["order_id"] in replies:
                replies[reply["data"]["order_id"]][reply["id"]] = reply
        return all(replies.values())

    await eventually(all_answered, timeout=60, what="a reply to every order")
    for answers in replies.values():
        assert len(answers) == 1, answers
        assert {r["type"] for r in answers.values()} == {"order.accepted.v1"}, answers
    async with system.client() as client:
        for order in orders[::5]:
            [reply] = replies[order["data"]["order_id"]].values()
            transactions = await client.get(
                f"/api/v1/customers/{reply['data']['customer_id']}/transactions"
            )
            kinds = sorted(t["kind"] for t in transactions.json()["items"])
            assert kinds == ["charge", "payment"], transactions.text
    # A connection error is not poison: nothing was set aside.
    assert await dead_letters(system) == []
