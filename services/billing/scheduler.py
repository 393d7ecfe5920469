"""The expiry scheduler: ends due periods (applying a booked change or cancel), ends extras on
their own plans, and sends the expiring-soon notice once per period.

Month end is thousands of periods ending at once, so each kind of effect is claimed and applied
a batch at a time: one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) AND <still
due> RETURNING` claims a batch and, for plain expiries and notices, is the effect itself; the
batch's events go to the outbox in one insert and its history lines in one more (Core rows,
`events.Timeline`: no ORM object per line).

Safe with several replicas on one database: the claim and the effects (which make the rows no
longer due) commit in one transaction, so no row's effect happens twice. PostgreSQL: the
candidates are locked with SKIP LOCKED, so replicas take different rows; a row another replica
changed meanwhile is rechecked against the conditions when locked (READ COMMITTED follows it to
its newest version) and left out if it no longer meets them. SQLite: the UPDATE is the
transaction's first statement, so it holds the write lock and sees the other replica's committed
work.
"""

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import events
from services.billing.models import Plan, Product, Subscription, SubscriptionExtra
from services.billing.periods import add_period
from services.billing.service import replace_extras, running_status
from services.runtime.db import Database, utcnow
from services.runtime.metrics import SCHEDULER_LAST_TICK
from services.runtime.outbox import EventSink, Outbox, Pending
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

RUNNING = ("active", "trial")

# What an expiry or a notice needs of a claimed row, returned by the claim itself.
_RETURNED = (
    Subscription.id,
    Subscription.customer_id,
    Subscription.product_id,
    Subscription.expires_at,
)


@dataclass(frozen=True)
class SchedulerSettings:
    interval_seconds: float = 60.0
    expiring_days: int = 7
    batch_size: int = 500


@dataclass
class TickResult:
    """What one tick did (counts of effects this replica won)."""

    expired: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extras_ended: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)


