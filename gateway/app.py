"""The gateway process: `python -m gateway.app` serves the API on GATEWAY_HOST:GATEWAY_PORT.

`build()` is the one place the gateway is wired: settings, database and migrations, the first
admin, the shared HTTP client to the services, routes, errors, health and metrics. Tests pass
their own settings and an httpx transport that stands in for the services.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.body_limit import BodyLimit
from gateway.clients import ServiceClients
from gateway.docs_page import mount_docs
from gateway.downstream import IDLE_CONNECTION_SECONDS, Downstream, service_auth
from gateway.idempotent_writes import ReplayedHeader
from gateway.identity.bootstrap import ensure_first_admin
from gateway.identity.credential_cache import ApiKeyCache, CredentialCaches, TokenCache
from gateway.identity.operator_cache import OperatorCache
from gateway.models import idempotency_record
from gateway.operations import operations_router
from gateway.routes import ROUTERS
from gateway.settings import SERVICE_NAMES, GatewaySettings, load_settings
from gateway.stream_transport import StreamTransport
from gateway.web_console import mount_console
from services.runtime import migrations, tracing
from services.runtime.allowed_methods import AllowedMethods
from services.runtime.consumer_lag import LagGauge, LagReader
from services.runtime.db import Database
from services.runtime.idempotency import IdempotentWrites
from services.runtime.logging_setup import configure_logging
from services.runtime.nul_guard import NulGuard
from services.runtime.problems import install_problem_handlers
from services.runtime.request_metrics import RequestCounter

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DESCRIPTION = """
The operators' API of the IPTV customer-management backend.

Sign in with **Authorize** (OAuth2 password flow: an operator's username and password) or send
an `X-API-Key` header. Roles: `viewer` reads; `support` also handles tickets and messages;
`operator` also sells and edits customers; `admin` also edits the catalog and manages operators
and API keys. Every write is audited. Errors are RFC 9457 `application/problem+json`.
"""


def build(
    settings: GatewaySettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway app. `transport` replaces the network to the services (tests)."""
    settings = settings or load_settings()
    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await asyncio.to_thread(migrations.upgrade, MIGRATIONS_DIR, settings.database_url)
            await ensure_first_admin(db, settings)
            # One client for every call to every service: its connection pool is shared.
            # trust_env=False: calls between our own services never go through a proxy.
            # auth: every call, whoever makes it, carries the service token the services check.
            # The transport: HTTP/1.1 on kept-alive streams (gateway/stream_transport.py).
            async with httpx.AsyncClient(
                transport=transport or StreamTransport(keepalive_expiry=IDLE_CONNECTION_SECONDS),
                timeout=settings.service_timeout_seconds,
                trust_env=False,
                auth=service_auth(settings.service_token_key),
            ) as client:
                # Its calls carry the request's `traceparent` on to the services.
                tracing.instrument_httpx_client(client)
                app.state.services = ServiceClients.over(
                    Downstream(client, settings.service_urls, settings.service_timeout_seconds)
                )
                lag_gauge = _lag_gauge(settings)
                if lag_gauge:
                    lag_gauge.start()
                log.info("gateway ready on %s:%d", settings.host, settings.port)
                try:
                    yield
                finally:
                    if lag_gauge:
                        await lag_gauge.stop()
        finally:
            await db.dispose()

    app = FastAPI(
        title="TV customer management: gateway API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # gateway/docs_page.py serves /docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.operator_cache = OperatorCache(settings.operator_cache_seconds)
    app.state.credential_caches = CredentialCaches(
        tokens=TokenCache(), api_keys=ApiKeyCache(settings.operator_cache_seconds)
    )
    app.state.idempotency = IdempotentWrites(
        db,
        idempotency_record,
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    # 413: BodyLimit, below, may refuse any request that has a body.
    install_problem_handlers(app, body_statuses=(413,))
    tracing.instrument_app(app)
    tracing.instrument_engine(db.engine.sync_engine)

    app.add_middleware(ReplayedHeader)
    app.add_middleware(AllowedMethods, router=app.router)
    app.add_middleware(RequestCounter, service="gateway")
    app.add_middleware(NulGuard)
    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)

    mount_console(app)
    mount_docs(app)
    app.include_router(operations_router(app))
    for router in ROUTERS:
        app.include_router(router)
    return app


def _lag_gauge(settings: GatewaySettings) -> LagGauge | None:
    """Every service's consumer lag into `consumer_lag`, read from outside the consumers."""
    if not settings.consumer_lag_interval_seconds:
        return None
    reader = LagReader(
        settings.kafka_bootstrap_servers,
        prefix=settings.kafka_topic_prefix,
        client_id="gateway-lag",
        timeout_seconds=settings.kafka_timeout_seconds,
        security=settings.kafka_security,
    )
    return LagGauge(reader, SERVICE_NAMES, interval_seconds=settings.consumer_lag_interval_seconds)


def main() -> None:
    settings = load_settings()
    configure_logging("gateway", settings.log_level)
    tracing.configure_tracing(
        "gateway",
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_dir=settings.traces_dir,
    )
    uvicorn.Server(server_config(settings, build(settings))).run()


def server_config(settings: GatewaySettings, app: FastAPI) -> uvicorn.Config:
    """How uvicorn serves the gateway. Forwarded headers count only from TRUSTED_PROXIES
    (uvicorn would otherwise believe any client on 127.0.0.1)."""
    trusted = settings.trusted_proxies.strip()
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


if __name__ == "__main__":
    main()
