"""The whole system as processes on real Kafka, once on SQLite files and once on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import SERVICES, ServiceProcess, service_processes, start_all, stop_all
from services.runtime.service_auth import ServiceTokenAuth, service_token_secret_in

T = TypeVar("T")

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "system-test-admin-pw"


@dataclass
class System:
    backend: str
    prefix: str
    kafka: str
    processes: dict[str, ServiceProcess]
    # The key the services check the gateway's tokens with (generated into DATA_DIR as `make
    # run` does); tests that call a service's internal API sign with it like the gateway.
    service_token_key: str = ""
    token: str = ""
    # Where the processes' logs (and, for a TRACED module, their spans) go; None: not kept.
    log_dir: Path | None = None
    # aiokafka keywords of the tests' own Kafka clients (the admin user's SASL settings on the
    # local cluster); empty on a plaintext broker.
    kafka_options: dict[str, Any] = field(default_factory=dict)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def gateway(self) -> str:
        return self.processes["gateway"].url

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.gateway,
            timeout=10.0,
            headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
        )

    def service_client(self, name: str) -> httpx.AsyncClient:
        """A client of service `name`'s internal API, signed as the gateway signs its calls."""
        return httpx.AsyncClient(
            base_url=self.processes[name].url,
            timeout=10.0,
            auth=ServiceTokenAuth(self.service_token_key, actor="system-tests"),
        )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def system(
    request: pytest.FixtureRequest,
    kafka_bootstrap_servers: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[System]:
    backend: str = request.param
    run_id = uuid.uuid4().hex[:8]
    prefix = f"t{run_id}."
    data_dir = tmp_path_factory.mktemp(f"system-{backend}")
    module = request.module.__name__.rsplit(".", 1)[-1]
    log_dir = REPO_ROOT / "test-artifacts" / "system" / f"{module}-{backend}-{run_id}"
    database_urls = {}
    if backend == "postgres":
        create_database = request.getfixturevalue("new_postgres_database")
        database_urls = {name: create_database(name) for name in (*SERVICES, "gateway")}
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
            # The real expiry scheduler, ticking fast enough for an expiry a few seconds ahead.
            "BILLING_SCHEDULER_INTERVAL_SECONDS": "1",
            # An app's report for a profile never announced is dead-lettered after this long
            # (600 s by default); long enough for a loaded machine's customers service.
            "ACTIVITY_UNKNOWN_PROFILE_GRACE_SECONDS": "10",
            # A module's own settings of the processes (e.g. how often they measure).
            **getattr(request.module, "PROCESS_ENV", {}),
            # A module that sets TRACED reads every process's spans back from these files.
            **(
                {"TRACES_DIR": str(log_dir / "traces")}
                if getattr(request.module, "TRACED", False)
                else {}
            ),
        },
    )
    # Created before the processes start; they find it in DATA_DIR.
    service_token_key = service_token_secret_in(data_dir)
    start_all(processes)
    system = System(
        backend,
        prefix,
        kafka_bootstrap_servers,
        {p.name: p for p in processes},
        log_dir=log_dir,
        service_token_key=service_token_key,
    )
    response = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
    )
    response.raise_for_status()
    system.token = response.json()["access_token"]
    try:
        yield system
    finally:
        stop_all(processes)


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy; the timeout only bounds a failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: T | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def order_paid(
    *,
    webshop_id: str = "shop-eu",
    product_id: str = "premium",
    plan_id: str = "premium-1m",
    amount: str = "19.99",
    currency: str = "EUR",
    order_id: str | None = None,
    buyer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An order.paid.v1 CloudEvent as a webshop would send it."""
    uid = uuid.uuid4().hex[:10]
    now = datetime.now(UTC).isoformat()
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/webshops/{webshop_id}",
        "type": "order.paid.v1",
        "time": now,
        "data": {
            "order_id": order_id or f"order-{uid}",
            "webshop_id": webshop_id,
            "buyer": buyer
            or {
                "external_id": f"buyer-{uid}",
                "email": f"{uid}@example.com",
                "first_name": "Webshop",
                "last_name": f"Buyer{uid}",
            },
            "product_id": product_id,
            "plan_id": plan_id,
            "extra_product_ids": [],
            "amount": amount,
            "currency": currency,
            "paid_at": now,
            "payment": {"provider": "card", "reference": f"pay-{uid}"},
        },
    }


class Webshop:
    """A webshop as seen from Kafka: a plain aiokafka producer and a reader of the replies."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.producer = AIOKafkaProducer(bootstrap_servers=system.kafka, **system.kafka_options)
        self.replies = AIOKafkaConsumer(
            system.topic("webshop.replies"),
            system.topic("webshop.orders.dlq"),
            bootstrap_servers=system.kafka,
            **system.kafka_options,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[tuple[str, bytes | None, dict[str, Any] | None, dict[str, bytes]]] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.replies.start()

    async def stop(self) -> None:
        await self.producer.stop()
        await self.replies.stop()

    async def send(self, value: dict[str, Any] | bytes, key: str = "k") -> None:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await self.producer.send_and_wait(
            self.system.topic("webshop.orders"), raw, key=key.encode()
        )

    async def _drain(self) -> None:
        batches = await self.replies.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                try:
                    body = json.loads(record.value or b"")
                except ValueError:
                    body = None
                topic = record.topic.removeprefix(self.system.prefix)
                self.seen.append((topic, record.value, body, dict(record.headers or ())))

    async def reply_for(self, order_id: str, timeout: float = 30.0) -> dict[str, Any]:
        async def find() -> dict[str, Any] | None:
            await self._drain()
            for topic, _raw, body, _headers in self.seen:
                if topic == "webshop.replies" and body and body["data"]["order_id"] == order_id:
                    return body
            return None

        return await eventually(find, timeout=timeout, what=f"a reply to {order_id}")

    async def replies_for_all(self) -> list[dict[str, Any]]:
        """Every reply read so far, after reading what has arrived."""
        await self._drain()
        return [b for t, _r, b, _h in self.seen if t == "webshop.replies" and b]

    async def replies_for(self, order_id: str) -> list[dict[str, Any]]:
        await self._drain()
        return [
            b
            for t, _r, b, _h in self.seen
            if t == "webshop.replies" and b and b["data"]["order_id"] == order_id
        ]

    async def dead_letter(self, raw: bytes, timeout: float = 30.0) -> dict[str, bytes]:
        async def find() -> dict[str, bytes] | None:
            await self._drain()
            for topic, value, _body, headers in self.seen:
                if topic == "webshop.orders.dlq" and value == raw:
                    return headers
            return None

        return await eventually(find, timeout=timeout, what="the dead letter")


class TopicReader:
    """Reads one of the system's topics from its beginning, every partition, and keeps what it
    read (decoded CloudEvents, each with its partition) in partition order."""

    def __init__(self, system: System, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            system.topic(topic),
            bootstrap_servers=system.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.events: list[tuple[int, dict[str, Any]]] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def read(self) -> list[tuple[int, dict[str, Any]]]:
        """What arrived since the last read added to the rest; returns all."""
        batches = await self.consumer.getmany(timeout_ms=300)
        for partition in sorted(batches, key=lambda tp: tp.partition):
            self.events.extend(
                (partition.partition, json.loads(r.value or b"")) for r in batches[partition]
            )
        return self.events


@pytest.fixture
async def webshop(system: System) -> AsyncIterator[Webshop]:
    shop = Webshop(system)
    await shop.start()
    try:
        yield shop
    finally:
        await shop.stop()


# The browser tests' fixtures (Chromium, a checked page, an operator per role), defined with
# their helpers in tests/system/browser.py; imported here, after System, so every module sees them.
from tests.system.browser import browser, operators, page  # noqa: E402, F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.system)
            item.add_marker(pytest.mark.kafka)
