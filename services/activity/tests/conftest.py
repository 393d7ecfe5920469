"""The activity service's database, migrated; parametrized over SQLite and PostgreSQL."""

from services.activity.app import SPEC
from services.runtime.tests._helpers import service_database_fixture, service_outbox_fixture

db = service_database_fixture(SPEC)
outbox = service_outbox_fixture(SPEC)
