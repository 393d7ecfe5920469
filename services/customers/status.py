"""The customer's status: derived from billing's subscription events (kept as a read-model on the
customer row) and the account's disabled flag.

    disabled                 the operator disabled the account (whatever the subscription)
    pending                  no subscription yet, or one waiting for its first login
    trial / active           the subscription is usable (a trial product, or a regular one)
    expired                  the subscription expired or was cancelled

The list's groups: active = trial + active; inactive = pending + expired + disabled.
"""

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import DateTime, String, Table, bindparam, case, column, func, or_, select, update
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
)
from services.customers.models import Account, Customer
from services.runtime.db import utcnow

CUSTOMER = cast(Table, Customer.__table__)
ACCOUNT = cast(Table, Account.__table__)

# Life-cycle order: the list's status sort.
STATUS_RANK: dict[str, int] = {"pending": 0, "trial": 1, "active": 2, "expired": 3, "disabled": 4}


def customer_status(subscription_status: str | None, disabled: bool) -> str:
    if disabled:
        return "disabled"
    if subscription_status in ("trial", "active", "expired", "pending"):
        return subscription_status
    return "expired" if subscription_status == "cancelled" else "pending"


def set_status(customer: Customer, status: str) -> None:
    customer.status = status
    customer.status_rank = STATUS_RANK[status]


def refresh_status(customer: Customer, *, disabled: bool) -> None:
    set_status(customer, customer_status(customer.subscription_status, disabled))


async def _disabled(session: AsyncSession, customer_id: str) -> bool:
    account = await session.get(Account, customer_id)
    return account.disabled if account is not None else False


def activated_values(event: SubscriptionActivatedV1, *, disabled: bool) -> dict[str, Any]:
    """Every action of subscription.activated carries the whole summary: the customer's
    columns that copy it.

    (cancel_scheduled keeps the subscription usable until expires_at; change_scheduled shows
    the current product until billing emits `changed` at the expiry.)
    """
    status = customer_status(event.status, disabled)
    return {
        "product_id": event.product_id,
        "plan_id": event.plan_id,
        "extra_product_ids": list(event.extra_product_ids),
        "subscription_id": event.subscription_id,
        "subscription_status": event.status,
        "expires_at": event.expires_at,
        "updated_at": utcnow(),
        "status": status,
        "status_rank": STATUS_RANK[status],
    }


async def follow_activated_batch(
    session: AsyncSession, events: Sequence[SubscriptionActivatedV1]
) -> dict[str, str | None]:
    """Copy each summary onto its customer: one read of the customers and their accounts,
    one UPDATE run for each customer's last summary. Returns the customers found and their
    logins (None without an account); an erased customer is not followed."""
    ids = {e.customer_id for e in events}
    found = {
        row.id: (row.login, bool(row.disabled))
        for row in await session.execute(
            select(CUSTOMER.c.id, ACCOUNT.c.login, ACCOUNT.c.disabled)
            .outerjoin(ACCOUNT, ACCOUNT.c.customer_id == CUSTOMER.c.id)
            .where(CUSTOMER.c.id.in_(ids))
        )
    }
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        customer = found.get(event.customer_id)
        if customer is not None:
            values = activated_values(event, disabled=customer[1])
            latest[event.customer_id] = {f"b_{k}": v for k, v in values.items()}
            latest[event.customer_id]["b_id"] = event.customer_id
    if latest:
        columns = next(iter(latest.values()))
        statement = (
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("b_id"))
            .values({name[2:]: bindparam(name) for name in columns if name != "b_id"})
        )
        await session.execute(statement, list(latest.values()))
    return {id_: login for id_, (login, _) in found.items()}


def _is_current(customer: Customer, subscription_id: str) -> bool:
    # An end of a subscription the customer has already left (a change opened another) must
    # not end the one they have now.
    return customer.subscription_id in (None, subscription_id)


