"""Tickets (a customer's, and all of them) and the messages operators send to customers.

Viewers read; support and above write. The acting operator is the signed-in one: the gateway
names them to the tickets service. Writes are audited and accept an `Idempotency-Key`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from gateway.audit import AuditDep
from gateway.composition import tickets
from gateway.deps import DatabaseDep, DownstreamDep
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanReadCustomers, Principal, require
from gateway.identity.permissions import Permission
from gateway.routes.customers import CustomerId
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.tickets import (
    Message,
    MessageCreate,
    MessagePage,
    TicketCreate,
    TicketDetails,
    TicketMessage,
    TicketMessageCreate,
    TicketPage,
    TicketPriority,
    TicketSort,
    TicketStatus,
    TicketUpdate,
)
from services.runtime.paging import Cursor, Limit

router = APIRouter(prefix=API_PREFIX, tags=["tickets"])

CanWriteTickets = Annotated[Principal, Depends(require(Permission.TICKETS_WRITE))]
TicketId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@router.get(
    "/tickets", response_model=TicketPage, responses=problem_responses(*AUTH_ERRORS, 422, 503)
)
async def list_all_tickets(
    _: CanReadCustomers,
    downstream: DownstreamDep,
    status: Annotated[list[TicketStatus] | None, Query(description="Repeat for several.")] = None,
    priority: Annotated[
        list[TicketPriority] | None, Query(description="Repeat for several.")
    ] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    unassigned: Annotated[bool, Query(description="Only tickets nobody is assigned to.")] = False,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    sort: Annotated[
        TicketSort,
        Query(description="-updated_at: latest first; updated_at: longest untouched first."),
    ] = "-updated_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TicketPage:
    """Every customer's tickets, most recently updated first (pass `next_cursor` back)."""
    params: list[tuple[str, str | int]] = [("status", s) for s in status or []]
    params += [("priority", p) for p in priority or []]
    if assignee:
        params.append(("assignee", assignee))
    if unassigned:
        params.append(("unassigned", "true"))
    if customer_id:
        params.append(("customer_id", customer_id))
    params.append(("sort", sort))
    params += tickets.page_params(limit, cursor)
    return await tickets.list_tickets(downstream, params)


@router.get(
    "/customers/{customer_id}/tickets",
    response_model=TicketPage,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_customer_tickets(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    status: Annotated[list[TicketStatus] | None, Query(description="Repeat for several.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TicketPage:
    """The customer's tickets, most recently updated first; empty after erasure."""
    params: list[tuple[str, str | int]] = [("status", s) for s in status or []]
    params += tickets.page_params(limit, cursor)
    path = f"{tickets.customer_path(customer_id)}/tickets"
    return await tickets.read(downstream, path, TicketPage, params)


@router.post(
    "/customers/{customer_id}/tickets",
    status_code=201,
    response_model=TicketDetails,
    responses=problem_responses(*AUTH_ERRORS, 404, 422, 503),
)
async def open_ticket(
    customer_id: CustomerId,
    payload: TicketCreate,
    principal: CanWriteTickets,
    downstream: WriteDownstreamDep,
    db: DatabaseDep,
    audit: AuditDep,
) -> TicketDetails:
    """Open a ticket for the customer, signed by the caller; it starts `open`."""
    async with audit.record("ticket.open", customer_id=customer_id) as entry:
        if payload.assignee:
            await tickets.require_operator(db, payload.assignee, field="assignee")
        await tickets.require_customer(downstream, customer_id)
        body = {**payload.model_dump(mode="json"), "opened_by": principal.name}
        path = f"{tickets.customer_path(customer_id)}/tickets"
        ticket = await tickets.write(downstream, "POST", path, TicketDetails, body)
        entry.after = ticket.model_dump(mode="json", exclude={"messages"})
        entry.status_code = 201
    return ticket


@router.get(
    "/customers/{customer_id}/tickets/{ticket_id}",
    response_model=TicketDetails,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_ticket(
    customer_id: CustomerId, ticket_id: TicketId, _: CanReadCustomers, downstream: DownstreamDep
) -> TicketDetails:
    """The ticket with its conversation, oldest first; internal notes are flagged."""
    return await tickets.read(
        downstream, tickets.ticket_path(customer_id, ticket_id), TicketDetails, []
    )


@router.patch(
    "/customers/{customer_id}/tickets/{ticket_id}",
    response_model=TicketDetails,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422, 503),
)
async def update_ticket(
    customer_id: CustomerId,
    ticket_id: TicketId,
    payload: TicketUpdate,
    _: CanWriteTickets,
    downstream: WriteDownstreamDep,
    db: DatabaseDep,
    audit: AuditDep,
) -> TicketDetails:
    """Change the status, priority or assignee. A status change the rules do not allow is 409
    (closed tickets only reopen: `{"status": "open"}`)."""
    changes = payload.model_dump(mode="json", exclude_unset=True)
    path = tickets.ticket_path(customer_id, ticket_id)
    async with audit.record("ticket.update", customer_id=customer_id) as entry:
        if payload.assignee is not None:
            await tickets.require_operator(db, payload.assignee, field="assignee")
        before = await tickets.read(downstream, path, TicketDetails, [])
        entry.before = before.model_dump(mode="json", exclude={"messages"})
        ticket = await tickets.write(
            downstream,
            "PATCH",
            path,
            TicketDetails,
            changes,
        )
        entry.after = ticket.model_dump(mode="json", exclude={"messages"})
    return ticket


@router.post(
    "/customers/{customer_id}/tickets/{ticket_id}/messages",
    status_code=201,
    response_model=TicketMessage,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422, 503),
)
async def add_ticket_message(
    customer_id: CustomerId,
    ticket_id: TicketId,
    payload: TicketMessageCreate,
    principal: CanWriteTickets,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> TicketMessage:
    """Reply to the customer (shown on their apps, in their message history) or add an
    internal note (`internal: true`, never sent). A closed ticket takes notes only (409)."""
    action = "ticket.note" if payload.internal else "ticket.reply"
    async with audit.record(action, customer_id=customer_id) as entry:
        body = {**payload.model_dump(mode="json"), "author": principal.name}
        path = f"{tickets.ticket_path(customer_id, ticket_id)}/messages"
        message = await tickets.write(downstream, "POST", path, TicketMessage, body)
        entry.after = message.model_dump(mode="json")
        entry.status_code = 201
    return message


@router.get(
    "/customers/{customer_id}/messages",
    response_model=MessagePage,
    tags=["messages"],
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_messages(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MessagePage:
    """Messages sent to the customer (system and operators'), newest first, with their state
    (sent, read) and when they were read."""
    return await tickets.list_messages(downstream, customer_id, limit=limit, cursor=cursor)


@router.post(
    "/customers/{customer_id}/messages",
    status_code=201,
    response_model=Message,
    tags=["messages"],
    responses=problem_responses(*AUTH_ERRORS, 404, 422, 503),
)
async def send_message(
    customer_id: CustomerId,
    payload: MessageCreate,
    principal: CanWriteTickets,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Message:
    """Send the customer a message to all their devices or to one (`device_id`); it is shown
    on the apps and turns `read` when an app reports it read."""
    async with audit.record("message.send", customer_id=customer_id) as entry:
        await tickets.require_customer(downstream, customer_id)
        body = {**payload.model_dump(mode="json"), "sent_by": principal.name}
        path = f"{tickets.customer_path(customer_id)}/messages"
        message = await tickets.write(downstream, "POST", path, Message, body)
        entry.after = message.model_dump(mode="json")
        entry.status_code = 201
    return message
