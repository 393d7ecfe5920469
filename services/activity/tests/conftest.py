"""The activity service's database, migrated; parametrized over SQLite and PostgreSQL. `feed`
runs events through the service's own consumer, as they arrive from Kafka."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from sqlalchemy import event

from services.activity.app import SPEC
from services.activity.tests.events import profile_created
from services.contracts import topics
from services.contracts.envelope import EventData
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    event_bytes,
    service_database_fixture,
    service_outbox_fixture,
    service_runtime,
)

db = service_database_fixture(SPEC)
outbox = service_outbox_fixture(SPEC)

# Which topic each kind of event arrives on.
_TOPIC_BY_MODULE = {
    "services.contracts.apps": topics.APPS_EVENTS,
    "services.contracts.billing": topics.BILLING_EVENTS,
    "services.contracts.customers": topics.CUSTOMERS_EVENTS,
}

Feed = Callable[[EventData], Awaitable[str]]


# The profiles the test events use, announced as the customers service announces every profile
# it accepted; a report for another profile is held (services/activity/profiles.py).
KNOWN_PROFILES = ("p-main", "p-kids")


@pytest.fixture
async def runtime(db: Database) -> AsyncIterator[Runtime]:
    async with service_runtime(SPEC, db) as rt:
        for profile_id in KNOWN_PROFILES:
            created = profile_created(profile_id)
            record = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(created))
            assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, record) == "handled"
        yield rt


@pytest.fixture
def feed(runtime: Runtime) -> Feed:
    """Process one event through the consumer (inbox, handler, dead letters); its outcome."""

    async def process(event: EventData) -> str:
        topic = _TOPIC_BY_MODULE[type(event).__module__]
        record = consumer_record(topic, event_bytes(event))
        return await runtime.consumer.process(topic, record)

    return process


def dead_letters(runtime: Runtime) -> RecordingProducer:
    return cast(RecordingProducer, runtime.consumer.producer)


async def process_batch_seeing_statements(runtime: Runtime, records: list[Any]) -> list[str]:
    """Process a poll's records through the consumer as one batch; the statements it ran on
    the consumer's own engine, each as its first four words in upper case."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()[:4]).upper())

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await runtime.consumer.process_batch(records)
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", seen)
    return statements
