"""The tickets service's database, migrated; parametrized over SQLite and PostgreSQL."""

from services.runtime.tests._helpers import service_database_fixture, service_outbox_fixture
from services.tickets.app import SPEC

db = service_database_fixture(SPEC)
outbox = service_outbox_fixture(SPEC)
