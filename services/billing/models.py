"""Tables of the billing service."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
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
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Product(Base):
    __tablename__ = "product"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # base | extra
    subscription_type: Mapped[str] = mapped_column(String(8))  # regular | trial
    max_devices: Mapped[int] = mapped_column(Integer)
    starts_on_first_login: Mapped[bool] = mapped_column(Boolean, default=False)
    packages: Mapped[list[str]] = mapped_column(JSON, default=list)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

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
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_subscription_status_expires", "status", "expires_at"),)


class LedgerTransaction(Base):
    """Append-only ledger entry; (webshop_id, order_id, kind) makes an order's entry unique."""

    __tablename__ = "ledger_transaction"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # charge|payment|refund|credit|adjustment
    amount: Mapped[Decimal] = mapped_column(MoneyType())
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(16))  # webshop | operator
    webshop_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("webshop_id", "order_id", "kind", name="uq_ledger_order_kind"),
        Index("ix_ledger_customer_recorded", "customer_id", "recorded_at", "id"),
    )


outbox, outbox_lease, inbox = define_messaging_tables(Base.metadata)
metadata = Base.metadata
