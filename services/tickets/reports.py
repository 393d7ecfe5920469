"""What the tickets service tells about a customer's history (the timeline) and overall (the
dashboard's figures), read from its own tables."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.timeline import ServiceTimeline, TimelineItem
from services.tickets.models import Message, Ticket, TicketMessage
from services.tickets.schemas import TicketStats

STATUSES = ("open", "pending", "resolved", "closed")


def _short(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


async def timeline(session: AsyncSession, customer_id: str, *, limit: int) -> ServiceTimeline:
    """Newest first: tickets opened, resolved and closed; the conversation's entries; messages
    sent and read. Each source is read newest first up to `limit`, then merged."""
    items: list[TimelineItem] = []
    tickets = await session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.created_at.desc())
        .limit(limit)
    )
    for ticket in tickets:
        subject = _short(ticket.subject)
        items.append(
            TimelineItem(
                service="tickets",
                at=ticket.created_at,
                kind="ticket.opened",
                summary=f"Ticket opened: {subject}",
                ref=ticket.id,
            )
        )
        if ticket.resolved_at is not None:
            items.append(
                TimelineItem(
                    service="tickets",
                    at=ticket.resolved_at,
                    kind="ticket.resolved",
                    summary=f"Ticket resolved: {subject}",
                    ref=ticket.id,
                )
            )
        if ticket.closed_at is not None:
            items.append(
                TimelineItem(
                    service="tickets",
                    at=ticket.closed_at,
                    kind="ticket.closed",
                    summary=f"Ticket closed: {subject}",
                    ref=ticket.id,
                )
            )
    entries = await session.scalars(
        select(TicketMessage)
        .where(TicketMessage.customer_id == customer_id)
        .order_by(TicketMessage.created_at.desc())
        .limit(limit)
    )
    for entry in entries:
        if entry.author_kind == "customer":
            kind, summary = "ticket.replied", f"Customer replied: {_short(entry.body)}"
        elif entry.internal:
            kind, summary = "ticket.noted", f"Internal note by {entry.author}"
        else:
            kind, summary = "ticket.answered", f"{entry.author} replied: {_short(entry.body)}"
        items.append(
            TimelineItem(
                service="tickets",
                at=entry.created_at,
                kind=kind,
                summary=summary,
                ref=entry.ticket_id,
            )
        )
    messages = await session.scalars(
        select(Message)
        .where(Message.customer_id == customer_id)
        .order_by(Message.sent_at.desc())
        .limit(limit)
    )
    for message in messages:
        title = _short(message.title)
        items.append(
            TimelineItem(
                service="tickets",
                at=message.sent_at,
                kind="message.sent",
                summary=f"Message sent: {title}",
                ref=message.id,
            )
        )
        if message.read_at is not None:
            items.append(
                TimelineItem(
                    service="tickets",
                    at=message.read_at,
                    kind="message.read",
                    summary=f"Message read: {title}",
                    ref=message.id,
                )
            )
    return ServiceTimeline.newest_first(items, limit)


async def stats(session: AsyncSession) -> TicketStats:
    counts = dict.fromkeys(STATUSES, 0)
    rows = await session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
    for status, count in rows:
        counts[status] = count
    return TicketStats(
        by_status=counts,
        open_tickets=counts["open"] + counts["pending"],
    )
