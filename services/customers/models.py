"""Tables of the customers service."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, MetaData, SmallInteger, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


def _search_text(length: int) -> String:
    """Lower-cased copies for search and sort. On PostgreSQL they use the "C" collation, so one
    plain btree index serves both `LIKE 'prefix%'` and ORDER BY whatever the database's locale."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


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
    title: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    mobile: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(200))
    zip: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    comments: Mapped[str | None] = mapped_column(String(2000))
    mapping_id: Mapped[str | None] = mapped_column(String(100))
    # "last first" folded (no case, no accents: name_keys.fold) for the name sort and the prefix
    # search. Folded in Python: SQLite's lower() knows only ASCII letters, and one function
    # must fold both the stored key and the query.
    search_name: Mapped[str] = mapped_column(_search_text(201))
    # "first last", folded the same way.
    search_full_name: Mapped[str] = mapped_column(_search_text(201))
    search_email: Mapped[str | None] = mapped_column(_search_text(254))
    # The account's login, lower-cased, so the list searches one table (an OR the planner can
    # answer with a BitmapOr of index scans).
    search_login: Mapped[str] = mapped_column(_search_text(64))
    # The status's place in the life cycle (pending, trial, active, expired, disabled): the
    # list's status sort, indexed with id.
    status_rank: Mapped[int] = mapped_column(SmallInteger)
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
        # Per status, for a status filter or group with a sort (listing.page_rows merges them).
        Index("ix_customer_status_name", "status", "search_name", "id"),
        Index("ix_customer_status_expires", "status", "expires_at", "id"),
        Index("ix_customer_full_name", "search_full_name"),
        Index("ix_customer_email", "search_email"),
        Index("ix_customer_phone", "phone"),
        Index("ix_customer_login", "search_login"),
        Index("ix_customer_webshop_external", "webshop_id", "external_id"),
        Index("ix_customer_product", "product_id"),
        Index("ix_customer_expires", "expires_at", "id"),
        Index("ix_customer_status_rank", "status_rank", "id"),
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
    password_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Logins are unique ignoring case: "Jane" and "jane" would be the same person at a TV's login
# prompt.
Index("uq_account_login_lower", func.lower(Account.login), unique=True)


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


outbox, outbox_lease, inbox, idempotency_record = define_messaging_tables(Base.metadata)
metadata = Base.metadata
