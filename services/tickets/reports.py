"""What the tickets service tells about a customer's history (the timeline) and overall (the
dashboard's figures), read from its own tables."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.timeline import ServiceTimeline
from services.runtime.timeline import TimelineBuilder, newest
from services.tickets.models import Message, Ticket, TicketMessage
from services.tickets.schemas import TicketStats

STATUSES = ("open", "pending", "resolved", "closed")


def _short(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


async def timeline(session: AsyncSession, customer_id: str, *, limit: int) -> ServiceTimeline:
    """Newest first: tickets opened, resolved and closed; the conversation's entries; messages
    sent and read. Each source is read newest first up to `limit`, then merged."""
    items = TimelineBuilder("tickets")
    for ticket in await newest(session, Ticket, Ticket.created_at, customer_id, limit):
        subject = _short(ticket.subject)
        items.add(ticket.created_at, "ticket.opened", f"Ticket opened: {subject}", ticket.id)
        items.add(ticket.resolved_at, "ticket.resolved", f"Ticket resolved: {subject}", ticket.id)
        items.add(ticket.closed_at, "ticket.closed", f"Ticket closed: {subject}", ticket.id)
    entries = await newest(session, TicketMessage, TicketMessage.created_at, customer_id, limit)
    for entry in entries:
        if entry.author_kind == "customer":
            kind, summary = "ticket.replied", f"Customer replied: {_short(entry.body)}"
        elif entry.internal:
            kind, summary = "ticket.noted", f"Internal note by {entry.author}"
        else:
            kind, summary = "ticket.answered", f"{entry.author} replied: {_short(entry.body)}"
        items.add(entry.created_at, kind, summary, entry.ticket_id)
    for message in await newest(session, Message, Message.sent_at, customer_id, limit):
        title = _short(message.title)
        items.add(message.sent_at, "message.sent", f"Message sent: {title}", message.id)
        items.add(message.read_at, "message.read", f"Message read: {title}", message.id)
    return items.newest_first(limit)


async def stats(session: AsyncSession) -> TicketStats:
    counts = dict.fromkeys(STATUSES, 0)
    rows = await session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
    for status, count in rows:
        counts[status] = count
    return TicketStats(
        by_status=counts,
        open_tickets=counts["open"] + counts["pending"],
    )
