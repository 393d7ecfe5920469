"""Publishes outbox rows to Kafka in commit order per key and deletes them once acknowledged.

Several replicas may run a relay on one database: each holds leases on buckets of keys, so a
key is published by one worker at a time and its events keep their order. A publish whose
outcome is unknown is sent again; consumers' inboxes absorb the duplicate.
"""

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta

import asyncpg
from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from services.runtime.db import CONNECT_TIMEOUT_SECONDS, Database, utcnow
from services.runtime.messaging_tables import OUTBOX_BUCKETS
from services.runtime.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from services.runtime.outbox import CHANNEL
from services.runtime.producer import Producer
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
# Leases are renewed a few times per lease period, not on every round: a round per committed
# event would otherwise cost an UPDATE and a SELECT more than the publishing itself.
LEASE_RENEW_SECONDS = 3.0
# The backlog gauges cost one aggregate query; a scrape every 15 s needs no fresher figure.
MEASURE_SECONDS = 5.0
# The longest pause between rounds while Kafka or the database is away: how late the relay may
# notice that they are back.
MAX_BACKOFF_SECONDS = 5.0


class OutboxRelay:
    def __init__(
        self,
        *,
        db: Database,
        outbox: Table,
        leases: Table,
        producer: Producer,
        service: str,
        interval_seconds: float = 1.0,
        batch_size: int = 500,
        topic_prefix: str = "",
        after_acknowledged: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.leases = leases
        self.producer = producer
        self.service = service
        self.interval = interval_seconds
        self.batch_size = batch_size
        # Rows name the system's topics; the deployment's prefix is added on the way out.
        self.topic_prefix = topic_prefix
        # A fault-injection point (services/runtime/fault_injection.py), a no-op unless set.
        self.after_acknowledged = after_acknowledged
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._held: list[int] = []
        self._claimed_at = float("-inf")
        self._measured_at = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._ensure_lease_rows()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")
        if self.db.dialect == "postgresql":
            self._listener = asyncio.create_task(
                self._listen(), name=f"{self.service}-outbox-listen"
            )

    async def stop(self) -> None:
        for task in (self._listener, self._task):
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._task is not None:
            await self._release_leases()

    async def _listen(self) -> None:
        """Wake on the NOTIFY of any commit that added outbox rows, in this process or another
        replica's; the polling interval stays as the fallback while the listener reconnects."""
        dsn = make_url(self.db.url).set(drivername="postgresql")
        while True:
            try:
                connection = await asyncpg.connect(
                    dsn.render_as_string(hide_password=False), timeout=CONNECT_TIMEOUT_SECONDS
                )
            except Exception as error:  # the database is away: polling covers meanwhile
                log.warning("outbox relay cannot LISTEN (%r); retrying", error)
                await asyncio.sleep(5.0)
                continue
            closed = asyncio.Event()
            try:
                connection.add_termination_listener(lambda _c, ended=closed: ended.set())
                await connection.add_listener(CHANNEL, lambda *_: self.wake())
                await closed.wait()
            finally:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1.0)

    async def _ensure_lease_rows(self) -> None:
        async with self.db.transaction() as session:
            existing = set((await session.scalars(select(self.leases.c.bucket))).all())
        for bucket in range(OUTBOX_BUCKETS):
            if bucket in existing:
                continue
            try:
                async with self.db.transaction() as session:
                    await session.execute(insert(self.leases).values(bucket=bucket))
            except IntegrityError:
                pass  # another replica inserted it first

    async def _run(self) -> None:
        backoff = self.interval
        while True:
            # Cleared before the round, not after it: a commit that wakes the relay while it
            # publishes (the usual case under load) must get the next round at once, not wait
            # out the polling interval.
            self._wake.clear()
            try:
                published = await self.publish_once()
                await self._measure_backlog()
                backoff = self.interval
                if published >= self.batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Kafka or the database is away: keep the rows, try again later.
                if is_transient(error):
                    log.warning("outbox relay round failed (%r); retrying in %.1fs", error, backoff)
                else:
                    log.exception("outbox relay round failed; retrying in %.1fs", backoff)
                self._claimed_at = float("-inf")  # leases may have lapsed meanwhile: re-claim
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def _measure_backlog(self) -> None:
        """Set the backlog gauges: every row of the table, whichever relay holds its bucket, so
        a replica whose relay is stuck shows in every replica's figures."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._measured_at < MEASURE_SECONDS:
            return
        self._measured_at = loop_time
        async with self.db.transaction() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(self.outbox.c.created_at)).select_from(
                        self.outbox
                    )
                )
            ).one()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        age = 0.0 if oldest is None else (utcnow() - oldest).total_seconds()
        OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

    async def _claim_buckets(self) -> list[int]:
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                update(self.leases)
                .where(
                    or_(
                        self.leases.c.owner == self.owner,
                        self.leases.c.owner.is_(None),
                        self.leases.c.expires_at < now,
                    )
                )
                .values(owner=self.owner, expires_at=now + timedelta(seconds=LEASE_SECONDS))
            )
            held = await session.scalars(
                select(self.leases.c.bucket).where(self.leases.c.owner == self.owner)
            )
            return list(held.all())

    async def _release_leases(self) -> None:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(self.leases)
                    .where(self.leases.c.owner == self.owner)
                    .values(owner=None, expires_at=None)
                )
        except Exception:
            log.warning("could not release outbox leases; they expire on their own")

    async def publish_once(self) -> int:
        """Publish one batch from the held buckets; returns how many rows went out."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._claimed_at >= LEASE_RENEW_SECONDS:
            self._held = await self._claim_buckets()
            self._claimed_at = loop_time
        buckets = self._held
        if not buckets:
            return 0
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        self.outbox.c.id,
                        self.outbox.c.topic,
                        self.outbox.c.key,
                        self.outbox.c.payload,
                    )
                    .where(self.outbox.c.bucket.in_(buckets))
                    .order_by(self.outbox.c.id)
                    .limit(self.batch_size)
                )
            ).all()
        if not rows:
            return 0
        # send() only appends to the producer's batch, so awaiting it row by row keeps commit
        # order; the deliveries are then awaited together.
        deliveries = [
            await self.producer.send(
                f"{self.topic_prefix}{row.topic}",
                value=row.payload.encode(),
                key=row.key.encode(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
            for row in rows
        ]
        await asyncio.gather(*deliveries)
        self.after_acknowledged()
        async with self.db.transaction() as session:
            await session.execute(
                delete(self.outbox).where(self.outbox.c.id.in_([row.id for row in rows]))
            )
        OUTBOX_PUBLISHED.labels(service=self.service).inc(len(rows))
        return len(rows)
