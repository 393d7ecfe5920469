"""The expiry scheduler: ends due periods (applying a booked change or cancel), ends extras on
their own plans, and sends the expiring-soon notice once per period.

Safe with several replicas on one database: each effect first claims its row with a conditional
`UPDATE ... RETURNING` (the row's version must be the one seen); only one transaction can win
that claim, and the effect commits in the same transaction, so nothing is done twice.
"""

import asyncio
import contextlib
import logging
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import events
from services.billing.models import Plan, Product, Subscription, SubscriptionExtra
from services.billing.periods import add_period
from services.billing.service import replace_extras, running_status
from services.runtime.db import Database, utcnow
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

RUNNING = ("active", "trial")


@dataclass(frozen=True)
class SchedulerSettings:
    interval_seconds: float = 60.0
    expiring_days: int = 7
    batch_size: int = 200

    @classmethod
    def from_env(cls) -> "SchedulerSettings":
        return cls(
            interval_seconds=float(os.environ.get("BILLING_SCHEDULER_INTERVAL_SECONDS", "60")),
            expiring_days=int(os.environ.get("BILLING_EXPIRING_DAYS", "7")),
        )


@dataclass
class TickResult:
    """What one tick did (counts of effects this replica won)."""

    expired: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extras_ended: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)


async def _claim(session: AsyncSession, subscription_id: str, version: int) -> Subscription | None:
    """Bump the row's version if it is still `version`: the caller owns it until commit."""
    won = await session.scalar(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.version == version)
        .values(version=version + 1)
        .returning(Subscription.id)
        .execution_options(synchronize_session=False)
    )
    if won is None:
        return None
    return await session.get(Subscription, subscription_id, populate_existing=True)


async def _end_period(
    session: AsyncSession, outbox: Outbox, subscription: Subscription, now: datetime
) -> str:
    """The period is over: start the booked change, or expire."""
    ended_at = subscription.expires_at
    assert ended_at is not None
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
            outbox,
            subscription,
            product,
            "changed",
            at=now,
            summary=f"Booked change to {product.name}, {plan.name} started",
        )
        return "changed"
    subscription.status = "expired"
    subscription.cancel_at_period_end = False
    subscription.updated_at = now
    await events.expired(session, outbox, subscription, at=now)
    return "expired"


async def run_tick(
    db: Database,
    outbox: Outbox,
    *,
    now: datetime | None = None,
    expiring_days: int = 7,
    batch_size: int = 200,
) -> TickResult:
    """One pass over what is due at `now`; each effect in its own short transaction."""
    now = now or utcnow()
    result = TickResult()
    async with db.sessions() as session:
        due = (
            await session.execute(
                select(Subscription.id, Subscription.version)
                .where(Subscription.status.in_(RUNNING), Subscription.expires_at <= now)
                .order_by(Subscription.expires_at)
                .limit(batch_size)
            )
        ).all()
    for subscription_id, version in due:
        async with db.transaction() as session:
            subscription = await _claim(session, subscription_id, version)
            if subscription is None or subscription.status not in RUNNING:
                continue
            if subscription.expires_at is None or subscription.expires_at > now:
                continue
            outcome = await _end_period(session, outbox, subscription, now)
            (result.changed if outcome == "changed" else result.expired).append(
                subscription.customer_id
            )

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
            subscription = await session.get(Subscription, subscription_id)
            assert subscription is not None
            subscription.extra_product_ids = [
                p for p in subscription.extra_product_ids or [] if p != product_id
            ]
            subscription.version += 1
            subscription.updated_at = now
            base = await session.get(Product, subscription.product_id)
            assert base is not None
            await events.activated(
                session,
                outbox,
                subscription,
                base,
                "extra_removed",
                at=now,
                summary=f"Extra {product_id} ended with its plan",
            )
            result.extras_ended.append(subscription.customer_id)

    horizon = now + timedelta(days=expiring_days)
    async with db.sessions() as session:
        soon = (
            await session.execute(
                select(
                    Subscription.id,
                    Subscription.version,
                    Subscription.expires_at,
                    Subscription.expiring_notice_for,
                )
                .where(
                    Subscription.status.in_(RUNNING),
                    Subscription.expires_at > now,
                    Subscription.expires_at <= horizon,
                )
                .limit(batch_size * 5)
            )
        ).all()
    for subscription_id, version, expires_at, notice_for in soon:
        if notice_for == expires_at:
            continue  # this period's notice went out already
        async with db.transaction() as session:
            subscription = await _claim(session, subscription_id, version)
            if subscription is None or subscription.expires_at is None:
                continue
            if subscription.expiring_notice_for == subscription.expires_at:
                continue
            subscription.expiring_notice_for = subscription.expires_at
            days_left = max(1, math.ceil((subscription.expires_at - now) / timedelta(days=1)))
            await events.expiring(session, outbox, subscription, at=now, days_left=days_left)
            result.expiring.append(subscription.customer_id)
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
                if result.expired or result.changed or result.expiring or result.extras_ended:
                    log.info(
                        "scheduler: %d expired, %d changed, %d extras ended, %d expiring",
                        len(result.expired),
                        len(result.changed),
                        len(result.extras_ended),
                        len(result.expiring),
                    )
            except Exception:
                log.exception("scheduler tick failed; trying again next interval")
            await asyncio.sleep(self.settings.interval_seconds)
