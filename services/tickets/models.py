"""Tables of the tickets service."""

from datetime import datetime

from sqlalchemy import Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    metadata = MetaData()


class CustomerContact(Base):
    """What tickets knows of a customer, to address messages.

    customer.created and subscription.activated travel on different topics, so either may come
    first: the row is made by whichever does, and a welcome whose name is not known yet waits
    here (`welcome_product_id`) for customer.created.
    """

    __tablename__ = "customer_contact"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    welcome_product_id: Mapped[str | None] = mapped_column(String(64))


class Message(Base):
    __tablename__ = "message"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(8))  # in_app | email | sms
    template: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8))  # sent | read
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_message_customer_sent", "customer_id", "sent_at", "id"),
        # One system message per template and subscription period: keeps replays harmless.
        Index("ix_message_customer_template", "customer_id", "template"),
    )


outbox, outbox_lease, inbox = define_messaging_tables(Base.metadata)
metadata = Base.metadata
