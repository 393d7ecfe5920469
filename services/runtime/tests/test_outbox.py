"""Outbox.add writes the CloudEvent in the caller's transaction, bucketed by its Kafka key."""

from datetime import UTC, datetime

from sqlalchemy import event

from services.contracts.activity import DeviceLimitChangedV1
from services.runtime.db import Database
from services.runtime.messaging_tables import OUTBOX_BUCKETS
from services.runtime.outbox import Outbox, bucket_of
from services.runtime.tests._helpers import outbox_rows
from services.runtime.tests.conftest import Tables

CHANGED = DeviceLimitChangedV1(
    customer_id="customer-1", max_devices=3, changed_at=datetime(2025, 1, 1, tzinfo=UTC)
)


async def test_add_writes_the_cloud_event_with_topic_key_and_bucket(
    db: Database, tables: Tables
) -> None:
    woken: list[bool] = []
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: woken.append(True))
    async with db.transaction() as session:
        event = await outbox.add(
            session, CHANGED, topic="activity.events", key="customer-1", subject="customer-1"
        )

    [row] = await outbox_rows(db, tables.outbox)
    assert (row.topic, row.key, row.bucket) == (
        "activity.events",
        "customer-1",
        bucket_of("customer-1"),
    )
    assert row.event == event
    assert row.event.type == "device_limit.changed.v1"
    assert row.event.source == "/services/test"
    assert row.event.subject == "customer-1"
    assert DeviceLimitChangedV1.model_validate(row.event.data) == CHANGED
    assert woken == [True]


async def test_add_is_rolled_back_with_the_callers_transaction(
    db: Database, tables: Tables
) -> None:
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    try:
        async with db.transaction() as session:
            await outbox.add(session, CHANGED, topic="activity.events", key="customer-1")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert await outbox_rows(db, tables.outbox) == []


async def test_add_keeps_a_given_event_id(sqlite_db: Database, tables: Tables) -> None:
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    async with sqlite_db.transaction() as session:
        await outbox.add(session, CHANGED, topic="t", key="k", event_id="fixed-id")
    [row] = await outbox_rows(sqlite_db, tables.outbox)
    assert row.event.id == "fixed-id"


def test_bucket_is_a_stable_function_of_the_key() -> None:
    keys = [f"customer-{i}" for i in range(500)]
    buckets = [bucket_of(key) for key in keys]
    assert buckets == [bucket_of(key) for key in keys]
    assert all(0 <= b < OUTBOX_BUCKETS for b in buckets)
    # Spread over every bucket, so relays can share the work.
    assert set(buckets) == set(range(OUTBOX_BUCKETS))


async def test_pending_events_are_written_in_order_by_one_insert_at_flush(
    db: Database, tables: Tables
) -> None:
    woken: list[bool] = []
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: woken.append(True))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    async with db.transaction() as session:
        pending = outbox.pending()
        added = [
            await pending.add(session, CHANGED, topic="activity.events", key=f"customer-{n}")
            for n in range(5)
        ]
        assert await outbox_rows(db, tables.outbox) == []  # nothing written before the flush
        await pending.flush(session)
    event.remove(db.engine.sync_engine, "before_cursor_execute", seen)

    rows = await outbox_rows(db, tables.outbox)
    assert [row.event.id for row in rows] == [e.id for e in added]
    assert [row.key for row in rows] == [f"customer-{n}" for n in range(5)]
    assert len([s for s in statements if s.startswith("INSERT INTO outbox")]) == 1
    assert woken == [True]
