"""Events of the customers service on `customers.events` (key: customer id)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.common import Currency, Money
from services.contracts.envelope import EventData

CustomerSource = Literal["manual", "webshop"]


class CustomerInfo(BaseModel):
    """Personal data; the same shape in the API and in events."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    title: str | None = Field(default=None, max_length=20)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    mobile: str | None = Field(default=None, max_length=32)
    street: str | None = Field(default=None, max_length=200)
    zip: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    comments: str | None = Field(default=None, max_length=2000)
    # The customer's id in the operator's other systems (CRM, third-party billing).
    mapping_id: str | None = Field(default=None, max_length=100)


PaymentMethod = Literal["cash", "card", "bank_transfer", "free"]


class OperatorPayment(BaseModel):
    """How the customer paid an operator's sale (`free`: given free of charge)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: PaymentMethod
    reference: str | None = Field(default=None, max_length=200)


class SubscriptionOrder(BaseModel):
    """What was sold to the customer, for billing to open or change the subscription."""

    model_config = ConfigDict(frozen=True)

    order_id: str = Field(min_length=1, max_length=200)
    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str] = Field(default_factory=list)
    # An operator's sale that the operator said was paid; null: owed (webshop orders carry
    # their payment beside the order instead).
    operator_payment: OperatorPayment | None = None


class OrderPayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Money
    currency: Currency
    paid_at: datetime
    provider: str
    reference: str


class CustomerCreatedV1(EventData):
    event_type = "customer.created.v1"

    customer_id: str
    source: CustomerSource
    webshop_id: str
    login: str
    info: CustomerInfo
    created_at: datetime
    order: SubscriptionOrder | None


class CustomerOrderPlacedV1(EventData):
    """A paid webshop order for an existing or just-created customer."""

    event_type = "customer.order_placed.v1"

    customer_id: str
    order: SubscriptionOrder
    payment: OrderPayment


class CustomerUpdatedV1(EventData):
    """Personal data or the bound webshop changed; carries the whole new state."""

    event_type = "customer.updated.v1"

    customer_id: str
    webshop_id: str
    info: CustomerInfo
    changed_fields: list[str]
    updated_at: datetime


class AccountUpdatedV1(EventData):
    """The account was disabled/enabled or its login changed (never carries a password)."""

    event_type = "account.updated.v1"

    customer_id: str
    login: str
    disabled: bool
    updated_at: datetime


class ProfileCreatedV1(EventData):
    event_type = "profile.created.v1"

    customer_id: str
    profile_id: str
    name: str
    kids: bool
    created_at: datetime


class ProfileDeletedV1(EventData):
    """Other services drop what belongs to the profile (favorites, watchlist, recordings)."""

    event_type = "profile.deleted.v1"

    customer_id: str
    profile_id: str
    deleted_at: datetime


class CustomerErasedV1(EventData):
    """Right to erasure: every service deletes or anonymises this customer's personal data."""

    event_type = "customer.erased.v1"

    customer_id: str
    erased_at: datetime
