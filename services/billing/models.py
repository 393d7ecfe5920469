"""Tables of the billing service."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.runtime.db import MoneyType, UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    metadata = MetaData()


class Webshop(Base):
    __tablename__ = "webshop"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currencies: Mapped[list[str]] = mapped_column(JSON)
    product_ids: Mapped[list[str]] = mapped_column(JSON)
    # Never deleted (a subscription may name it); archived ones sell nothing.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Product(Base):
    __tablename__ = "product"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # base | extra
    subscription_type: Mapped[str] = mapped_column(String(8))  # regular | trial
    max_devices: Mapped[int] = mapped_column(Integer)
    starts_on_first_login: Mapped[bool] = mapped_column(Boolean, default=False)
    packages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What activity does with a connection beyond max_devices; None = activity's default.
    device_policy: Mapped[str | None] = mapped_column(String(16), default=None)
    # The product's id in a third-party billing system.
    mapping_id: Mapped[str | None] = mapped_column(String(100), default=None)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    plans: Mapped[list["Plan"]] = relationship(
        back_populates="product", order_by="Plan.position", lazy="selectin"
    )


class Plan(Base):
    __tablename__ = "plan"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"))
    name: Mapped[str] = mapped_column(String(200))
    length: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8))  # days | weeks | months | years
    # {"EUR": "9.99", ...}: decimal strings, never floats.
    prices: Mapped[dict[str, str]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    product: Mapped[Product] = relationship(back_populates="plans")


class Subscription(Base):
    """A customer's current base subscription (one per customer) and its extras."""

    __tablename__ = "subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), unique=True)
    webshop_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id"))
    extra_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A change booked to start at the current expiry; the scheduler applies it then.
    next_product_id: Mapped[str | None] = mapped_column(String(64), default=None)
    next_plan_id: Mapped[str | None] = mapped_column(String(64), default=None)
    next_extra_product_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # The expiry the expiring-soon notice was sent for: one notice per period.
    expiring_notice_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Bumped by every change (actions, orders, the scheduler): a cheap "did it change" marker.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_subscription_status_expires", "status", "expires_at"),)


class SubscriptionExtra(Base):
    """An extra product on a subscription: on its own plan (own expiry) or synced to the base."""

    __tablename__ = "subscription_extra"

    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscription.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), primary_key=True)
    plan_id: Mapped[str | None] = mapped_column(String(64))
    # None: runs and ends with the base subscription.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_subscription_extra_expires", "expires_at"),)


class SubscriptionHistory(Base):
    """What happened to a customer's subscription, for the timeline (append-only)."""

    __tablename__ = "subscription_history"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(500))
    ref: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_subscription_history_customer_at", "customer_id", "at"),)


class ParkedRefund(Base):
    """A refund that arrived before billing recorded its order; applied when the order is."""

    __tablename__ = "parked_refund"

    webshop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The order.refunded.v1 payload as received (JSON).
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerTransaction(Base):
    """Append-only ledger entry; (webshop_id, order_id, kind) makes an order's entry unique."""

    __tablename__ = "ledger_transaction"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # An erased customer's entries keep their amounts under a random pseudonym.
    customer_id: Mapped[str] = mapped_column(String(80))
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # charge|payment|refund|credit|adjustment
    amount: Mapped[Decimal] = mapped_column(MoneyType())
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(16))  # webshop | operator
    webshop_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500))
    # The plan and period an entry paid for (invoice lines, proportional refunds).
    plan_id: Mapped[str | None] = mapped_column(String(64), default=None)
    period_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("webshop_id", "order_id", "kind", name="uq_ledger_order_kind"),
        Index("ix_ledger_customer_recorded", "customer_id", "recorded_at", "id"),
        # /stats: the 30-day range, covering what it groups and sums (index-only on PostgreSQL).
        Index("ix_ledger_recorded_at", "recorded_at", "currency", "kind", "amount"),
    )


outbox, outbox_lease, inbox, idempotency_record = define_messaging_tables(Base.metadata)
metadata = Base.metadata
