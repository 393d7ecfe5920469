"""Bulk add ("a range of customers"): N numbered customers sold one product and plan, run as one
job by a worker in the service. Each item is created exactly like a single add (customer,
account, default profile, customer.created with the order) in one transaction together with
the item's row; (job, number) is the item's key, so a job resumed after a crash skips what is
done and never creates a number twice."""

import asyncio
import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.customers import CustomerInfo
from services.customers import credentials, service
from services.customers.bulk.models import CustomerBatch, CustomerBatchItem
from services.customers.models import Account
from services.customers.schemas import CredentialsIn, CustomerCreate
from services.runtime.db import Database, utcnow
from services.runtime.outbox import Outbox
from services.runtime.paging import Keyset, Page
from services.runtime.problems import Problem, field_error
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
# Generated passwords nobody read within this time after the job ended are dropped: the
# plaintext should not wait in the database indefinitely (a password reset replaces one).
UNREAD_PASSWORD_TTL = timedelta(days=7)
BatchStatus = Literal["queued", "running", "completed"]


class BatchCreate(BaseModel):
    """Customers `first_number` .. `first_number + count - 1`, named `first_name` and
    `last_name_prefix` + the zero-padded number, with patterned or generated logins."""

    # Not stripped: a prefix's trailing space ("Room ") is part of the names it makes.
    model_config = ConfigDict(extra="forbid")

    webshop_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    count: StrictInt = Field(ge=1, le=MAX_BATCH)
    first_number: StrictInt = Field(default=1, ge=0, le=999_999_999)
    digits: StrictInt | None = Field(
        default=None, ge=1, le=10, description="Zero-padded width; default: the last number's."
    )
    first_name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    last_name_prefix: str = Field(default="", max_length=80)
    login_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._@+-]{1,50}$",
        description="Logins are this + the padded number; without it, numeric logins are "
        "generated. Passwords are always generated, one per customer.",
    )
    country: str | None = Field(default=None, min_length=2, max_length=2)

    @property
    def last_number(self) -> int:
        return self.first_number + self.count - 1

    @model_validator(mode="after")
    def _fits(self) -> "BatchCreate":
        width = len(str(self.last_number))
        if self.digits is not None and self.digits < width:
            raise ValueError(f"digits: {self.last_number} needs at least {width} digits")
        if self.login_prefix is not None:
            first_login = numbered(self.login_prefix, self.first_number, self.digits or width)
            problem = credentials.login_problem(first_login)
            if problem:
                raise ValueError(f"login_prefix: the logins would break the rule: {problem}")
        return self


def numbered(prefix: str, number: int, digits: int) -> str:
    return f"{prefix}{number:0{digits}d}"


class BatchPublic(BaseModel):
    id: str
    status: BatchStatus
    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    first_name: str
    last_name_prefix: str
    login_prefix: str | None
    first_number: int
    count: int
    digits: int
    created: int = Field(description="Items whose customer was created.")
    failed: int = Field(description="Items that could not be created (see their error).")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class BatchItemPublic(BaseModel):
    number: int
    status: Literal["created", "failed"]
    customer_id: str | None
    last_name: str
    login: str | None
    password: str | None = Field(
        description="The generated password, in the first answer that lists this item only; "
        "null afterwards (reset the password to get a new one)."
    )
    password_revealed_at: datetime | None
    error: str | None


class BatchItemPage(Page[BatchItemPublic]):
    """A bulk-add job's items in number order."""


def _public(batch: CustomerBatch, created: int, failed: int) -> BatchPublic:
    return BatchPublic(
        id=batch.id,
        status=batch.status,
        webshop_id=batch.webshop_id,
        product_id=batch.product_id,
        plan_id=batch.plan_id,
        extra_product_ids=list(batch.extra_product_ids or []),
        first_name=batch.first_name,
        last_name_prefix=batch.last_name_prefix,
        login_prefix=batch.login_prefix,
        first_number=batch.first_number,
        count=batch.count,
        digits=batch.digits,
        created=created,
        failed=failed,
        created_at=batch.created_at,
        started_at=batch.started_at,
        completed_at=batch.completed_at,
    )


async def _taken_logins(session: AsyncSession, logins: list[str]) -> list[str]:
    taken: list[str] = []
    for start in range(0, len(logins), 500):
        chunk = logins[start : start + 500]
        taken += list(await session.scalars(select(Account.login).where(Account.login.in_(chunk))))
    return sorted(taken)


