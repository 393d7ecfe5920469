"""The transactional outbox: an event is written in the same transaction as the change it
describes, and `OutboxRelay` publishes it afterwards."""

import zlib
from collections.abc import Callable

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.contracts.envelope import CloudEvent, EventData
from services.runtime.db import utcnow
from services.runtime.messaging_tables import OUTBOX_BUCKETS
from services.runtime.tracing import current_traceparent


def bucket_of(key: str) -> int:
    return zlib.crc32(key.encode()) % OUTBOX_BUCKETS


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
        await session.execute(
            insert(self.table).values(
                event_id=cloud_event.id,
                topic=topic,
                key=key,
                bucket=bucket_of(key),
                payload=cloud_event.to_bytes().decode(),
                created_at=utcnow(),
            )
        )
        # Wake the relay once the caller's transaction commits, not before: an early wake would
        # find nothing and leave the event waiting a whole polling interval.
        sync_session = session.sync_session
        if not event.contains(sync_session, "after_commit", self._after_commit):
            event.listen(sync_session, "after_commit", self._after_commit)
        return cloud_event
