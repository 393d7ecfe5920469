"""The scheduler says when it last completed a tick (`scheduler_last_tick_timestamp_seconds`),
so an alert can tell a scheduler that stopped ticking from one with nothing due."""

import asyncio
import time
from pathlib import Path

from prometheus_client import REGISTRY

from services.billing.scheduler import ExpiryScheduler, SchedulerSettings
from services.runtime.db import Database
from services.runtime.outbox import Outbox


def last_tick() -> float:
    value = REGISTRY.get_sample_value(
        "scheduler_last_tick_timestamp_seconds", {"service": "billing"}
    )
    return value or 0.0


async def ticked_once(scheduler: ExpiryScheduler, since: float) -> float:
    scheduler.start()
    try:
        for _ in range(400):  # 20 s at most
            if last_tick() > since:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    return last_tick()


async def test_a_completed_tick_sets_the_time_of_the_last_tick(
    db: Database, outbox: Outbox
) -> None:
    before = time.time()
    scheduler = ExpiryScheduler(db, outbox, SchedulerSettings(interval_seconds=60))
    assert before <= await ticked_once(scheduler, before) <= time.time()


async def test_a_failed_tick_leaves_the_time_of_the_last_tick(
    tmp_path: Path, outbox: Outbox
) -> None:
    # A database file in a directory that does not exist: every tick fails.
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'billing.db'}")
    scheduler = ExpiryScheduler(broken, outbox, SchedulerSettings(interval_seconds=0.05))
    scheduler.start()
    started = last_tick()  # set at the start: behind from then on if no pass completes
    try:
        await asyncio.sleep(0.5)
    finally:
        await scheduler.stop()
        await broken.dispose()
    assert last_tick() == started