async def _claim(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    limit: int,
    returning: tuple[Any, ...],
    **values: Any,
) -> list[Row[Any]]:
    """Claim up to `limit` rows meeting `conditions`, set `values` on them and return the
    `returning` columns (after the update), earliest expiry first: one statement."""
    # A CTE computed once: as a plain `IN (subquery)` PostgreSQL may run the LIMIT subquery
    # again for the outer scan and claim more than `limit` rows (seen: 25 for a limit of 10).
    candidates = (
        select(Subscription.id)
        .where(*conditions)
        .order_by(Subscription.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # The update finds its rows by primary key alone: the candidates are locked and rechecked
    # already. With the conditions repeated here, PostgreSQL planned from statistics taken
    # before the month end (hardly any row due) a scan of every due row per candidate: 2 s a
    # batch of 500 at 10,000 due, where the key lookups take milliseconds.
    claimed = await session.execute(
        update(Subscription)
        .where(Subscription.id.in_(select(candidates.c.id)))
        .values(version=Subscription.version + 1, **values)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    # RETURNING follows no order; one customer has one subscription, so any order keeps each
    # customer's events in order, and expiry order keeps the log readable.
    return sorted(claimed.all(), key=lambda row: (row.expires_at, row.id))


@contextlib.asynccontextmanager
async def _batch(
    db: Database, outbox: Outbox
) -> AsyncIterator[tuple[AsyncSession, Pending, events.Timeline]]:
    """One batch's transaction, its events and its history lines, each written by one insert
    before the commit."""
    async with db.transaction() as session:
        pending, timeline = outbox.pending(), events.Timeline()
        yield session, pending, timeline
        await pending.flush(session)
        await timeline.flush(session)


async def _expire_batch(
    session: AsyncSession,
    sink: EventSink,
    timeline: events.Timeline,
    due: list[ColumnElement[bool]],
    limit: int,
    now: datetime,
) -> list[str]:
    """Expire up to `limit` due periods with no booked change: the claim is the effect."""
    no_change = or_(Subscription.next_product_id.is_(None), Subscription.next_plan_id.is_(None))
    rows = await _claim(
        session,
        [*due, no_change],
        limit,
        _RETURNED,
        status="expired",
        cancel_at_period_end=False,
        updated_at=now,
    )
    for row in rows:
        await events.expired(session, sink, row, at=now, timeline=timeline)
    return [row.customer_id for row in rows]


async def _change_batch(
    session: AsyncSession,
    sink: EventSink,
    timeline: events.Timeline,
    due: list[ColumnElement[bool]],
    limit: int,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Start the booked changes of up to `limit` due periods; (changed, expired) customers."""
    booked = [Subscription.next_product_id.is_not(None), Subscription.next_plan_id.is_not(None)]
    rows = await _claim(session, [*due, *booked], limit, (Subscription.id, Subscription.expires_at))
    if not rows:
        return [], []
    claimed = await session.scalars(
        select(Subscription)
        .where(Subscription.id.in_([row.id for row in rows]))
        .order_by(Subscription.expires_at, Subscription.id)
        .execution_options(populate_existing=True)
    )
    changed: list[str] = []
    expired: list[str] = []
    for subscription in claimed.all():
        outcome = await _end_period(session, sink, timeline, subscription, now)
        (changed if outcome == "changed" else expired).append(subscription.customer_id)
    return changed, expired


async def _end_period(
    session: AsyncSession,
    sink: EventSink,
    timeline: events.Timeline,
    subscription: Subscription,
    now: datetime,
) -> str:
    """The period is over: start the booked change, or expire (its product or plan is gone)."""
    ended_at = subscription.expires_at
    assert ended_at is not None
    # The catalog rows stay in the session's identity map: a batch reads each product once.
    product = (
        await session.get(Product, subscription.next_product_id)
        if subscription.next_product_id
        else None
    )
    plan = await session.get(Plan, subscription.next_plan_id) if subscription.next_plan_id else None
    if product is not None and plan is not None:
        extras = [
            e
            for e in [
                await session.get(Product, p) for p in subscription.next_extra_product_ids or []
            ]
            if e is not None
        ]
        subscription.product_id, subscription.plan_id = product.id, plan.id
        subscription.starts_at = ended_at
        subscription.expires_at = add_period(ended_at, plan.length, plan.unit)
        subscription.status = running_status(product)
        subscription.next_product_id = subscription.next_plan_id = None
        subscription.next_extra_product_ids = None
        subscription.updated_at = now
        await replace_extras(session, subscription, extras, now)
        await events.activated(
            session,
            sink,
            subscription,
            product,
            "changed",
            at=now,
            summary=f"Booked change to {product.name}, {plan.name} started",
            timeline=timeline,
        )
        return "changed"
    subscription.status = "expired"
    subscription.cancel_at_period_end = False
    subscription.updated_at = now
    await events.expired(session, sink, subscription, at=now, timeline=timeline)
    return "expired"


async def _notice_batch(
    session: AsyncSession,
    sink: EventSink,
    timeline: events.Timeline,
    soon: list[ColumnElement[bool]],
    limit: int,
    now: datetime,
) -> list[str]:
    """The expiring-soon notice for up to `limit` periods; the claim records it was sent."""
    rows = await _claim(
        session, soon, limit, _RETURNED, expiring_notice_for=Subscription.expires_at
    )
    for row in rows:
        left = (row.expires_at - now) / timedelta(days=1)
        days_left = max(1, math.ceil(left))
        await events.expiring(session, sink, row, at=now, days_left=days_left, timeline=timeline)
    return [row.customer_id for row in rows]


async def _end_extras(
    db: Database, outbox: Outbox, now: datetime, batch_size: int, result: TickResult
) -> None:
    async with db.sessions() as session:
        extras_due = (
            await session.execute(
                select(SubscriptionExtra.subscription_id, SubscriptionExtra.product_id)
                .where(SubscriptionExtra.expires_at <= now)
                .limit(batch_size)
            )
        ).all()
    for subscription_id, product_id in extras_due:
        async with db.transaction() as session:
            # The DELETE is the claim: only one replica deletes the row.
            gone = await session.scalar(
                delete(SubscriptionExtra)
                .where(
                    SubscriptionExtra.subscription_id == subscription_id,
                    SubscriptionExtra.product_id == product_id,
                    SubscriptionExtra.expires_at <= now,
                )
                .returning(SubscriptionExtra.product_id)
                .execution_options(synchronize_session=False)
            )
            if gone is None:
                continue
            owner = await session.get(Subscription, subscription_id)
            assert owner is not None
            owner.extra_product_ids = [p for p in owner.extra_product_ids or [] if p != product_id]
            owner.version += 1
            owner.updated_at = now
            base = await session.get(Product, owner.product_id)
            assert base is not None
            await events.activated(
                session,
                outbox,
                owner,
                base,
                "extra_removed",
                at=now,
                summary=f"Extra {product_id} ended with its plan",
            )
            result.extras_ended.append(owner.customer_id)


async def run_tick(
    db: Database,
    outbox: Outbox,
    *,
    now: datetime | None = None,
    expiring_days: int = 7,
    batch_size: int = 500,
) -> TickResult:
    """One pass over what is due at `now`, a batch per short transaction."""
    now = now or utcnow()
    result = TickResult()
    due = [Subscription.status.in_(RUNNING), Subscription.expires_at <= now]
    while True:
        async with _batch(db, outbox) as (session, pending, timeline):
            changed, expired = await _change_batch(session, pending, timeline, due, batch_size, now)
        result.changed += changed
        result.expired += expired
        if len(changed) + len(expired) < batch_size:
            break
    while True:
        async with _batch(db, outbox) as (session, pending, timeline):
            expired = await _expire_batch(session, pending, timeline, due, batch_size, now)
        result.expired += expired
        if len(expired) < batch_size:
            break

    await _end_extras(db, outbox, now, batch_size, result)

    horizon = now + timedelta(days=expiring_days)
    soon = [
        Subscription.status.in_(RUNNING),
        Subscription.expires_at > now,
        Subscription.expires_at <= horizon,
        # Once per period: the notice remembers the expiry it was sent for.
        or_(
            Subscription.expiring_notice_for.is_(None),
            Subscription.expiring_notice_for != Subscription.expires_at,
        ),
    ]
    while True:
        async with _batch(db, outbox) as (session, pending, timeline):
            noticed = await _notice_batch(session, pending, timeline, soon, batch_size, now)
        result.expiring += noticed
        if len(noticed) < batch_size:
            break
    return result


class ExpiryScheduler:
    """Runs `run_tick` every interval until stopped; a failed tick is logged and retried."""

    def __init__(self, db: Database, outbox: Outbox, settings: SchedulerSettings) -> None:
        self.db = db
        self.outbox = outbox
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime | None = None) -> TickResult:
        return await run_tick(
            self.db,
            self.outbox,
            now=now,
            expiring_days=self.settings.expiring_days,
            batch_size=self.settings.batch_size,
        )

    def start(self) -> None:
        # Counted from the start: a scheduler whose every pass fails is behind from then on.
        SCHEDULER_LAST_TICK.labels("billing").set_to_current_time()
        self._task = asyncio.create_task(self._run(), name="billing-expiry-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                result = await self.tick()
                # A failed tick leaves it as it was: the time since says how far behind.
                SCHEDULER_LAST_TICK.labels("billing").set_to_current_time()
                if result.expired or result.changed or result.expiring or result.extras_ended:
                    log.info(
                        "scheduler: %d expired, %d changed, %d extras ended, %d expiring",
                        len(result.expired),
                        len(result.changed),
                        len(result.extras_ended),
                        len(result.expiring),
                    )
            except Exception as error:
                # A tick is one transaction per batch: one that failed left nothing half done,
                # and the next interval's tick picks the same subscriptions up again.
                if is_transient(error):
                    log.warning("scheduler tick failed (%r); trying again next interval", error)
                else:
                    log.exception("scheduler tick failed; trying again next interval")
            await asyncio.sleep(self.settings.interval_seconds)
