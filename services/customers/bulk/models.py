"""Tables of bulk-add jobs and their items (in the service's one metadata, through `Base`)."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.customers.models import Base
from services.runtime.db import UTCDateTime


class CustomerBatch(Base):
    """A bulk-add job: N numbered customers on one sale, created item by item by a worker."""

    __tablename__ = "customer_batch"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | completed
    webshop_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[str] = mapped_column(String(64))
    extra_product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name_prefix: Mapped[str] = mapped_column(String(80))
    login_prefix: Mapped[str | None] = mapped_column(String(50))
    first_number: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    digits: Mapped[int] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    # A worker owns the job while its lease runs; another replica takes over after a crash.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_customer_batch_status", "status", "created_at"),)


class CustomerBatchItem(Base):
    """One numbered customer of a job. (batch_id, number) is the natural idempotency key: an
    item is written in the same transaction as its customer, so a resumed job never makes a
    number twice."""

    __tablename__ = "customer_batch_item"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("customer_batch.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # created | failed
    customer_id: Mapped[str | None] = mapped_column(String(36))
    login: Mapped[str | None] = mapped_column(String(64))
    # The generated password until the first read of the job's items hands it out.
    password: Mapped[str | None] = mapped_column(String(32))
    password_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_customer_batch_item_customer", "customer_id"),)