async def handle_cancelled(session: AsyncSession, event: SubscriptionCancelledV1) -> None:
    customer = await session.get(Customer, event.customer_id)
    if customer is None or not _is_current(customer, event.subscription_id):
        return
    customer.subscription_id = event.subscription_id
    customer.subscription_status = "cancelled"
    # Ended now: the expiry the list shows and filters on is the moment it ended.
    customer.expires_at = event.cancelled_at
    customer.updated_at = utcnow()
    refresh_status(customer, disabled=await _disabled(session, customer.id))


async def handle_expired(session: AsyncSession, event: SubscriptionExpiredV1) -> None:
    await handle_expired_batch(session, [event])


async def handle_expired_batch(
    session: AsyncSession, events: Sequence[SubscriptionExpiredV1]
) -> None:
    """A batch of subscription.expired as one UPDATE joined to the batch's rows, passed as one
    JSON parameter (not a read of the customer and the account per event, nor a statement per
    event: a month end brings thousands at once). The rule is `handle_cancelled`'s: only the
    customer's current subscription, disabled stays disabled.

    One customer's events keep their order: a customer named twice in the batch gets a second
    statement for their second event (and so on), after the first."""
    rounds: list[list[SubscriptionExpiredV1]] = []
    seen: dict[str, int] = {}
    for e in events:
        n = seen.get(e.customer_id, 0)
        seen[e.customer_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(e)
    dialect = session.get_bind().dialect
    stored = cast(Any, CUSTOMER.c.expires_at.type).dialect_impl(dialect).bind_processor(dialect)
    for batch in rounds:
        rows = [
            {
                "customer_id": e.customer_id,
                "subscription_id": e.subscription_id,
                # As the column stores it: the rows bypass the column type's bind processing.
                "expired_at": stored(e.expired_at) if stored else e.expired_at,
            }
            for e in batch
        ]
        await session.execute(
            _EXPIRE[dialect.name], {"rows": json.dumps(rows, default=str), "b_now": utcnow()}
        )


def _expire_from(rows: Any) -> Any:
    """The UPDATE of the customers named in `rows` (customer_id, subscription_id, expired_at)."""
    disabled = (
        select(ACCOUNT.c.disabled).where(ACCOUNT.c.customer_id == CUSTOMER.c.id).scalar_subquery()
    )
    return (
        update(CUSTOMER)
        .where(
            CUSTOMER.c.id == rows.c.customer_id,
            or_(
                CUSTOMER.c.subscription_id.is_(None),
                CUSTOMER.c.subscription_id == rows.c.subscription_id,
            ),
        )
        .values(
            subscription_id=rows.c.subscription_id,
            subscription_status="expired",
            # Ended: the expiry the list shows and filters on is the end of the period.
            expires_at=rows.c.expired_at,
            updated_at=bindparam("b_now", type_=CUSTOMER.c.updated_at.type),
            status=case((disabled, "disabled"), else_="expired"),
            status_rank=case((disabled, STATUS_RANK["disabled"]), else_=STATUS_RANK["expired"]),
        )
    )


def _pg_rows() -> Any:
    return (
        func.jsonb_to_recordset(cast_(bindparam("rows", type_=String), JSONB))
        .table_valued(
            column("customer_id", String),
            column("subscription_id", String),
            column("expired_at", DateTime(timezone=True)),
        )
        .render_derived(name="expired", with_types=True)
    )


def _sqlite_rows() -> Any:
    each = func.json_each(bindparam("rows", type_=String)).table_valued("value")
    return (
        select(
            *(
                func.json_extract(each.c.value, f"$.{name}").label(name)
                for name in ("customer_id", "subscription_id", "expired_at")
            )
        )
        .select_from(each)
        .subquery("expired")
    )


# Built once: the statement's text does not depend on the batch's length.
_EXPIRE = {"postgresql": _expire_from(_pg_rows()), "sqlite": _expire_from(_sqlite_rows())}