async def create_batch(session: AsyncSession, payload: BatchCreate) -> BatchPublic:
    """Queue the job. Patterned logins are checked for collisions now, so a job is refused
    whole rather than failing item by item."""
    digits = payload.digits or len(str(payload.last_number))
    numbers = range(payload.first_number, payload.last_number + 1)
    if payload.login_prefix is not None:
        taken = await _taken_logins(
            session, [numbered(payload.login_prefix, n, digits) for n in numbers]
        )
        if taken:
            shown = ", ".join(taken[:5]) + (" ..." if len(taken) > 5 else "")
            raise Problem(
                409,
                "Logins taken",
                f"{len(taken)} of the patterned logins are in use: {shown}",
                errors=[field_error("login_prefix", "logins in use")],
            )
    batch = CustomerBatch(
        id=str(uuid.uuid4()),
        status="queued",
        webshop_id=payload.webshop_id,
        product_id=payload.product_id,
        plan_id=payload.plan_id,
        extra_product_ids=list(payload.extra_product_ids),
        first_name=payload.first_name,
        last_name_prefix=payload.last_name_prefix,
        login_prefix=payload.login_prefix,
        first_number=payload.first_number,
        count=payload.count,
        digits=digits,
        country=payload.country,
        created_at=utcnow(),
    )
    session.add(batch)
    await session.flush()
    return _public(batch, 0, 0)


async def get_batch(session: AsyncSession, batch_id: str) -> BatchPublic:
    batch = await session.get(CustomerBatch, batch_id)
    if batch is None:
        raise Problem(404, "Job not found", f"no bulk-add job with id {batch_id}")
    counts = dict(
        (
            await session.execute(
                select(CustomerBatchItem.status, func.count())
                .where(CustomerBatchItem.batch_id == batch_id)
                .group_by(CustomerBatchItem.status)
            )
        ).all()
    )
    return _public(batch, int(counts.get("created", 0)), int(counts.get("failed", 0)))


# The item's number alone: numbers are unique within a job.
BATCH_ITEMS = Keyset("customers.batch_items", tuple[int])


async def list_items(
    session: AsyncSession, batch_id: str, *, limit: int, cursor: str | None
) -> BatchItemPage:
    """Items in number order. A generated password is in the first answer listing its item
    and is erased from the database in the same transaction: it is shown once."""
    # The cursor is checked first: a bad one is the client's error whatever the job.
    after = (
        BATCH_ITEMS.where(cursor, (CustomerBatchItem.number,), descending=False) if cursor else None
    )
    batch = await session.get(CustomerBatch, batch_id)
    if batch is None:
        raise Problem(404, "Job not found", f"no bulk-add job with id {batch_id}")
    query = select(CustomerBatchItem).where(CustomerBatchItem.batch_id == batch_id)
    if after is not None:
        query = query.where(after)
    rows = list(
        await session.scalars(
            query.order_by(CustomerBatchItem.number).limit(limit + 1).with_for_update()
        )
    )
    rows, next_cursor = BATCH_ITEMS.cut(rows, limit, lambda row: (row.number,))
    now = utcnow()
    items: list[BatchItemPublic] = []
    for row in rows:
        password = row.password
        if password is not None:
            row.password = None
            row.password_revealed_at = now
        items.append(
            BatchItemPublic(
                number=row.number,
                status=row.status,
                customer_id=row.customer_id,
                last_name=numbered(batch.last_name_prefix, row.number, batch.digits),
                login=row.login,
                password=password,
                password_revealed_at=row.password_revealed_at,
                error=row.error,
            )
        )
    await session.flush()
    return BatchItemPage(items=items, next_cursor=next_cursor)


# --- the worker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    id: str
    sale: dict[str, object]
    first_name: str
    last_name_prefix: str
    login_prefix: str | None
    first_number: int
    count: int
    digits: int
    country: str | None


