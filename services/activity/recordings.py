"""Recordings the apps schedule, and how they end (completed with a size, or failed)."""

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, tuple_
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
from services.runtime.db import dialect_insert, utcnow
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


Reported = RecordingScheduledV1 | RecordingCompletedV1 | RecordingFailedV1 | RecordingDeletedV1
RECORDING = cast(Table, Recording.__table__)
_KEY = ("customer_id", "id")


async def apply_reports(session: AsyncSession, reported: Sequence[Reported]) -> None:
    """A batch's recording reports, in their order, as one read, one DELETE and one upsert:
    per recording what applying them one by one would leave.

    The rules, per report: a schedule of a recording we have is the app repeating itself
    (ignored); the end (completed with a size, or failed) of one we do not have was deleted
    first (ignored), and of one that ended the other way already, or a completion before the
    start, is refused (PoisonMessage: the consumer sets that report aside alone, and applies
    the rest of the batch)."""
    if not reported:
        return
    for event in reported:
        if isinstance(event, RecordingScheduledV1):
            check_slot(event)
    # Rows this transaction added or changed as objects (a held report replayed) count too.
    await session.flush()
    keys = {(e.customer_id, e.recording_id) for e in reported}
    found = await session.execute(
        select(RECORDING).where(tuple_(RECORDING.c.customer_id, RECORDING.c.id).in_(keys))
    )
    before: dict[tuple[str, str], dict[str, Any]] = {
        (row.customer_id, row.id): dict(row._mapping) for row in found.all()
    }
    after: dict[tuple[str, str], dict[str, Any] | None] = {k: dict(v) for k, v in before.items()}
    for event in reported:
        key = (event.customer_id, event.recording_id)
        row = after.get(key)
        if isinstance(event, RecordingScheduledV1):
            if row is None:
                after[key] = _scheduled(event)
        elif isinstance(event, RecordingDeletedV1):
            after[key] = None
        elif row is None:
            # Deleted with its profile or by an operator before the app reported the end.
            log.info("end report for unknown recording %s of %s", *reversed(key))
        elif isinstance(event, RecordingCompletedV1):
            _check_end(row, "completed", event.recording_id)
            if event.at < row["starts_at"]:
                raise PoisonMessage(
                    f"recording {event.recording_id} completed ({event.at.isoformat()}) "
                    f"before it started ({row['starts_at'].isoformat()})"
                )
            row.update(state="completed", size_bytes=event.size_bytes, finished_at=event.at)
        else:
            _check_end(row, "failed", event.recording_id)
            row.update(state="failed", failure_reason=event.reason, finished_at=event.at)
    gone = [k for k in before if after.get(k) is None]
    kept = [v for k, v in after.items() if v is not None and v != before.get(k)]
    if gone:
        await session.execute(
            delete(RECORDING).where(tuple_(RECORDING.c.customer_id, RECORDING.c.id).in_(gone))
        )
    if kept:
        insert = dialect_insert(session)(RECORDING)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[RECORDING.c[k] for k in _KEY],
                set_={c.name: insert.excluded[c.name] for c in RECORDING.c if c.name not in _KEY},
            ),
            kept,
        )
    # Objects of these rows loaded earlier in the transaction would now be out of date.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Recording) and (obj.customer_id, obj.id) in keys:
            session.expire(obj)


def _scheduled(event: RecordingScheduledV1) -> dict[str, Any]:
    return {
        "customer_id": event.customer_id,
        "id": event.recording_id,
        "profile_id": event.profile_id,
        "channel_id": event.channel_id,
        "programme_id": event.programme_id,
        "title": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "state": "scheduled",
        "size_bytes": None,
        "failure_reason": None,
        "scheduled_at": event.at,
        "finished_at": None,
    }


def _check_end(row: dict[str, Any], state: str, recording_id: str) -> None:
    if row["state"] not in ("scheduled", state):
        raise PoisonMessage(
            f"recording {recording_id} is already {row['state']}; it cannot become {state}"
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
