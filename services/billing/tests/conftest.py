"""Billing's database, migrated, with the demo catalog; parametrized over SQLite and PostgreSQL;
and its internal HTTP API on that database, without a broker."""

from services.billing.app import SPEC
from services.billing.demo_catalog import seed_if_empty
from services.runtime.tests._helpers import (
    service_api_fixture,
    service_database_fixture,
    service_outbox_fixture,
)

db = service_database_fixture(SPEC, prepare=seed_if_empty)
outbox = service_outbox_fixture(SPEC)
api = service_api_fixture(SPEC)
