"""Tickets and messages to customers as the gateway's API shows them."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gateway.schemas import examples
from gateway.schemas.common import Page

TicketStatus = Literal["open", "pending", "resolved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketSort = Literal["-updated_at", "updated_at"]

_TICKET_ID = "5d2c6f8e-1b7a-4a38-9c0e-2f6b1d9a7e41"
_AT = "2026-11-28T10:00:00Z"


class TicketCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "subject": "No picture on channel 5",
                    "description": "Customer called: black screen since yesterday",
                    "priority": "high",
                    "assignee": "alice",
                }
            ]
        },
    )

    subject: str = Field(min_length=1, max_length=200)
    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=10000,
        description="What the customer asked; kept as the first, internal entry.",
    )
    priority: TicketPriority = "normal"
    assignee: str | None = Field(
        default=None, min_length=1, max_length=64, description="An operator's username."
    )


class TicketUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "resolved"}, {"assignee": None}]},
    )

    status: TicketStatus | None = Field(
        default=None,
        description="open, pending and resolved move freely; closed only back to open.",
    )
    priority: TicketPriority | None = None
    assignee: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="An operator's username; null unassigns, absent keeps it.",
    )


class TicketMessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"body": "Please restart the box; it will update.", "internal": False},
                {"body": "Customer is a reseller, be nice", "internal": True},
            ]
        },
    )

    body: str = Field(min_length=1, max_length=4000)
    internal: StrictBool = Field(
        default=False,
        description="An internal note stays with the operators; a reply goes to the apps.",
    )


class TicketMessage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TICKET_MESSAGE]})

    id: str
    ticket_id: str = Field(examples=[_TICKET_ID])
    author_kind: Literal["operator", "customer"]
    author: str | None = Field(examples=["alice"])
    internal: bool
    body: str = Field(examples=["Please restart the box; it will update."])
    created_at: datetime = Field(examples=[_AT])


class Ticket(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TICKET]})

    id: str = Field(examples=[_TICKET_ID])
    customer_id: str = Field(examples=["0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"])
    customer_name: str | None = Field(examples=["Jane Doe"])
    subject: str = Field(examples=["No picture on channel 5"])
    status: TicketStatus
    priority: TicketPriority
    assignee: str | None = Field(examples=["alice"])
    opened_by: str | None = Field(examples=["bob"])
    created_at: datetime = Field(examples=[_AT])
    updated_at: datetime = Field(examples=[_AT])
    first_response_at: datetime | None = Field(
        description="When an operator first replied to the customer."
    )
    resolved_at: datetime | None
    closed_at: datetime | None


class TicketDetails(Ticket):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TICKET_DETAILS]})

    messages: list[TicketMessage] = Field(
        description="The conversation, oldest first; internal notes are flagged `internal`."
    )


class TicketPage(Page[Ticket]):
    pass


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"title": "Maintenance tonight", "body": "Between 2 and 4 am.", "device_id": None}
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    device_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="One device; null = all."
    )


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CUSTOMER_MESSAGE]})

    id: str
    customer_id: str
    channel: str = Field(examples=["in_app"])
    template: str | None = Field(
        description="welcome, expiring, expired for system messages; null for an operator's.",
        examples=["expiring"],
    )
    ticket_id: str | None = Field(description="Set when the message is a reply in a ticket.")
    sent_by: str | None = Field(description="The operator; null for system messages.")
    title: str
    body: str
    device_id: str | None
    status: Literal["sent", "read"]
    sent_at: datetime = Field(examples=[_AT])
    read_at: datetime | None


class MessagePage(Page[Message]):
    pass
