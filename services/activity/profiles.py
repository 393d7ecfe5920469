"""The profiles activity knows, and the apps' reports held for a profile it does not know yet.

The customers service owns profiles and announces each one it accepted (profile.created.v1 on
customers.events, whether the operator or an app created it). An app's favorite, watchlist
entry or recording names a profile; activity stores it only for a profile it knows.

The race: an app creates a profile (apps.events) and at once saves a favorite to it (apps.events
too, right behind). Activity reads the favorite before the customers service's announcement
reaches it on customers.events, a topic read independently. So a report for an unknown profile
is held, not refused: applied, in arrival order, when the profile is announced; dead-lettered
with the reason when the grace period (ACTIVITY_UNKNOWN_PROFILE_GRACE_SECONDS) ends first. A
profile the customers service refused is never announced, so its reports end in the dead-letter
topic, and the profile never becomes known. Learning profiles from the apps' own
profile.created would not tell a refused profile from an accepted one.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import access
from services.activity.models import HeldAppReport, KnownProfile
from services.contracts import topics
from services.contracts.customers import ProfileCreatedV1
from services.contracts.envelope import CloudEvent, EventData
from services.contracts.registry import TOPIC_EVENT_MODELS
from services.runtime.consumer import EventConsumer, PoisonMessage, Traced, untraced
from services.runtime.db import Database, utcnow
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

Apply = Callable[[AsyncSession, EventData], Awaitable[None]]


async def known_among(
    session: AsyncSession, pairs: Collection[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (customer, profile) pairs are known, in one query."""
    if not pairs:
        return set()
    rows = await session.execute(
        select(KnownProfile.customer_id, KnownProfile.profile_id).where(
            KnownProfile.customer_id.in_({c for c, _ in pairs}),
            KnownProfile.profile_id.in_({p for _, p in pairs}),
        )
    )
    return {(c, p) for c, p in rows.all()} & set(pairs)


async def held_recordings_among(
    session: AsyncSession, recordings: Collection[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(customer, recording) -> profile, for the recordings whose scheduling is held: what
    follows one waits behind it."""
    if not recordings:
        return {}
    rows = await session.execute(
        select(HeldAppReport.customer_id, HeldAppReport.recording_id, HeldAppReport.profile_id)
        .where(
            HeldAppReport.customer_id.in_({c for c, _ in recordings}),
            HeldAppReport.recording_id.in_({r for _, r in recordings}),
        )
        .order_by(HeldAppReport.id)
    )
    wanted = set(recordings)
    return {(c, r): p for c, r, p in rows.all() if r is not None and (c, r) in wanted}


async def hold(
    session: AsyncSession,
    event: CloudEvent,
    *,
    customer_id: str,
    profile_id: str,
    recording_id: str | None = None,
) -> None:
    session.add(
        HeldAppReport(
            customer_id=customer_id,
            profile_id=profile_id,
            recording_id=recording_id,
            envelope=event.model_dump_json(exclude_none=True),
            held_at=utcnow(),
        )
    )
    await session.flush()


async def learn(
    session: AsyncSession,
    consumer: EventConsumer,
    events: Sequence[ProfileCreatedV1],
    apply: Apply,
    traced: Traced = untraced,
) -> None:
    """The profiles of a partition's run of announcements are known from now on; what their
    apps reported meanwhile is applied in the order it arrived, and a report that cannot be (a
    recording ending before it starts) is dead-lettered alone. Under the customers' locks (all
    taken in one statement, in customer order), as a decision to hold is (app_items.receive).
    Set-based: a new customer's announcement cost three statements and ORM work each."""
    if not events:
        return
    customers = {event.customer_id for event in events}
    await access.locked_limits_of(session, customers)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(KnownProfile).on_conflict_do_nothing(index_elements=["customer_id", "profile_id"]),
        [
            {"customer_id": e.customer_id, "profile_id": e.profile_id, "known_at": now}
            for e in events
        ],
    )
    announced = {(e.customer_id, e.profile_id): index for index, e in enumerate(events)}
    held = (
        await session.scalars(
            select(HeldAppReport)
            .where(HeldAppReport.customer_id.in_(customers))
            .order_by(HeldAppReport.id)
            .with_for_update()
        )
    ).all()
    models = TOPIC_EVENT_MODELS["apps.events"]
    for row in held:
        index = announced.get((row.customer_id, row.profile_id))
        if index is None:
            continue  # held for another profile of the customer, still unknown
        with traced(index):  # applied in the trace of the announcement that released it
            envelope = CloudEvent.model_validate_json(row.envelope)
            try:
                # A savepoint: a refused report leaves nothing half-applied behind it.
                async with session.begin_nested():
                    await apply(session, models[envelope.type].model_validate(envelope.data))
            except PoisonMessage as refused:
                await _dead_letter(session, consumer, row, envelope, str(refused))
                continue
            await session.delete(row)
    await session.flush()


