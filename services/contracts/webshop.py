"""Messages exchanged with webshops: `webshop.orders` (in) and `webshop.replies` (out)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.contracts.common import Currency, Money
from services.contracts.envelope import EventData


class Buyer(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_id: str | None = Field(default=None, max_length=200)
    email: EmailStr
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str = Field(min_length=1, max_length=100)
    reference: str = Field(min_length=1, max_length=200)


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    login: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=6, max_length=128, repr=False)


class OrderPaidV1(EventData):
    event_type = "order.paid.v1"

    order_id: str = Field(min_length=1, max_length=200)
    webshop_id: str = Field(min_length=1, max_length=64)
    buyer: Buyer
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    amount: Money = Field(ge=0)
    currency: Currency
    paid_at: datetime
    payment: Payment
    credentials: Credentials | None = None


class OrderRefundedV1(EventData):
    event_type = "order.refunded.v1"

    order_id: str = Field(min_length=1, max_length=200)
    webshop_id: str = Field(min_length=1, max_length=64)
    amount: Money = Field(ge=0)
    currency: Currency
    refunded_at: datetime
    reason: str | None = None


class OrderAcceptedV1(EventData):
    event_type = "order.accepted.v1"

    order_id: str
    customer_id: str
    login: str
    password: str | None = Field(default=None, repr=False)
    expires_at: datetime | None


class OrderRejectedV1(EventData):
    event_type = "order.rejected.v1"

    order_id: str
    reason: str
