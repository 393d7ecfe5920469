"""Recordings the apps schedule, and how they end (completed with a size, or failed)."""

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import Recording
from services.activity.schemas import RecordingPage, RecordingPublic, RecordingState
from services.contracts import topics
from services.contracts.apps import (
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingDeleteV1,
    RecordingFailedV1,
    RecordingScheduledV1,
)
from services.runtime.consumer import PoisonMessage
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.paging import Keyset
from services.runtime.problems import Problem

log = logging.getLogger(__name__)


def check_slot(event: RecordingScheduledV1) -> None:
    """A recording that ends before it starts is refused (PoisonMessage)."""
    if event.ends_at <= event.starts_at:
        raise PoisonMessage(
            f"recording {event.recording_id} ends ({event.ends_at.isoformat()}) "
            f"before it starts ({event.starts_at.isoformat()})"
        )


async def schedule(session: AsyncSession, event: RecordingScheduledV1) -> None:
    check_slot(event)
    if await session.get(Recording, (event.customer_id, event.recording_id)) is not None:
        return  # the app repeated itself under a new event id
    session.add(
        Recording(
            customer_id=event.customer_id,
            id=event.recording_id,
            profile_id=event.profile_id,
            channel_id=event.channel_id,
            programme_id=event.programme_id,
            title=event.title,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            state="scheduled",
            size_bytes=None,
            failure_reason=None,
            scheduled_at=event.at,
            finished_at=None,
        )
    )
    await session.flush()


async def _finishing(
    session: AsyncSession, customer_id: str, recording_id: str, state: str
) -> Recording | None:
    recording = await session.get(Recording, (customer_id, recording_id))
    if recording is None:
        # Deleted with its profile or by an operator before the app reported the end.
        log.info("%s report for unknown recording %s of %s", state, recording_id, customer_id)
        return None
    if recording.state not in ("scheduled", state):
        raise PoisonMessage(
            f"recording {recording_id} is already {recording.state}; it cannot become {state}"
        )
    return recording


async def complete(session: AsyncSession, event: RecordingCompletedV1) -> None:
    recording = await _finishing(session, event.customer_id, event.recording_id, "completed")
    if recording is None:
        return
    if event.at < recording.starts_at:
        raise PoisonMessage(
            f"recording {event.recording_id} completed ({event.at.isoformat()}) "
            f"before it started ({recording.starts_at.isoformat()})"
        )
    recording.state = "completed"
    recording.size_bytes = event.size_bytes
    recording.finished_at = event.at


async def fail(session: AsyncSession, event: RecordingFailedV1) -> None:
    recording = await _finishing(session, event.customer_id, event.recording_id, "failed")
    if recording is None:
        return
    recording.state = "failed"
    recording.failure_reason = event.reason
    recording.finished_at = event.at


async def delete_reported(session: AsyncSession, event: RecordingDeletedV1) -> None:
    await session.execute(
        delete(Recording).where(
            Recording.customer_id == event.customer_id, Recording.id == event.recording_id
        )
    )


async def remove_by_id(
    session: AsyncSession, outbox: Outbox, customer_id: str, recording_id: str
) -> None:
    """The operator deletes a recording, and the apps are told (recording.delete on
    apps.commands); 404 if the customer has no such recording."""
    recording = await session.get(Recording, (customer_id, recording_id))
    if recording is None:
        raise Problem(
            404, "Recording not found", f"customer {customer_id} has no recording {recording_id}"
        )
    await outbox.add(
        session,
        RecordingDeleteV1(
            customer_id=customer_id, profile_id=recording.profile_id, recording_id=recording_id
        ),
        topic=topics.APPS_COMMANDS,
        key=customer_id,
        subject=customer_id,
    )
    await session.delete(recording)
    await session.flush()


async def delete_of_profile(session: AsyncSession, customer_id: str, profile_id: str) -> None:
    await session.execute(
        delete(Recording).where(
            Recording.customer_id == customer_id, Recording.profile_id == profile_id
        )
    )


async def delete_all(session: AsyncSession, customer_id: str) -> None:
    await session.execute(delete(Recording).where(Recording.customer_id == customer_id))


def state_at(recording: Recording, now: datetime) -> RecordingState:
    """The stored state, except that a scheduled one is "recording" while its slot runs."""
    if recording.state == "scheduled" and recording.starts_at <= now < recording.ends_at:
        return "recording"
    return recording.state  # type: ignore[return-value]


RECORDINGS = Keyset("activity.recordings", tuple[datetime, str])


async def list_recordings(
    session: AsyncSession,
    customer_id: str,
    *,
    profile_id: str | None,
    limit: int,
    cursor: str | None,
) -> RecordingPage:
    """Latest start first, keyset-paged on (starts_at, id)."""
    query = select(Recording).where(Recording.customer_id == customer_id)
    if profile_id is not None:
        query = query.where(Recording.profile_id == profile_id)
    if cursor:
        query = query.where(
            RECORDINGS.where(cursor, (Recording.starts_at, Recording.id), descending=True)
        )
    rows = (
        await session.scalars(
            query.order_by(Recording.starts_at.desc(), Recording.id.desc()).limit(limit + 1)
        )
    ).all()
    rows, next_cursor = RECORDINGS.cut(rows, limit, lambda row: (row.starts_at, row.id))
    now = utcnow()
    items = [
        RecordingPublic(
            id=row.id,
            customer_id=row.customer_id,
            profile_id=row.profile_id,
            channel_id=row.channel_id,
            programme_id=row.programme_id,
            title=row.title,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            state=state_at(row, now),
            size_bytes=row.size_bytes,
            failure_reason=row.failure_reason,
            scheduled_at=row.scheduled_at,
            finished_at=row.finished_at,
        )
        for row in rows
    ]
    return RecordingPage(items=items, next_cursor=next_cursor)
