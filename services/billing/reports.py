"""Read views over the ledger and the history: invoices, the customer's timeline, /stats."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from services.billing.models import (
    LedgerTransaction,
    Plan,
    Product,
    Subscription,
    SubscriptionHistory,
)
from services.billing.schemas import (
    BillingStats,
    Invoice,
    InvoiceLine,
    InvoicePage,
    RevenueDay,
    SubscriptionFigures,
)
from services.billing.service import OWED_SIGN
from services.contracts.timeline import ServiceTimeline
from services.runtime.db import MoneyType
from services.runtime.paging import Keyset
from services.runtime.timeline import TimelineBuilder, newest

# What a sale is worth: charges, less credits (unused time, a free sale, a refunded sale).
# Payments and refunds move money that settles it; they are not revenue twice.
SALE_SIGN = {"charge": 1, "credit": -1}
# Money received for an invoice: payments, less the refunds handed back.
PAID_SIGN = {"payment": 1, "refund": -1}
INVOICES = Keyset("billing.invoices", tuple[datetime, str])


def _invoice_key() -> ColumnElement[str]:
    """What makes entries one invoice: their order (webshop or operator action), else the
    entry itself. The webshop is part of it (order ids are per webshop)."""
    return (
        func.coalesce(LedgerTransaction.webshop_id, "")
        + "|"
        + func.coalesce(LedgerTransaction.order_id, LedgerTransaction.id)
    )


def _sum(lines: list[LedgerTransaction], sign: dict[str, int]) -> Decimal:
    return sum((sign.get(e.kind, 0) * e.amount for e in lines), Decimal("0.00"))


async def list_invoices(
    session: AsyncSession, customer_id: str, *, limit: int, cursor: str | None
) -> InvoicePage:
    """One invoice per order (webshop order or operator action), newest first, its ledger
    entries as lines.

    Keyset paging on the invoice's first entry (recorded_at, id), which never changes once
    written (a later refund joins its order's invoice as a line), so entries written between
    two pages neither repeat nor skip an invoice: new invoices sort before the cursor."""
    key = _invoice_key()
    numbered = (
        select(
            LedgerTransaction.id,
            LedgerTransaction.recorded_at,
            key.label("invoice_key"),
            func.row_number()
            .over(partition_by=key, order_by=(LedgerTransaction.recorded_at, LedgerTransaction.id))
            .label("n"),
        )
        .where(LedgerTransaction.customer_id == customer_id)
        .subquery()
    )
    heads_query = select(numbered.c.invoice_key, numbered.c.recorded_at, numbered.c.id).where(
        numbered.c.n == 1
    )
    if cursor:
        columns = (numbered.c.recorded_at, numbered.c.id)
        heads_query = heads_query.where(INVOICES.where(cursor, columns, descending=True))
    rows = (
        await session.execute(
            heads_query.order_by(numbered.c.recorded_at.desc(), numbered.c.id.desc()).limit(
                limit + 1
            )
        )
    ).all()
    heads, next_cursor = INVOICES.cut(rows, limit, lambda head: (head.recorded_at, head.id))
    entries: list[LedgerTransaction] = []
    if heads:
        entries = list(
            (
                await session.scalars(
                    select(LedgerTransaction)
                    .where(
                        LedgerTransaction.customer_id == customer_id,
                        key.in_([h.invoice_key for h in heads]),
                    )
                    .order_by(LedgerTransaction.recorded_at, LedgerTransaction.id)
                )
            ).all()
        )
    grouped: dict[tuple[str | None, str], list[LedgerTransaction]] = {}
    for entry in entries:
        grouped.setdefault((entry.webshop_id, entry.order_id or entry.id), []).append(entry)
    # The head's id (the database's order) names the invoice and the group it belongs to.
    group_of = {e.id: group for group, lines in grouped.items() for e in lines}
    invoices = []
    for head in heads:
        webshop_id, order_id = group_of[head.id]
        lines = grouped[(webshop_id, order_id)]
        first = next(e for e in lines if e.id == head.id)
        invoices.append(
            Invoice(
                id=head.id,
                customer_id=customer_id,
                order_id=order_id,
                webshop_id=webshop_id,
                source=first.source,
                currency=first.currency,
                issued_at=first.recorded_at,
                total=_sum(lines, SALE_SIGN),
                paid=_sum(lines, PAID_SIGN),
                due=_sum(lines, OWED_SIGN),
                lines=[
                    InvoiceLine(
                        transaction_id=e.id,
                        kind=e.kind,
                        description=e.description,
                        amount=OWED_SIGN[e.kind] * e.amount,
                        period_starts_at=e.period_starts_at,
                        period_ends_at=e.period_ends_at,
                    )
                    for e in lines
                ],
            )
        )
    return InvoicePage(items=invoices, next_cursor=next_cursor)


async def timeline(session: AsyncSession, customer_id: str, *, limit: int) -> ServiceTimeline:
    """The subscription's history and the ledger's entries, newest first."""
    items = TimelineBuilder("billing")
    history = SubscriptionHistory
    for h in await newest(session, history, history.at, customer_id, limit):
        items.add(h.at, h.kind, h.summary, h.ref)
    ledger = LedgerTransaction
    for e in await newest(session, ledger, ledger.recorded_at, customer_id, limit):
        summary = f"{e.kind.capitalize()} of {e.amount} {e.currency}: {e.description}"
        items.add(e.recorded_at, f"transaction.{e.kind}", summary, e.id)
    return items.newest_first(limit)


class UtcDay(FunctionElement[str]):
    """The UTC calendar day of a UTC timestamp column as text `YYYY-MM-DD`, computed by the
    database so /stats can group by it (each dialect below)."""

    type = String()
    inherit_cache = True


@compiles(UtcDay, "sqlite")
def _utc_day_sqlite(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime stores naive UTC text on SQLite, which date() reads as it is.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(UtcDay, "postgresql")
def _utc_day_postgresql(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz -> the UTC wall time, whatever the session's time zone is.
    column = compiler.process(element.clauses, **kw)
    return f"to_char(timezone('UTC', {column}), 'YYYY-MM-DD')"


async def stats(session: AsyncSession, *, now: datetime) -> BillingStats:
    """Revenue per UTC day and currency over the last 30 days (charges less credits: what was
    sold, whether paid yet or not), and the running subscriptions.

    One GROUP BY in the database over the ledger's integer ten-thousandths, so the sum is exact
    on both backends; `ix_ledger_recorded_at` covers the range and the summed columns."""
    since = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = UtcDay(LedgerTransaction.recorded_at)
    signed = case((LedgerTransaction.kind == "credit", -1), else_=1) * type_coerce(
        LedgerTransaction.amount, BigInteger
    )
    amount = type_coerce(func.sum(signed), MoneyType())
    rows = (
        await session.execute(
            select(day.label("day"), LedgerTransaction.currency, amount.label("amount"))
            .where(
                LedgerTransaction.recorded_at >= since,
                LedgerTransaction.kind.in_(tuple(SALE_SIGN)),
            )
            .group_by(day, LedgerTransaction.currency)
            .order_by(day, LedgerTransaction.currency)
        )
    ).all()
    active = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.status.in_(("active", "trial")))
    )
    return BillingStats(
        revenue_per_day=[
            RevenueDay(day=row_day, currency=currency, amount=total)
            for row_day, currency, total in rows
        ],
        active_subscriptions=active or 0,
        **(await subscription_figures(session, now=now)).model_dump(),
    )


EXPIRING_SOON_DAYS = 7
CHURN_DAYS = 30
RUNNING = ("active", "trial")


async def subscription_figures(session: AsyncSession, *, now: datetime) -> SubscriptionFigures:
    """Subscriptions per status; running ones expiring within 7 days; ones that ended (expired
    or cancelled) in the last 30 days, for churn; and trial conversion: customers ever sold a
    trial plan (the ledger keeps each sale's plan), and how many of them now run a regular
    product."""
    by_status = {
        status: int(count)
        for status, count in (
            await session.execute(
                select(Subscription.status, func.count()).group_by(Subscription.status)
            )
        ).all()
    }
    expiring = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.status.in_(RUNNING),
            Subscription.expires_at >= now,
            Subscription.expires_at < now + timedelta(days=EXPIRING_SOON_DAYS),
        )
    )
    ended = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.status.in_(("expired", "cancelled")),
            Subscription.expires_at >= now - timedelta(days=CHURN_DAYS),
        )
    )
    trial_plans = (
        select(Plan.id)
        .join(Product, Plan.product_id == Product.id)
        .where(Product.subscription_type == "trial")
    )
    trial_customers = (
        select(LedgerTransaction.customer_id)
        .where(LedgerTransaction.plan_id.in_(trial_plans))
        .distinct()
    )
    tried = await session.scalar(select(func.count()).select_from(trial_customers.subquery()))
    converted = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .join(Product, Subscription.product_id == Product.id)
        .where(
            Subscription.customer_id.in_(trial_customers),
            Subscription.status.in_(RUNNING),
            Product.subscription_type == "regular",
        )
    )
    return SubscriptionFigures(
        subscriptions_by_status=by_status,
        expiring_soon=expiring or 0,
        expiring_soon_days=EXPIRING_SOON_DAYS,
        ended_recently=ended or 0,
        ended_recently_days=CHURN_DAYS,
        trial_customers=tried or 0,
        trial_converted=converted or 0,
    )