class BatchWorker:
    """Runs queued and unfinished jobs, one at a time, under a lease so that one replica works
    a job and another takes it over when the first dies (its lease runs out)."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        owner: str | None = None,
        lease_seconds: float = 15.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.owner = owner or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._last_drop: datetime | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"customer-batches-{self.owner}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self) -> None:
        while True:
            try:
                job = await self.claim()
                if job is not None:
                    await self.work(job)
                    continue
                if self._last_drop is None or utcnow() - self._last_drop > timedelta(hours=1):
                    # Hourly, not every idle second: it is a write the consumers would queue on.
                    await self.drop_unread_passwords()
                    self._last_drop = utcnow()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The database away for a moment: the job stays claimable; try again later.
                if is_transient(error):
                    log.warning("bulk-add worker failed (%r); retrying", error)
                else:
                    log.exception("bulk-add worker failed; retrying")
            await asyncio.sleep(self.poll_seconds)

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            CustomerBatch.status.in_(("queued", "running")),
            or_(
                CustomerBatch.lease_until.is_(None),
                CustomerBatch.lease_until < now,
                CustomerBatch.lease_owner == self.owner,
            ),
        )

    async def claim(self) -> _Job | None:
        """The oldest unfinished job nobody else holds, leased to this worker."""
        now = utcnow()
        async with self.db.transaction() as session:
            batch = await session.scalar(
                select(CustomerBatch)
                .where(self._claimable(now))
                .order_by(CustomerBatch.created_at)
                .limit(1)
            )
            if batch is None:
                return None
            claimed = await session.execute(
                update(CustomerBatch)
                .where(CustomerBatch.id == batch.id, self._claimable(now))
                .values(
                    status="running",
                    lease_owner=self.owner,
                    lease_until=now + self.lease,
                    started_at=func.coalesce(CustomerBatch.started_at, now),
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another replica was quicker
            return _Job(
                id=batch.id,
                sale={
                    "webshop_id": batch.webshop_id,
                    "product_id": batch.product_id,
                    "plan_id": batch.plan_id,
                    "extra_product_ids": list(batch.extra_product_ids or []),
                },
                first_name=batch.first_name,
                last_name_prefix=batch.last_name_prefix,
                login_prefix=batch.login_prefix,
                first_number=batch.first_number,
                count=batch.count,
                digits=batch.digits,
                country=batch.country,
            )

    async def drop_unread_passwords(self) -> int:
        """Erase the passwords of jobs that ended more than UNREAD_PASSWORD_TTL ago."""
        ended_before = utcnow() - UNREAD_PASSWORD_TTL
        old_jobs = select(CustomerBatch.id).where(
            CustomerBatch.status == "completed", CustomerBatch.completed_at < ended_before
        )
        async with self.db.transaction() as session:
            dropped = await session.execute(
                update(CustomerBatchItem)
                .where(
                    CustomerBatchItem.password.is_not(None),
                    CustomerBatchItem.batch_id.in_(old_jobs),
                )
                .values(password=None)
            )
        return int(dropped.rowcount)  # type: ignore[attr-defined]

    async def _renew(self, job_id: str) -> bool:
        async with self.db.transaction() as session:
            renewed = await session.execute(
                update(CustomerBatch)
                .where(CustomerBatch.id == job_id, CustomerBatch.lease_owner == self.owner)
                .values(lease_until=utcnow() + self.lease)
            )
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    async def work(self, job: _Job) -> None:
        async with self.db.sessions() as session:
            done = set(
                await session.scalars(
                    select(CustomerBatchItem.number).where(CustomerBatchItem.batch_id == job.id)
                )
            )
        renewed_at = utcnow()
        for number in range(job.first_number, job.first_number + job.count):
            if number in done:
                continue
            if utcnow() - renewed_at > self.lease / 3:
                if not await self._renew(job.id):
                    log.warning("lost the lease of bulk-add job %s; leaving it", job.id)
                    return
                renewed_at = utcnow()
            await self.create_item(job, number)
        async with self.db.transaction() as session:
            await session.execute(
                update(CustomerBatch)
                .where(CustomerBatch.id == job.id, CustomerBatch.lease_owner == self.owner)
                .values(status="completed", completed_at=utcnow(), lease_until=None)
            )
        log.info("bulk-add job %s completed", job.id)

    async def create_item(self, job: _Job, number: int) -> None:
        """One numbered customer and its item row, committed together."""
        last_name = numbered(job.last_name_prefix, number, job.digits)
        creds: CredentialsIn | None = None
        password: str | None = None
        if job.login_prefix is not None:
            password = credentials.generate_password()
            creds = CredentialsIn(
                login=numbered(job.login_prefix, number, job.digits), password=password
            )
        payload = CustomerCreate.model_validate(
            {
                **job.sale,
                "info": CustomerInfo(
                    first_name=job.first_name, last_name=last_name, country=job.country
                ),
                "credentials": creds,
            }
        )
        try:
            async with self.db.transaction() as session:
                if await session.get(CustomerBatchItem, (job.id, number)) is not None:
                    return
                item = CustomerBatchItem(batch_id=job.id, number=number, created_at=utcnow())
                try:
                    # Refusals (a login taken since the job was queued) come before any write.
                    created = await service.create_customer(session, self.outbox, payload)
                except Problem as problem:
                    item.status, item.error = "failed", (problem.detail or problem.title)[:300]
                else:
                    item.status = "created"
                    item.customer_id = created.id
                    item.login = created.login
                    item.password = created.password or password
                session.add(item)
            return
        except IntegrityError:
            # Rolled back whole: another worker wrote this number (it held the job past our
            # lease), or a concurrent add took the login between our check and our insert.
            log.warning("bulk-add job %s item %d conflicted; rolled back", job.id, number)
        async with self.db.transaction() as session:
            if await session.get(CustomerBatchItem, (job.id, number)) is None:
                session.add(
                    CustomerBatchItem(
                        batch_id=job.id,
                        number=number,
                        status="failed",
                        error="the login was taken while the customer was being created",
                        created_at=utcnow(),
                    )
                )


class BatchWorkers:
    """The worker of each running service instance, started and stopped with it."""

    def __init__(self) -> None:
        self._workers: dict[int, BatchWorker] = {}

    def start(self, db: Database, outbox: Outbox, *, key: int) -> None:
        worker = BatchWorker(db, outbox)
        worker.start()
        self._workers[key] = worker

    async def stop(self, *, key: int) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None:
            await worker.stop()
