"""Wires one service: its database and migrations, the outbox relay, the Kafka consumers (through
FastStream), the internal HTTP API with health and metrics, and AsyncAPI docs. The one place a
service is assembled; each service only declares its parts in a `ServiceSpec`."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from sqlalchemy import MetaData, Table, text

from services.contracts.envelope import EventData
from services.contracts.topics import ALL_TOPICS
from services.runtime import migrations, tracing
from services.runtime.allowed_methods import AllowedMethods
from services.runtime.consumer import EventConsumer
from services.runtime.consumer_lag import LAG_READ_TIMEOUT_SECONDS, LagGauge, LagReader
from services.runtime.db import Database
from services.runtime.fault_injection import relay_crash_point
from services.runtime.health import health_router
from services.runtime.idempotency import IdempotentWrites
from services.runtime.logging_setup import configure_logging
from services.runtime.nul_guard import NulGuard
from services.runtime.outbox import Outbox
from services.runtime.outbox_relay import OutboxRelay
from services.runtime.problems import install_problem_handlers
from services.runtime.producer import Producer
from services.runtime.request_metrics import RequestCounter
from services.runtime.service_auth import require_service_token
from services.runtime.settings import ServiceSettings
from services.runtime.topics_admin import ensure_topics

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class Runtime:
    """Everything a service's routes and handlers use at run time."""

    settings: ServiceSettings
    db: Database
    outbox: Outbox
    producer: Producer
    relay: OutboxRelay
    consumer: EventConsumer
    broker: KafkaBroker
    idempotency: IdempotentWrites

    def settings_as(self, kind: type[SettingsT]) -> SettingsT:
        """The settings as the service's own class, with what it adds to the runtime's."""
        if not isinstance(self.settings, kind):
            raise TypeError(f"{kind.__name__} expected, got {type(self.settings).__name__}")
        return self.settings


@dataclass
class ServiceSpec:
    name: str
    metadata: MetaData
    migrations_dir: Path
    router: APIRouter
    register_handlers: Callable[[Runtime], None]
    # The service's settings class: `run` loads it from the environment once, at start.
    settings: type[ServiceSettings]
    publishes: list[tuple[str, type[EventData]]] = field(default_factory=list)
    on_started: Callable[[Runtime], Any] | None = None
    # Called first at shutdown, before the consumers stop (e.g. to stop a background task).
    on_stopping: Callable[[Runtime], Any] | None = None


