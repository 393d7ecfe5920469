"""The tickets service's database, migrated; parametrized over SQLite and PostgreSQL; and its
internal HTTP API on that database, without a broker."""

from services.runtime.tests._helpers import (
    service_api_fixture,
    service_database_fixture,
    service_outbox_fixture,
)
from services.tickets.app import SPEC

db = service_database_fixture(SPEC)
outbox = service_outbox_fixture(SPEC)
api = service_api_fixture(SPEC)
