"""The tickets service as the gateway calls it: tickets and their conversation, the messages
sent to customers. The acting operator is named in the body (`opened_by`, `author`,
`sent_by`): the tickets service trusts the gateway to say who acts."""

from typing import Any, TypeVar

from pydantic import BaseModel

from gateway.clients.base import (
    CustomerTimelineClient,
    page_params,
    segment,
)
from gateway.downstream import QueryParams
from gateway.schemas.stats import TicketStats
from gateway.schemas.tickets import (
    Message,
    MessageCreate,
    MessagePage,
    Ticket,
    TicketCreate,
    TicketDetails,
    TicketMessage,
    TicketMessageCreate,
    TicketPage,
    TicketUpdate,
)
from services.tickets import schemas as service

M = TypeVar("M", bound=BaseModel)

# The tickets service marks the answer to a retried Idempotency-Key with this header.


def _customer(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}"


def _ticket(customer_id: str, ticket_id: str) -> str:
    return f"{_customer(customer_id)}/tickets/{segment(ticket_id)}"


class TicketsClient(CustomerTimelineClient):
    service = "tickets"

    async def list_tickets(self, params: QueryParams) -> TicketPage:
        return await self._call("GET", "/tickets", TicketPage, params=params)

    async def list_customer_tickets(self, customer_id: str, params: QueryParams) -> TicketPage:
        path = f"{_customer(customer_id)}/tickets"
        return await self._call("GET", path, TicketPage, params=params)

    async def get_ticket(self, customer_id: str, ticket_id: str) -> TicketDetails:
        return await self._call("GET", _ticket(customer_id, ticket_id), TicketDetails)

    async def open_ticket(
        self,
        customer_id: str,
        payload: TicketCreate,
        *,
        opened_by: str,
    ) -> TicketDetails:
        """The ticket and whether this is a retry's replayed answer."""
        body = {**payload.model_dump(mode="json"), "opened_by": opened_by}
        path = f"{_customer(customer_id)}/tickets"
        return await self._write("POST", path, TicketDetails, body)

    async def update_ticket(
        self,
        customer_id: str,
        ticket_id: str,
        payload: TicketUpdate,
    ) -> TicketDetails:
        changes = payload.model_dump(mode="json", exclude_unset=True)
        path = _ticket(customer_id, ticket_id)
        return await self._write("PATCH", path, TicketDetails, changes)

    async def add_ticket_message(
        self,
        customer_id: str,
        ticket_id: str,
        payload: TicketMessageCreate,
        *,
        author: str,
    ) -> TicketMessage:
        body = {**payload.model_dump(mode="json"), "author": author}
        path = f"{_ticket(customer_id, ticket_id)}/messages"
        return await self._write("POST", path, TicketMessage, body)

    async def list_messages(
        self, customer_id: str, *, limit: int, cursor: str | None
    ) -> MessagePage:
        path = f"{_customer(customer_id)}/messages"
        return await self._call("GET", path, MessagePage, params=page_params(limit, cursor))

    async def send_message(
        self,
        customer_id: str,
        payload: MessageCreate,
        *,
        sent_by: str,
    ) -> Message:
        body = {**payload.model_dump(mode="json"), "sent_by": sent_by}
        path = f"{_customer(customer_id)}/messages"
        return await self._write("POST", path, Message, body)

    async def stats(self) -> TicketStats:
        return await self._call("GET", "/stats", TicketStats)

    async def _write(
        self,
        method: str,
        path: str,
        answer: type[M],
        body: dict[str, Any],
    ) -> M:
        response = await self._send(method, path, body=body)
        return self._parse_success(answer, response)


# Each shape the gateway repeats from the tickets service, beside its own model:
# gateway/tests/test_client_shapes.py fails when the two differ (a field renamed on one side).
MIRRORS: dict[type[BaseModel], type[BaseModel]] = {
    TicketUpdate: service.TicketUpdate,
    TicketMessage: service.TicketMessagePublic,
    Ticket: service.TicketPublic,
    TicketDetails: service.TicketDetails,
    TicketPage: service.TicketPage,
    Message: service.MessagePublic,
    MessagePage: service.MessagePage,
    TicketStats: service.TicketStats,
}

# The writes whose body the gateway completes with the acting operator, and that field's name.
WRITES: dict[type[BaseModel], tuple[type[BaseModel], str]] = {
    TicketCreate: (service.TicketCreate, "opened_by"),
    TicketMessageCreate: (service.TicketMessageCreate, "author"),
    MessageCreate: (service.MessageCreate, "sent_by"),
}
