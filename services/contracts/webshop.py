"""Messages exchanged with webshops: `webshop.orders` (in) and `webshop.replies` (out)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.contracts.common import Currency, Money
from services.contracts.envelope import EventData

# A webshop's own order id: how the reply and the refund find the order.
OrderId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


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

    order_id: OrderId
    webshop_id: str = Field(min_length=1, max_length=64)
    buyer: Buyer
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    amount: Money
    currency: Currency
    paid_at: datetime
    payment: Payment
    credentials: Credentials | None = None


class OrderRefundedV1(EventData):
    event_type = "order.refunded.v1"

    order_id: OrderId
    webshop_id: str = Field(min_length=1, max_length=64)
    amount: Money
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


RejectionCode = Literal[
    "invalid_order",
    "not_for_sale",
    "currency_not_accepted",
    "amount_mismatch",
    "rejected_earlier",
]
"""Why an order was refused, for the webshop's code; `reason` is the same for people.

- invalid_order: the order violates its schema (a negative amount, an unknown currency code).
- not_for_sale: the catalog does not sell it (webshop, product, plan or extra unknown/archived).
- currency_not_accepted: the webshop does not take that currency, or the plan has no price in it.
- amount_mismatch: the amount is not what the catalog charges for what the order buys.
- rejected_earlier: a resent order that was refused before (its first reply said why).
"""


class OrderRejectedV1(EventData):
    event_type = "order.rejected.v1"

    order_id: str
    reason: str
    # Added after the first release: older replies carry only `reason`.
    code: RejectionCode = "not_for_sale"
