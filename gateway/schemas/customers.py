"""Customer shapes: the sale that creates one, the customer as lists and details show it."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import examples
from gateway.schemas.common import Page
from gateway.schemas.subscriptions import Payment
from services.contracts.contact import CheckedCustomerInfo
from services.contracts.customers import CustomerInfo, CustomerSource

CustomerStatus = Literal["pending", "trial", "active", "expired", "disabled"]
StatusGroup = Literal["active", "inactive"]
CustomerSort = Literal[
    "created_at",
    "-created_at",
    "name",
    "-name",
    "expires_at",
    "-expires_at",
    "status",
    "-status",
]


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=3, max_length=64, examples=["jane.doe"])
    password: str = Field(min_length=6, max_length=128, examples=["s3cret-pass"])


class CustomerCreate(BaseModel):
    """A sale: who the customer is and what they buy. No credentials: they are generated."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "webshop_id": "demo",
                    "product_id": "basic",
                    "plan_id": "basic-1m",
                    "extra_product_ids": [],
                    "info": {
                        "first_name": "Jane",
                        "last_name": "Doe",
                        "email": "jane@example.com",
                        "phone": "+3612345678",
                        "city": "Budapest",
                        "country": "HU",
                    },
                    "credentials": None,
                }
            ]
        },
    )

    webshop_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    info: CheckedCustomerInfo
    credentials: Credentials | None = None
    payment: Payment | None = Field(
        default=None,
        description="How the customer paid the sale; left out, the charge is owed.",
    )


class SubscriptionSummary(BaseModel):
    """The customers service's copy of the subscription, enough to list and sort."""

    product_id: str | None
    plan_id: str | None
    extra_product_ids: list[str] = Field(default_factory=list)
    status: str | None = None
    expires_at: datetime | None


class CustomerPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CUSTOMER]})

    id: str = Field(examples=["0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"])
    status: CustomerStatus
    source: CustomerSource
    login: str = Field(examples=["4812093377"])
    webshop_id: str = Field(examples=["demo"])
    info: CustomerInfo
    subscription: SubscriptionSummary
    created_at: datetime
    updated_at: datetime


class CustomerCreated(CustomerPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CUSTOMER_CREATED]})

    password: str | None = Field(
        default=None,
        description="Only when generated: shown in this answer once and never again.",
        examples=["50918342"],
    )


class CustomerPage(Page[CustomerPublic]):
    total: int | None = Field(
        default=None,
        description="All matches: exact up to 1,000; beyond, `total_exact` is false and it is "
        "the table's estimated size (no filter) or 1,001 meaning more than 1,000.",
    )
    total_exact: bool = True


class Subscription(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUBSCRIPTION]})

    id: str
    customer_id: str
    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    status: str
    starts_at: datetime | None
    expires_at: datetime | None
    max_devices: int


class Transaction(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TRANSACTION]})

    id: str
    customer_id: str
    subscription_id: str | None
    kind: Literal["charge", "payment", "refund", "credit", "adjustment"]
    amount: Decimal = Field(description="Decimal string.", examples=["9.99"])
    currency: str = Field(examples=["EUR"])
    source: str
    webshop_id: str | None
    order_id: str | None
    reference: str | None
    description: str
    plan_id: str | None = None
    period_starts_at: datetime | None = None
    period_ends_at: datetime | None = None
    recorded_at: datetime
    balance_after: Decimal | None = Field(
        default=None,
        description="What the customer owed in this currency right after this entry (the "
        "running balance).",
        examples=["9.99"],
    )


class TransactionPage(Page[Transaction]):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TRANSACTION_PAGE]})

    balance: dict[str, Decimal] = Field(
        description="What the customer owes per currency, as decimal strings (negative: in "
        "credit). Charges and refunds add to it, payments and credits take from it.",
        examples=[{"EUR": "9.99"}],
    )


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.MESSAGE]})

    id: str
    customer_id: str
    channel: str
    template: str | None
    title: str
    body: str
    device_id: str | None
    status: str
    sent_at: datetime
    read_at: datetime | None


class MessagePage(Page[Message]):
    pass


class Device(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEVICE]})

    id: str
    customer_id: str
    kind: str
    model: str | None
    online: bool
    first_seen_at: datetime
    last_seen_at: datetime


class DevicePage(Page[Device]):
    max_devices: int | None = Field(description="How many may connect at once; null if unknown.")