async def _dead_letter(
    session: AsyncSession,
    consumer: EventConsumer,
    row: HeldAppReport,
    envelope: CloudEvent,
    reason: str,
) -> None:
    """To apps.events.dlq as it arrived, its inbox entry dropped so that a replay is handled."""
    await consumer.dead_letter_value(
        topics.APPS_EVENTS,
        value=row.envelope.encode(),
        key=row.customer_id.encode(),
        reason=reason,
    )
    inbox: Table = consumer.inbox
    await session.execute(
        delete(inbox).where(inbox.c.event_id == f"{envelope.source}#{envelope.id}")
    )
    await session.delete(row)


async def forget(session: AsyncSession, customer_id: str, profile_id: str) -> None:
    """The profile was deleted: later reports for it are unknown again."""
    await session.execute(
        delete(KnownProfile).where(
            KnownProfile.customer_id == customer_id, KnownProfile.profile_id == profile_id
        )
    )


async def forget_customer(session: AsyncSession, customer_id: str) -> None:
    """Erasure: the customer's profiles and held reports go."""
    await session.execute(delete(KnownProfile).where(KnownProfile.customer_id == customer_id))
    await session.execute(delete(HeldAppReport).where(HeldAppReport.customer_id == customer_id))


async def dead_letter_overdue(
    db: Database, consumer: EventConsumer, *, held_before: datetime, limit: int = 100
) -> int:
    """Dead-letter the reports held since before `held_before` (their profile never became
    known); returns how many. Each one's inbox entry goes with it, so a replay from the
    dead-letter topic (after the profile exists) is handled, not taken for a duplicate.

    Sent before the rows are deleted: a crash in between sends one again (the inbox absorbs a
    replayed twin). Rows are locked with SKIP LOCKED, so replicas share the work."""
    async with db.transaction() as session:
        rows = (
            await session.scalars(
                select(HeldAppReport)
                .where(HeldAppReport.held_at < held_before)
                .order_by(HeldAppReport.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            envelope = CloudEvent.model_validate_json(row.envelope)
            reason = (
                f"{envelope.type}: profile {row.profile_id} is not a profile of customer "
                f"{row.customer_id} (the customers service did not announce it within "
                f"{(utcnow() - row.held_at).total_seconds():.0f} s)"
            )
            await _dead_letter(session, consumer, row, envelope, reason)
    return len(rows)


class HeldReportSweeper:
    """Dead-letters, every few seconds, the held reports whose grace period ended."""

    def __init__(self, db: Database, consumer: EventConsumer, *, grace_seconds: float) -> None:
        self.db = db
        self.consumer = consumer
        self.grace = timedelta(seconds=grace_seconds)
        self.interval = min(max(grace_seconds / 4, 0.5), 10.0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="held-report-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await dead_letter_overdue(
                    self.db, self.consumer, held_before=utcnow() - self.grace
                ):
                    pass
            except Exception as error:
                # The database or Kafka away: the held rows stay and are tried next round.
                if is_transient(error):
                    log.warning("could not dead-letter held app reports (%r); trying again", error)
                else:
                    log.exception("could not dead-letter held app reports; trying again")
            await asyncio.sleep(self.interval)
