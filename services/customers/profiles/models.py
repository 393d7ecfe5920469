"""The profile table (in the service's one metadata, through `Base`)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.customers.models import Base
from services.runtime.db import UTCDateTime


class Profile(Base):
    """A viewer profile of an account (the TV apps' "who is watching")."""

    __tablename__ = "profile"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    kids: Mapped[bool] = mapped_column(Boolean, default=False)
    # argon2 of the 4-8 digit PIN, like account passwords; None when the profile has no PIN.
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    avatar: Mapped[str] = mapped_column(String(32))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("customer_id", "name", name="uq_profile_customer_name"),
        Index("ix_profile_customer_created", "customer_id", "created_at"),
    )
