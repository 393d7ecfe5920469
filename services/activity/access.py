"""Whether a customer may connect devices, and how many: the read-model row of billing's and
customers' events, and the lock that serializes every decision about one customer's devices."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import DeviceLimit
from services.contracts.activity import DeviceRejectionReason
from services.runtime.db import utcnow

# Statuses in which a device may connect; "pending" included, since a product that starts on
# first login only starts when billing sees the first device connection.
USABLE_STATUSES = frozenset({"pending", "trial", "active"})


async def locked(session: AsyncSession, customer_id: str) -> DeviceLimit | None:
    """The customer's row, locked until the transaction ends (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite has one writer at a time anyway). Every change to the customer's devices
    takes it first, so concurrent consumers decide one after the other."""
    row: DeviceLimit | None = await session.scalar(
        select(DeviceLimit)
        .where(DeviceLimit.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def locked_or_new(session: AsyncSession, customer_id: str) -> DeviceLimit:
    """The locked row, created first if the customer has none yet (an account disabled or a
    customer erased before any subscription event)."""
    row = await locked(session, customer_id)
    if row is not None:
        return row
    # Two topics can bring a new customer's first news at the same moment: whoever inserts
    # second finds the row instead of failing its whole batch on a duplicate key.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(DeviceLimit)
        .values(customer_id=customer_id, disabled=False, erased=False, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    created = await locked(session, customer_id)
    assert created is not None
    return created


async def locked_or_new_of(session: AsyncSession, customer_ids: Collection[str]) -> set[str]:
    """`locked_or_new` for many customers at once: their rows made where missing (one insert)
    and locked in one statement, in customer order (as a batch of app reports takes them, so
    two transactions never wait on each other's locks in a cycle). Returns the erased ones."""
    limits = await locked_limits_of(session, customer_ids)
    return {customer_id for customer_id, (_, erased) in limits.items() if erased}


async def locked_limits_of(
    session: AsyncSession, customer_ids: Collection[str]
) -> dict[str, tuple[int | None, bool]]:
    """As `locked_or_new_of`, returning each customer's current limit and whether erased."""
    if not customer_ids:
        return {}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(DeviceLimit).on_conflict_do_nothing(index_elements=["customer_id"]),
        [
            {"customer_id": c, "disabled": False, "erased": False, "updated_at": now}
            for c in sorted(customer_ids)
        ],
    )
    rows = await session.execute(
        select(DeviceLimit.customer_id, DeviceLimit.max_devices, DeviceLimit.erased)
        .where(DeviceLimit.customer_id.in_(customer_ids))
        .order_by(DeviceLimit.customer_id)
        .with_for_update()
    )
    return {customer_id: (max_devices, erased) for customer_id, max_devices, erased in rows.all()}


def refusal(limit: DeviceLimit | None) -> DeviceRejectionReason | None:
    """Why no device of the customer may connect now, or None if devices may (within the limit)."""
    if limit is None:
        return "no_active_subscription"
    if limit.erased:
        return "customer_erased"
    if limit.disabled:
        return "account_disabled"
    if limit.max_devices is None or limit.subscription_status not in USABLE_STATUSES:
        return "no_active_subscription"
    return None


async def erased_among(session: AsyncSession, customer_ids: Collection[str]) -> set[str]:
    """Which of these customers were erased, in one query (what a batch of reports drops)."""
    if not customer_ids:
        return set()
    rows = await session.scalars(
        select(DeviceLimit.customer_id).where(
            DeviceLimit.customer_id.in_(customer_ids), DeviceLimit.erased.is_(True)
        )
    )
    return set(rows.all())
