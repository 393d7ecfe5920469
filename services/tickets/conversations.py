"""The rules of tickets: opening one, its status, priority and assignee, its conversation
(operators' replies and internal notes, customers' replies from the apps), and the lists.

Statuses: open -> pending (waiting on the customer) -> resolved -> closed. Operators may move a
ticket between open, pending and resolved freely and close it from any of them; closed is final
except that an operator may reopen it (closed -> open). A customer's reply reopens a pending or
resolved ticket; on a closed ticket it is kept in the conversation but the ticket stays closed
(the operator decides whether to reopen), so nothing the customer wrote is lost.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.apps import TicketRepliedV1
from services.runtime.consumer import PoisonMessage
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.paging import Keyset
from services.runtime.problems import Problem, field_error
from services.tickets import service
from services.tickets.models import CustomerContact, Ticket, TicketMessage
from services.tickets.schemas import (
    TicketCreate,
    TicketDetails,
    TicketMessageCreate,
    TicketMessagePublic,
    TicketPage,
    TicketPriority,
    TicketPublic,
    TicketSort,
    TicketStatus,
    TicketUpdate,
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"pending", "resolved", "closed"}),
    "pending": frozenset({"open", "resolved", "closed"}),
    "resolved": frozenset({"open", "pending", "closed"}),
    "closed": frozenset({"open"}),
}
# What a customer's reply does to the status.
REOPENED_BY_CUSTOMER = {"open": "open", "pending": "open", "resolved": "open", "closed": "closed"}


def _name(contact: CustomerContact | None) -> str | None:
    if contact is None:
        return None
    parts = [p for p in (contact.first_name, contact.last_name) if p]
    return " ".join(parts) or None


def _public(ticket: Ticket, contact: CustomerContact | None) -> TicketPublic:
    return TicketPublic(
        id=ticket.id,
        customer_id=ticket.customer_id,
        customer_name=_name(contact),
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        assignee=ticket.assignee,
        opened_by=ticket.opened_by,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
    )


def _message_public(message: TicketMessage) -> TicketMessagePublic:
    return TicketMessagePublic.model_validate(message, from_attributes=True)


async def _details(session: AsyncSession, ticket: Ticket) -> TicketDetails:
    contact = await session.get(CustomerContact, ticket.customer_id)
    messages = await session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id)
        .order_by(TicketMessage.created_at, TicketMessage.id)
    )
    return TicketDetails(
        **_public(ticket, contact).model_dump(),
        messages=[_message_public(m) for m in messages],
    )


async def _ticket_of(session: AsyncSession, customer_id: str, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.customer_id != customer_id:
        raise Problem(404, "Not Found", f"customer {customer_id} has no ticket {ticket_id}")
    return ticket


async def open_ticket(
    session: AsyncSession, customer_id: str, payload: TicketCreate
) -> TicketDetails:
    await service.refuse_if_erased(session, customer_id)
    now = utcnow()
    ticket = Ticket(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        subject=payload.subject,
        status="open",
        priority=payload.priority,
        assignee=payload.assignee,
        opened_by=payload.opened_by,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    if payload.description:
        session.add(
            TicketMessage(
                id=str(uuid.uuid4()),
                ticket_id=ticket.id,
                customer_id=customer_id,
                author_kind="operator",
                author=payload.opened_by,
                internal=True,
                body=payload.description,
                created_at=now,
            )
        )
    await session.flush()
    return await _details(session, ticket)


async def get_ticket(session: AsyncSession, customer_id: str, ticket_id: str) -> TicketDetails:
    return await _details(session, await _ticket_of(session, customer_id, ticket_id))


async def update_ticket(
    session: AsyncSession, customer_id: str, ticket_id: str, payload: TicketUpdate
) -> TicketDetails:
    ticket = await _ticket_of(session, customer_id, ticket_id)
    now = utcnow()
    changed = False
    if payload.status is not None and payload.status != ticket.status:
        if payload.status not in TRANSITIONS[ticket.status]:
            raise Problem(
                409,
                "Status change not allowed",
                f"a {ticket.status} ticket cannot become {payload.status}",
                extra={
                    "errors": [
                        {
                            "field": "status",
                            "message": f"allowed from {ticket.status}: "
                            + ", ".join(sorted(TRANSITIONS[ticket.status])),
                        }
                    ]
                },
            )
        ticket.status = payload.status
        if payload.status == "resolved":
            ticket.resolved_at = now
        elif payload.status == "closed":
            ticket.closed_at = now
        changed = True
    if payload.priority is not None and payload.priority != ticket.priority:
        ticket.priority = payload.priority
        changed = True
    if "assignee" in payload.model_fields_set and payload.assignee != ticket.assignee:
        ticket.assignee = payload.assignee
        changed = True
    if changed:
        ticket.updated_at = now
    return await _details(session, ticket)


async def add_operator_message(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    ticket_id: str,
    payload: TicketMessageCreate,
) -> TicketMessagePublic:
    """An internal note, or a reply that goes to the customer's apps as message.show (with the
    ticket id, so the app can answer in the ticket) and into their message history."""
    ticket = await _ticket_of(session, customer_id, ticket_id)
    if not payload.internal and ticket.status == "closed":
        raise Problem(
            409,
            "Ticket closed",
            "reopen the ticket (status open) before replying to the customer",
            errors=[field_error("internal", "the ticket is closed")],
        )
    now = utcnow()
    message = TicketMessage(
        id=str(uuid.uuid4()),
        ticket_id=ticket.id,
        customer_id=customer_id,
        author_kind="operator",
        author=payload.author,
        internal=payload.internal,
        body=payload.body,
        created_at=now,
    )
    session.add(message)
    ticket.updated_at = now
    if not payload.internal:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        await service.send_message(
            session,
            outbox,
            customer_id=customer_id,
            title=f"Re: {ticket.subject}"[:200],
            body=payload.body,
            ticket_id=ticket.id,
            sent_by=payload.author,
            sent_at=now,
        )
    await session.flush()
    return _message_public(message)


async def customer_replied(session: AsyncSession, event: TicketRepliedV1) -> None:
    """The customer's reply from an app joins the conversation and reopens the ticket."""
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is None:
        if await service.is_erased(session, event.customer_id):
            return  # the ticket went with the customer's erasure
        raise PoisonMessage(f"unknown ticket id {event.ticket_id!r}")
    if ticket.customer_id != event.customer_id:
        raise PoisonMessage(
            f"ticket {event.ticket_id!r} does not belong to customer {event.customer_id!r}"
        )
    session.add(
        TicketMessage(
            id=str(uuid.uuid4()),
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            author_kind="customer",
            author=None,
            internal=False,
            body=event.body,
            created_at=event.replied_at,
        )
    )
    ticket.status = REOPENED_BY_CUSTOMER[ticket.status]
    ticket.updated_at = max(utcnow(), ticket.updated_at)


