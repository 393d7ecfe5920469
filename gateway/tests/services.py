"""The four real services, in-process, behind the gateway's HTTP client: each service's own app
(its routes, schemas, problems and migrations) on a SQLite file, reached through
httpx.ASGITransport, so gateway and services are tested together on every route.

No Kafka: what a service commits to its outbox stays there until `settle()` hands it to the
consumers of the other services, the way the relay and the topics would. A test can put one
service down or make it slow (`down`, `slow`) where it needs a service to fail.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, select

from services.activity.app import SPEC as ACTIVITY
from services.billing.app import SPEC as BILLING
from services.billing.demo_catalog import seed_if_empty
from services.contracts import topics
from services.contracts.envelope import CloudEvent, EventData
from services.customers.app import SPEC as CUSTOMERS
from services.customers.app import batch_workers
from services.runtime.service_app import Runtime, ServiceSpec, create_app
from services.runtime.service_auth import ServiceTokenAuth
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    migrated_sqlite_url,
)
from services.tickets.app import SPEC as TICKETS

SPECS: tuple[ServiceSpec, ...] = (CUSTOMERS, BILLING, TICKETS, ACTIVITY)
# The gateway under test signs its calls to the services with it; they check it.
SERVICE_TOKEN_SECRET = "service-token-test-key-0123456789-abcdefghijklmn"
SERVICE_URLS = {spec.name: f"http://{spec.name}.test" for spec in SPECS}
_SERVICE_BY_HOST = {httpx.URL(url).host: name for name, url in SERVICE_URLS.items()}

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class RunningService:
    app: FastAPI
    runtime: Runtime
    transport: httpx.ASGITransport


class ServicesTransport(httpx.AsyncBaseTransport):
    """Sends each request to the service its host names; a replaced service answers instead."""

    def __init__(self, services: Mapping[str, RunningService]) -> None:
        self.services = services
        self.replaced: dict[str, Handler] = {}
        self.requests: list[tuple[str, httpx.Request]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = _SERVICE_BY_HOST[request.url.host]
        self.requests.append((name, request))
        handler = self.replaced.get(name)
        if handler is not None:
            return await handler(request)
        return await self.services[name].transport.handle_async_request(request)


class InProcessServices:
    def __init__(self, services: Mapping[str, RunningService]) -> None:
        self.services = dict(services)
        self.transport = ServicesTransport(self.services)

    def start_batch_worker(self) -> None:
        """Work bulk-add jobs in the background, as the running customers service does (off
        by default: most tests have no job, and its polling only loads the machine)."""
        customers = self.runtime("customers")
        batch_workers.start(customers.db, customers.outbox, key=id(customers))

    async def stop_batch_worker(self) -> None:
        await batch_workers.stop(key=id(self.runtime("customers")))

    def runtime(self, name: str) -> Runtime:
        return self.services[name].runtime

    def client(self, name: str) -> httpx.AsyncClient:
        """A client straight to one service (to seed or read it as the service itself)."""
        return httpx.AsyncClient(
            transport=self.services[name].transport,
            base_url=SERVICE_URLS[name],
            auth=ServiceTokenAuth(SERVICE_TOKEN_SECRET, actor="tests"),
        )

    def calls(self, name: str, method: str | None = None) -> list[httpx.Request]:
        """The gateway's requests to service `name` so far (to check what it did not call)."""
        return [
            request
            for service, request in self.transport.requests
            if service == name and (method is None or request.method == method)
        ]

    def down(self, name: str) -> None:
        """Service `name` refuses connections from now on."""

        async def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        self.transport.replaced[name] = refuse

    def slow(self, name: str, seconds: float) -> None:
        """Service `name` answers, but only after `seconds`."""
        service = self.services[name]

        async def late(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(seconds)
            return await service.transport.handle_async_request(request)

        self.transport.replaced[name] = late

    def replace(self, name: str, handler: Handler) -> None:
        """Service `name` answers with `handler` (a broken service: a 500, a wrong shape)."""
        self.transport.replaced[name] = handler

    async def settle(self) -> int:
        """Deliver every event waiting in an outbox to the services consuming its topic, until
        no outbox has any left; returns how many events went across."""
        moved = 0
        while True:
            batch = 0
            for name in self.services:
                for topic, key, payload in await self._take_outbox(name):
                    batch += 1
                    await self._deliver(topic, key, payload.encode())
            if batch == 0:
                return moved
            moved += batch

    async def apps_event(self, data: EventData, *, customer_id: str) -> None:
        """An event of the TV apps (outside the services) on `apps.events`, then settled."""
        envelope = CloudEvent.wrap(data, source="/apps/tests", subject=customer_id)
        await self._deliver(topics.APPS_EVENTS, customer_id, envelope.to_bytes())
        await self.settle()

    async def _take_outbox(self, name: str) -> list[tuple[str, str, str]]:
        runtime = self.runtime(name)
        table = runtime.outbox.table
        async with runtime.db.transaction() as session:
            rows = (
                await session.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.payload).order_by(
                        table.c.id
                    )
                )
            ).all()
            if rows:
                await session.execute(delete(table).where(table.c.id.in_([r.id for r in rows])))
        return [(row.topic, row.key, row.payload) for row in rows]

    async def _deliver(self, topic: str, key: str, value: bytes) -> None:
        for service in self.services.values():
            consumer = service.runtime.consumer
            if topic in consumer.handlers:
                outcome = await consumer.process(
                    topic, consumer_record(topic, value, key=key.encode())
                )
                assert outcome != "dead_lettered", f"{consumer.service} refused {value!r}"


@asynccontextmanager
async def in_process_services(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[InProcessServices]:
    """The four services on fresh SQLite files, billing with its demo catalog."""
    running: dict[str, RunningService] = {}
    for spec in SPECS:
        url = await migrated_sqlite_url(request, tmp_path, spec)
        # The key the gateway under test signs its calls with (conftest.make_settings).
        settings = spec.settings(
            database_url=url, port=0, service_token_secret=SecretStr(SERVICE_TOKEN_SECRET)
        )
        app = create_app(spec, settings)
        runtime: Runtime = app.state.runtime
        # Nothing reaches Kafka: a dead letter is recorded instead of sent.
        runtime.consumer.producer = RecordingProducer().as_producer()
        running[spec.name] = RunningService(app, runtime, httpx.ASGITransport(app=app))
    async with running["billing"].runtime.db.transaction() as session:
        await seed_if_empty(session)
    services = InProcessServices(running)
    try:
        yield services
    finally:
        await services.stop_batch_worker()
        for service in running.values():
            await service.runtime.db.dispose()
