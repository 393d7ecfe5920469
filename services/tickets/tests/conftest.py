"""The tickets service's database, migrated; parametrized over SQLite and PostgreSQL; and its
internal HTTP API on that database, without a broker."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.runtime.db import Database
from services.runtime.service_app import create_app
from services.runtime.service_auth import ServiceTokenAuth
from services.runtime.settings import ServiceSettings
from services.runtime.tests._helpers import service_database_fixture, service_outbox_fixture
from services.tickets.app import SPEC

db = service_database_fixture(SPEC)
outbox = service_outbox_fixture(SPEC)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The service's FastAPI app on `db` (its lifespan, which starts Kafka, is not entered:
    the routes write the outbox, and nothing here relays it)."""
    settings = ServiceSettings(name=SPEC.name, database_url=db.url, port=0)
    app = create_app(SPEC, settings)
    transport = httpx.ASGITransport(app=app)
    auth = ServiceTokenAuth(settings.service_token_key, actor="tests")
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tickets.test", auth=auth
        ) as http:
            yield http
    finally:
        await app.state.runtime.db.dispose()