# ---- lists ---------------------------------------------------------------------------------


# One keyset a direction: a cursor of the newest-first order does not page the oldest-first.
TICKETS = {
    sort: Keyset(f"tickets.tickets.{sort}", tuple[datetime, str])
    for sort in ("updated_at", "-updated_at")
}


async def list_tickets(
    session: AsyncSession,
    *,
    statuses: Sequence[TicketStatus] = (),
    priorities: Sequence[TicketPriority] = (),
    assignee: str | None = None,
    unassigned: bool = False,
    customer_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    sort: TicketSort = "-updated_at",
) -> TicketPage:
    """Most recently updated first (`updated_at`: longest untouched first, a support queue's
    order), keyset-paged on (updated_at, id)."""
    query = select(Ticket, CustomerContact).outerjoin(
        CustomerContact, CustomerContact.customer_id == Ticket.customer_id
    )
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if priorities:
        query = query.where(Ticket.priority.in_(priorities))
    if unassigned:
        query = query.where(Ticket.assignee.is_(None))
    elif assignee is not None:
        query = query.where(Ticket.assignee == assignee)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    keyset = TICKETS[sort]
    if cursor:
        columns = (Ticket.updated_at, Ticket.id)
        query = query.where(keyset.where(cursor, columns, descending=sort != "updated_at"))
    if sort == "updated_at":
        query = query.order_by(Ticket.updated_at, Ticket.id)
    else:
        query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    ordered = query.limit(limit + 1)
    rows = (await session.execute(ordered)).all()
    page, next_cursor = keyset.cut(rows, limit, lambda row: (row[0].updated_at, row[0].id))
    items = [_public(ticket, contact) for ticket, contact in page]
    return TicketPage(items=items, next_cursor=next_cursor)
