"""The erasure tombstone table (in the service's one metadata, through `Base`)."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.customers.models import Base
from services.runtime.db import UTCDateTime


class ErasedCustomer(Base):
    """What is left of an erased customer: the id and when. The customer, account and profiles
    rows are deleted; this row makes a repeated erasure a no-op answered 204."""

    __tablename__ = "erased_customer"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())
