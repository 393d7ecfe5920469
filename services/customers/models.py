"""Tables of the customers service."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    metadata = MetaData()


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    webshop_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    # Lower-cased "last first" for case-insensitive prefix search and name sort.
    search_name: Mapped[str] = mapped_column(String(201))
    # Lower-cased in Python: SQLite (and a C-locale PostgreSQL) fold only ASCII letters.
    search_first_name: Mapped[str] = mapped_column(String(100))
    search_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Read-model of billing's subscription, fed by billing.events.
    product_id: Mapped[str | None] = mapped_column(String(64))
    plan_id: Mapped[str | None] = mapped_column(String(64))
    extra_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    subscription_status: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_customer_created", "created_at", "id"),
        Index("ix_customer_status_created", "status", "created_at", "id"),
        Index("ix_customer_name", "search_name", "id"),
        Index("ix_customer_first_name", "search_first_name"),
        Index("ix_customer_email", "search_email"),
        Index("ix_customer_webshop_external", "webshop_id", "external_id"),
        Index("ix_customer_expires", "expires_at", "id"),
    )


class Account(Base):
    __tablename__ = "account"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    login_generated: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebshopOrder(Base):
    """A webshop order seen by customers: makes order.paid idempotent and holds its reply."""

    __tablename__ = "webshop_order"

    webshop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    reply: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    # The generated password lives here only until the reply carrying it is in the outbox.
    generated_password: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webshop_order_customer", "customer_id"),)


class IdempotentRequest(Base):
    """Idempotency-Key of a write, so a retried request answers with the first result."""

    __tablename__ = "idempotent_request"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox, outbox_lease, inbox = define_messaging_tables(Base.metadata)
metadata = Base.metadata

# Profiles, bulk-add jobs and erasure tombstones live in their own module; importing it here
# puts their tables in `metadata` for Alembic and the service alike.
from services.customers import extra_tables  # noqa: E402, F401
