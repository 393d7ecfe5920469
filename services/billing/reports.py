"""Read views over the ledger and the history: invoices, the customer's timeline, /stats."""

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import LedgerTransaction, Subscription, SubscriptionHistory
from services.billing.schemas import (
    BillingStats,
    Invoice,
    InvoiceLine,
    InvoicePage,
    RevenueDay,
    Timeline,
    TimelineItem,
)
from services.runtime.problems import Problem

# How each kind counts for revenue and on an invoice: refunds and credits give money back.
SIGN = {"charge": 1, "payment": 1, "adjustment": 1, "refund": -1, "credit": -1}


async def list_invoices(
    session: AsyncSession, customer_id: str, *, limit: int, cursor: str | None
) -> InvoicePage:
    """One invoice per order (webshop order or operator action), newest first, its ledger
    entries as lines. `cursor` is the number of invoices already seen."""
    offset = 0
    if cursor:
        if not cursor.isdigit():
            raise Problem(
                400,
                "Bad cursor",
                "the cursor is not one this list gave out",
                extra={"field": "cursor"},
            )
        offset = int(cursor)
    entries = (
        await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.customer_id == customer_id)
            .order_by(LedgerTransaction.recorded_at, LedgerTransaction.id)
        )
    ).all()
    grouped: dict[tuple[str | None, str], list[LedgerTransaction]] = {}
    for entry in entries:
        grouped.setdefault((entry.webshop_id, entry.order_id or entry.id), []).append(entry)
    invoices = []
    for (webshop_id, order_id), lines in grouped.items():
        first = lines[0]
        invoices.append(
            Invoice(
                id=first.id,
                customer_id=customer_id,
                order_id=order_id,
                webshop_id=webshop_id,
                source=first.source,
                currency=first.currency,
                issued_at=first.recorded_at,
                total=sum((SIGN[e.kind] * e.amount for e in lines), Decimal("0.00")),
                lines=[
                    InvoiceLine(
                        transaction_id=e.id,
                        kind=e.kind,
                        description=e.description,
                        amount=SIGN[e.kind] * e.amount,
                        period_starts_at=e.period_starts_at,
                        period_ends_at=e.period_ends_at,
                    )
                    for e in lines
                ],
            )
        )
    invoices.sort(key=lambda i: (i.issued_at, i.id), reverse=True)
    page = invoices[offset : offset + limit]
    more = offset + limit < len(invoices)
    return InvoicePage(items=page, next_cursor=str(offset + limit) if more else None)


async def timeline(session: AsyncSession, customer_id: str, *, limit: int) -> Timeline:
    """The subscription's history and the ledger's entries, newest first."""
    history = (
        await session.scalars(
            select(SubscriptionHistory)
            .where(SubscriptionHistory.customer_id == customer_id)
            .order_by(SubscriptionHistory.at.desc())
            .limit(limit)
        )
    ).all()
    entries = (
        await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.customer_id == customer_id)
            .order_by(LedgerTransaction.recorded_at.desc())
            .limit(limit)
        )
    ).all()
    items = [TimelineItem(at=h.at, kind=h.kind, summary=h.summary, ref=h.ref) for h in history]
    items += [
        TimelineItem(
            at=e.recorded_at,
            kind=f"transaction.{e.kind}",
            summary=f"{e.kind.capitalize()} of {e.amount} {e.currency}: {e.description}",
            ref=e.id,
        )
        for e in entries
    ]
    items.sort(key=lambda i: i.at, reverse=True)
    return Timeline(items=items[:limit])


async def stats(session: AsyncSession, *, now: datetime) -> BillingStats:
    """Revenue per UTC day and currency over the last 30 days (charges and payments, less
    refunds and credits; adjustments are zero), and the running subscriptions."""
    since = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        await session.execute(
            select(
                LedgerTransaction.recorded_at,
                LedgerTransaction.kind,
                LedgerTransaction.currency,
                LedgerTransaction.amount,
            ).where(LedgerTransaction.recorded_at >= since)
        )
    ).all()
    revenue: dict[tuple[str, str], Decimal] = {}
    for at, kind, currency, amount in rows:
        key = (at.date().isoformat(), currency)
        revenue[key] = revenue.get(key, Decimal("0.00")) + SIGN[kind] * amount
    active = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.status.in_(("active", "trial")))
    )
    return BillingStats(
        revenue_per_day=[
            RevenueDay(day=day, currency=currency, amount=amount)
            for (day, currency), amount in sorted(revenue.items())
        ],
        active_subscriptions=active or 0,
    )
