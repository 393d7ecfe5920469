"""Tables of the activity service."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    metadata = MetaData()


class DeviceLimit(Base):
    """Read-model of what the customer may connect: the product's limit and policy, whether the
    subscription is usable, whether the account is disabled or the customer erased.

    Its row is the lock every connection of the customer takes (SELECT ... FOR UPDATE), so two
    consumers can never both admit a device beyond the limit.
    """

    __tablename__ = "device_limit"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Null until the first subscription event (an account may be disabled before that).
    product_id: Mapped[str | None] = mapped_column(String(64))
    max_devices: Mapped[int | None] = mapped_column(Integer)
    device_policy: Mapped[str | None] = mapped_column(String(16))  # reject | evict_oldest
    subscription_status: Mapped[str | None] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Device(Base):
    """A device bound to the customer: it counts against the limit until unbound or evicted."""

    __tablename__ = "device"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # stb | smart_tv | mobile | web
    model: Mapped[str | None] = mapped_column(String(100))
    os: Mapped[str | None] = mapped_column(String(100))
    app_version: Mapped[str | None] = mapped_column(String(50))
    ip: Mapped[str | None] = mapped_column(String(45))
    # Between a connect and a disconnect/logout; "online" also needs a recent last_seen_at.
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_device_customer_first_seen", "customer_id", "first_seen_at"),
        Index("ix_device_last_seen", "last_seen_at"),
    )


class DeviceRejection(Base):
    """A refused connection, kept for the operator (timeline) with its reason."""

    __tablename__ = "device_rejection"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    customer_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_device_rejection_customer", "customer_id", "rejected_at"),)


class SavedItem(Base):
    """A favorite or a watchlist entry of one profile; the id is derived from its natural key,
    so the same item added twice is one row with one id."""

    __tablename__ = "saved_item"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    list_name: Mapped[str] = mapped_column(String(16))  # favorites | watchlist
    profile_id: Mapped[str] = mapped_column(String(100))
    item_type: Mapped[str] = mapped_column(String(16))  # channel | movie | series
    item_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("customer_id", "list_name", "profile_id", "item_type", "item_id"),
        Index("ix_saved_item_page", "customer_id", "list_name", "added_at", "id"),
    )


class Recording(Base):
    """A recording scheduled on an app. The stored state is scheduled, completed or failed;
    "recording" is derived at read time (now between start and end, not finished)."""

    __tablename__ = "recording"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    programme_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_recording_page", "customer_id", "starts_at", "id"),)


class KnownProfile(Base):
    """A profile the customers service announced (profile.created.v1, until profile.deleted.v1):
    the apps' favorites, watchlist entries and recordings are accepted for these only."""

    __tablename__ = "known_profile"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HeldAppReport(Base):
    """An app's report about a profile not known (yet), held until the customers service
    announces the profile (then applied, in arrival order) or the grace period ends (then
    dead-lettered). An app may save a favorite right after creating the profile, and its
    profile.created reaches us through the customers service, later."""

    __tablename__ = "held_app_report"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    customer_id: Mapped[str] = mapped_column(String(36))
    profile_id: Mapped[str] = mapped_column(String(100))
    # Set for recording reports, so that a completion of a held recording is held behind it.
    recording_id: Mapped[str | None] = mapped_column(String(100))
    # The CloudEvent as it arrived: applied from it, or dead-lettered as it was.
    envelope: Mapped[str] = mapped_column(Text)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_held_app_report_profile", "customer_id", "profile_id", "id"),
        Index("ix_held_app_report_recording", "customer_id", "recording_id"),
        Index("ix_held_app_report_held_at", "held_at"),
    )


outbox, outbox_lease, inbox, idempotency_record = define_messaging_tables(Base.metadata)
metadata = Base.metadata
