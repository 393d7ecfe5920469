"""Request and response shapes of the tickets service's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.runtime.paging import Page

TicketStatus = Literal["open", "pending", "resolved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
AuthorKind = Literal["operator", "customer"]
TicketSort = Literal["-updated_at", "updated_at"]

_OPERATOR = Field(min_length=1, max_length=100)


class MessagePublic(BaseModel):
    id: str
    customer_id: str
    channel: str
    template: str | None
    ticket_id: str | None
    sent_by: str | None
    title: str
    body: str
    device_id: str | None
    status: str
    sent_at: datetime
    read_at: datetime | None


class MessagePage(Page[MessagePublic]):
    """Messages sent to a customer, newest first."""


class MessageCreate(BaseModel):
    """An operator's message to a customer: to all their devices, or to one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    device_id: str | None = Field(default=None, min_length=1, max_length=100)
    sent_by: str = _OPERATOR


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = Field(min_length=1, max_length=200)
    # What the customer asked, as the operator took it down: the first entry of the
    # conversation, an internal note (the customer said it; nothing is sent back).
    description: str | None = Field(default=None, min_length=1, max_length=10000)
    priority: TicketPriority = "normal"
    assignee: str | None = Field(default=None, min_length=1, max_length=100)
    opened_by: str = _OPERATOR


class TicketUpdate(BaseModel):
    """Only the fields given change; `assignee: null` unassigns."""

    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)


class TicketMessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=4000)
    # An internal note stays with the operators; a reply is shown on the customer's apps.
    internal: StrictBool = False
    author: str = _OPERATOR


class TicketMessagePublic(BaseModel):
    id: str
    ticket_id: str
    author_kind: AuthorKind
    author: str | None
    internal: bool
    body: str
    created_at: datetime


class TicketPublic(BaseModel):
    id: str
    customer_id: str
    customer_name: str | None
    subject: str
    status: TicketStatus
    priority: TicketPriority
    assignee: str | None
    opened_by: str | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class TicketDetails(TicketPublic):
    messages: list[TicketMessagePublic]


class TicketPage(Page[TicketPublic]):
    """Tickets in the order asked for."""


class TicketStats(BaseModel):
    by_status: dict[TicketStatus, int]
    open_tickets: int = Field(description="Tickets not yet resolved: open plus pending.")
