"""Tables of the tickets service."""

from datetime import datetime

from sqlalchemy import Boolean, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    metadata = MetaData()


class CustomerContact(Base):
    """What tickets knows of a customer, to address messages.

    customer.created and subscription.activated travel on different topics, so either may come
    first: the row is made by whichever does, and a welcome whose name is not known yet waits
    here (`welcome_product_id`) for customer.created. After customer.erased the row stays as a
    tombstone (`erased_at`, no personal data), so that late events do not bring the customer back.
    """

    __tablename__ = "customer_contact"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    welcome_product_id: Mapped[str | None] = mapped_column(String(64))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Message(Base):
    __tablename__ = "message"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(8))  # in_app | email | sms
    template: Mapped[str | None] = mapped_column(String(64))
    # What a system message is about (a subscription period): with the template, its natural
    # key, so a re-sent billing event never sends a second one.
    occasion: Mapped[str | None] = mapped_column(String(200))
    # Set when the message is an operator's reply in a ticket.
    ticket_id: Mapped[str | None] = mapped_column(String(36))
    sent_by: Mapped[str | None] = mapped_column(String(100))  # the operator; None = the system
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8))  # sent | read
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_message_customer_sent", "customer_id", "sent_at", "id"),
        # Also serves the welcome's lookup by (customer, template).
        Index("ux_message_occasion", "customer_id", "template", "occasion", unique=True),
    )


class Ticket(Base):
    __tablename__ = "ticket"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))  # open | pending | resolved | closed
    priority: Mapped[str] = mapped_column(String(8))  # low | normal | high | urgent
    assignee: Mapped[str | None] = mapped_column(String(100))  # an operator's username
    opened_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The list sorts by (updated_at, id) newest first; each filter has an index that ends in it.
    __table_args__ = (
        Index("ix_ticket_updated", "updated_at", "id"),
        Index("ix_ticket_status_updated", "status", "updated_at", "id"),
        Index("ix_ticket_assignee_updated", "assignee", "updated_at", "id"),
        Index("ix_ticket_customer_updated", "customer_id", "updated_at", "id"),
    )


class TicketMessage(Base):
    """One entry of a ticket's conversation: a reply by the operator or the customer, or an
    internal note (operators only; never sent to the apps)."""

    __tablename__ = "ticket_message"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36))
    author_kind: Mapped[str] = mapped_column(String(8))  # operator | customer
    author: Mapped[str | None] = mapped_column(String(100))  # operator username
    internal: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_ticket_message_ticket", "ticket_id", "created_at", "id"),
        Index("ix_ticket_message_customer", "customer_id", "created_at"),
    )


outbox, outbox_lease, inbox, idempotency_record = define_messaging_tables(Base.metadata)
metadata = Base.metadata