def build_runtime(spec: ServiceSpec, settings: ServiceSettings) -> Runtime:
    tables = spec.metadata.tables
    outbox_table: Table = tables["outbox"]
    db = Database(settings.database_url)
    producer = Producer(
        settings.kafka_bootstrap_servers, client_id=spec.name, security=settings.kafka_security
    )
    prefix = settings.kafka_topic_prefix
    relay = OutboxRelay(
        db=db,
        outbox=outbox_table,
        leases=tables["outbox_lease"],
        producer=producer,
        service=spec.name,
        interval_seconds=settings.relay_interval_seconds,
        batch_size=settings.relay_batch_size,
        topic_prefix=prefix,
        after_acknowledged=relay_crash_point(settings.fault_injection_dir, spec.name),
    )
    outbox = Outbox(outbox_table, source=f"/services/{spec.name}", on_commit=relay.wake)
    consumer = EventConsumer(
        service=spec.name,
        db=db,
        inbox=tables["inbox"],
        producer=producer,
        after_commit=relay.wake,
        max_attempts=settings.consumer_max_attempts,
        topic_prefix=prefix,
    )
    broker = KafkaBroker(
        settings.kafka_servers,
        client_id=spec.name,
        security=settings.kafka_security.faststream(),
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        description=f"{spec.name} service",
    )
    idempotency = IdempotentWrites(
        db,
        tables["idempotency_record"],
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    runtime = Runtime(settings, db, outbox, producer, relay, consumer, broker, idempotency)
    spec.register_handlers(runtime)
    consumer.subscribe(
        broker, workers=settings.consumer_workers, batch_size=settings.consumer_batch_size
    )
    for topic, model in spec.publishes:
        # Declared for the AsyncAPI document; the outbox relay does the publishing.
        broker.publisher(f"{prefix}{topic}", schema=model, title=f"{topic}:{model.event_type}")
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop on every request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def create_app(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:
    runtime = build_runtime(spec, settings)

    # The broker runs inside FastAPI's lifespan (started after the producer and relay, stopped
    # before them). FastStream's FastAPI plugin is deprecated since 0.7.3 and its successor
    # package could not inject the raw message into a handler (see the issue note), so the
    # broker is driven directly: its documented lifecycle, no plugin.
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        await asyncio.to_thread(migrations.upgrade, spec.migrations_dir, settings.database_url)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            tuple(f"{settings.kafka_topic_prefix}{topic}" for topic in ALL_TOPICS),
            replication_factor=settings.kafka_replication_factor,
            security=settings.kafka_security,
        )
        await runtime.producer.start()
        await runtime.relay.start()
        await runtime.broker.start()
        lag_gauge = _lag_gauge(spec.name, runtime)
        if lag_gauge:
            lag_gauge.start()
        if spec.on_started:
            result = spec.on_started(runtime)
            if asyncio.iscoroutine(result):
                await result
        log.info("%s ready on %s:%d", spec.name, settings.host, settings.port)
        try:
            yield
        finally:
            if spec.on_stopping:
                stopping = spec.on_stopping(runtime)
                if asyncio.iscoroutine(stopping):
                    await stopping
            if lag_gauge:
                await lag_gauge.stop()
            # Consumers first, so no handler writes while the relay drains and stops.
            await runtime.broker.stop()
            await runtime.relay.stop()
            await runtime.producer.stop()
            await runtime.db.dispose()

    app = FastAPI(
        title=f"{spec.name} service (internal API)",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.runtime = runtime
    app.state.service_token_key = settings.service_token_key
    app.state.idempotency = runtime.idempotency
    install_problem_handlers(app)
    tracing.instrument_app(app)
    tracing.instrument_engine(runtime.db.engine.sync_engine)
    app.add_middleware(AllowedMethods, router=app.router)
    app.add_middleware(NulGuard)
    app.add_middleware(RequestCounter, service=spec.name)

    async def database_ready() -> None:
        async with runtime.db.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def kafka_ready() -> None:
        await runtime.producer.kafka.client.fetch_all_metadata()

    app.include_router(health_router({"database": database_ready, "kafka": kafka_ready}))
    # Every route of the service answers the gateway only; health, metrics and docs stay open.
    app.include_router(spec.router, dependencies=[Depends(require_service_token)])

    asyncapi = AsyncAPI(runtime.broker, title=f"{spec.name} service", schema_version="3.0.0")

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI document of this service")
    async def asyncapi_json() -> Response:
        return Response(asyncapi.to_specification().to_json(), media_type="application/json")

    return app


def _lag_gauge(service: str, runtime: Runtime) -> LagGauge | None:
    """The measurement of the service's own consumer lag, if it consumes and it is on."""
    settings = runtime.settings
    if not runtime.consumer.handlers or not settings.consumer_lag_interval_seconds:
        return None
    reader = LagReader(
        settings.kafka_bootstrap_servers,
        prefix=settings.kafka_topic_prefix,
        client_id=f"{service}-lag",
        timeout_seconds=LAG_READ_TIMEOUT_SECONDS,
        security=settings.kafka_security,
    )
    return LagGauge(reader, [service], interval_seconds=settings.consumer_lag_interval_seconds)


def run(spec: ServiceSpec) -> None:
    """Run the service until SIGINT/SIGTERM; uvicorn's shutdown runs the lifespan's cleanup.
    The settings are read from the environment here, once: a bad value stops the start."""
    settings = spec.settings()
    tracing.configure_tracing(
        spec.name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_dir=settings.traces_dir,
    )
    uvicorn.run(
        create_app(spec, settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
