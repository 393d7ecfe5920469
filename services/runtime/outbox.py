"""The transactional outbox: an event is written in the same transaction as the change it
describes, and `OutboxRelay` publishes it afterwards."""

import zlib
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.contracts.envelope import CloudEvent, EventData
from services.runtime.db import utcnow
from services.runtime.messaging_tables import OUTBOX_BUCKETS
from services.runtime.tracing import current_traceparent


def bucket_of(key: str) -> int:
    return zlib.crc32(key.encode()) % OUTBOX_BUCKETS


# The PostgreSQL channel a commit with new outbox rows notifies (each service has its own
# database, and NOTIFY reaches only listeners of that database).
CHANNEL = "outbox"
NOTIFIED = "outbox_notified"


def _row(cloud_event: CloudEvent, topic: str, key: str) -> dict[str, Any]:
    return {
        "event_id": cloud_event.id,
        "topic": topic,
        "key": key,
        "bucket": bucket_of(key),
        "payload": cloud_event.to_bytes().decode(),
        "created_at": utcnow(),
    }


class EventSink(Protocol):
    """Where a rule puts the events it publishes: the outbox itself, or a batch's `Pending`."""

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        topic: str,
        key: str,
        subject: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent: ...


class Outbox:
    """Adds events to the outbox table inside the caller's transaction."""

    def __init__(self, table: Table, *, source: str, on_commit: Callable[[], None]) -> None:
        self.table = table
        self.source = source
        self._on_commit = on_commit

    def _after_commit(self, _session: Session) -> None:
        self._on_commit()

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        topic: str,
        key: str,
        subject: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent:
        cloud_event = CloudEvent.wrap(
            data,
            source=self.source,
            subject=subject,
            event_id=event_id,
            traceparent=current_traceparent(),
        )
        await self.write(session, [_row(cloud_event, topic, key)])
        return cloud_event

    def pending(self) -> "Pending":
        """A collector for a batch's events, written by one INSERT on `Pending.flush`."""
        return Pending(self)

    async def write(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        # One multi-row INSERT (SQLAlchemy's "insertmanyvalues" for a list of parameters); the
        # ids, the relay's order, follow the list.
        await session.execute(insert(self.table), rows)
        if session.get_bind().dialect.name == "postgresql" and not session.info.get(NOTIFIED):
            # Delivered at commit to every relay LISTENing on this database (other replicas
            # too); the in-process wake below only reaches this process's relay.
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
            session.info[NOTIFIED] = True
        # Wake the relay once the caller's transaction commits, not before: an early wake would
        # find nothing and leave the event waiting a whole polling interval.
        sync_session = session.sync_session
        if not event.contains(sync_session, "after_commit", self._after_commit):
            event.listen(sync_session, "after_commit", self._after_commit)


class Pending:
    """Events of one batch, kept in order and written to the outbox in one statement.

    Same `add` as `Outbox`, so a rule publishes without knowing which it was given; the batch's
    handler calls `flush` before its transaction commits.
    """

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.rows: list[dict[str, Any]] = []

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        topic: str,
        key: str,
        subject: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent:
        source = self.outbox.source
        cloud_event = CloudEvent.wrap(
            data,
            source=source,
            subject=subject,
            event_id=event_id,
            traceparent=current_traceparent(),
        )
        self.rows.append(_row(cloud_event, topic, key))
        return cloud_event

    async def flush(self, session: AsyncSession) -> None:
        if self.rows:
            await self.outbox.write(session, self.rows)
            self.rows = []
