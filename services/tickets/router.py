"""Internal HTTP API of the tickets service (called by the gateway only).

Writes run once per `Idempotency-Key` (services/runtime/idempotency.py); the operator
who acts is named in the body by the gateway, which knows who signed in.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.timeline import ServiceTimeline
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.paging import Cursor, Limit
from services.runtime.service_app import RuntimeDep
from services.tickets import conversations, reports, service
from services.tickets.schemas import (
    MessageCreate,
    MessagePage,
    MessagePublic,
    TicketCreate,
    TicketDetails,
    TicketMessageCreate,
    TicketMessagePublic,
    TicketPage,
    TicketPriority,
    TicketSort,
    TicketStats,
    TicketStatus,
    TicketUpdate,
)

router = APIRouter()


# ---- messages to customers -----------------------------------------------------------------


@router.get("/customers/{customer_id}/messages", response_model=MessagePage, tags=["messages"])
async def list_messages(
    customer_id: str, rt: RuntimeDep, limit: Limit = 50, cursor: Cursor = None
) -> MessagePage:
    """The messages sent to a customer (system and operators'), newest first."""
    async with rt.db.sessions() as session:
        return await service.list_messages(session, customer_id, limit=limit, cursor=cursor)


@router.post(
    "/customers/{customer_id}/messages",
    status_code=201,
    response_model=MessagePublic,
    tags=["messages"],
)
async def send_message(
    customer_id: str,
    payload: MessageCreate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    """An operator's message, shown on the customer's apps (message.show.v1)."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(
            await service.send_operator_message(session, rt.outbox, customer_id, payload), 201
        )

    return await once(work)


# ---- tickets -------------------------------------------------------------------------------


@router.get("/tickets", response_model=TicketPage, tags=["tickets"])
async def list_all_tickets(
    rt: RuntimeDep,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    unassigned: bool = False,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    sort: TicketSort = "-updated_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TicketPage:
    """Every customer's tickets, most recently updated first (or `sort=updated_at`)."""
    async with rt.db.sessions() as session:
        return await conversations.list_tickets(
            session,
            statuses=status or (),
            priorities=priority or (),
            assignee=assignee,
            unassigned=unassigned,
            customer_id=customer_id,
            limit=limit,
            cursor=cursor,
            sort=sort,
        )


@router.get("/customers/{customer_id}/tickets", response_model=TicketPage, tags=["tickets"])
async def list_customer_tickets(
    customer_id: str,
    rt: RuntimeDep,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TicketPage:
    async with rt.db.sessions() as session:
        return await conversations.list_tickets(
            session, statuses=status or (), customer_id=customer_id, limit=limit, cursor=cursor
        )


@router.post(
    "/customers/{customer_id}/tickets",
    status_code=201,
    response_model=TicketDetails,
    tags=["tickets"],
)
async def open_ticket(
    customer_id: str,
    payload: TicketCreate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await conversations.open_ticket(session, customer_id, payload), 201)

    return await once(work)


@router.get(
    "/customers/{customer_id}/tickets/{ticket_id}", response_model=TicketDetails, tags=["tickets"]
)
async def get_ticket(customer_id: str, ticket_id: str, rt: RuntimeDep) -> TicketDetails:
    """The ticket with its whole conversation; internal notes are flagged `internal`."""
    async with rt.db.sessions() as session:
        return await conversations.get_ticket(session, customer_id, ticket_id)


@router.patch(
    "/customers/{customer_id}/tickets/{ticket_id}", response_model=TicketDetails, tags=["tickets"]
)
async def update_ticket(
    customer_id: str,
    ticket_id: str,
    payload: TicketUpdate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(
            await conversations.update_ticket(session, customer_id, ticket_id, payload), 200
        )

    return await once(work)


@router.post(
    "/customers/{customer_id}/tickets/{ticket_id}/messages",
    status_code=201,
    response_model=TicketMessagePublic,
    tags=["tickets"],
)
async def add_ticket_message(
    customer_id: str,
    ticket_id: str,
    payload: TicketMessageCreate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    """A reply to the customer (sent to their apps) or an internal note."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(
            await conversations.add_operator_message(
                session, rt.outbox, customer_id, ticket_id, payload
            ),
            201,
        )

    return await once(work)


# ---- timeline and figures ------------------------------------------------------------------


@router.get("/customers/{customer_id}/timeline", response_model=ServiceTimeline, tags=["reports"])
async def customer_timeline(
    customer_id: str, rt: RuntimeDep, limit: Limit = 200
) -> ServiceTimeline:
    async with rt.db.sessions() as session:
        return await reports.timeline(session, customer_id, limit=limit)


@router.get("/stats", response_model=TicketStats, tags=["reports"])
async def ticket_stats(rt: RuntimeDep) -> TicketStats:
    async with rt.db.sessions() as session:
        return await reports.stats(session)
