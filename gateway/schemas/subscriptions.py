"""Subscription actions, invoices and the subscription itself as the gateway shows them."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from gateway.schemas import examples
from gateway.schemas.common import Page

ProductId = str
DevicePolicy = Literal["reject", "evict_oldest"]


class ExtraOnSubscription(BaseModel):
    product_id: str = Field(examples=["hbo"])
    plan_id: str | None = Field(examples=["hbo-1m"])
    expires_at: datetime | None = Field(description="null: runs and ends with the base.")


class ScheduledChange(BaseModel):
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    starts_at: datetime | None


class SubscriptionDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUBSCRIPTION_DETAIL]})

    id: str
    customer_id: str
    webshop_id: str = Field(examples=["shop-eu"])
    product_id: str = Field(examples=["basic"])
    plan_id: str = Field(examples=["basic-1m"])
    extra_product_ids: list[str] = Field(examples=[["hbo"]])
    status: Literal["pending", "trial", "active", "expired", "cancelled"]
    starts_at: datetime | None
    expires_at: datetime | None
    max_devices: int = Field(examples=[2])
    device_policy: DevicePolicy | None = None
    starts_on_first_login: bool = False
    extras: list[ExtraOnSubscription] = Field(default_factory=list)
    cancel_at_period_end: bool = False
    scheduled_change: ScheduledChange | None = None


class LedgerEntry(BaseModel):
    id: str
    customer_id: str
    subscription_id: str | None
    kind: Literal["charge", "payment", "refund", "credit", "adjustment"]
    amount: Decimal = Field(description="Decimal string, never negative.", examples=["9.99"])
    currency: str = Field(examples=["EUR"])
    source: Literal["webshop", "operator"]
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
        description="What the customer owed in this currency right after this entry.",
        examples=["9.99"],
    )


class ActionResult(BaseModel):
    """The subscription after the action, the ledger entry the action wrote and, for a sale the
    operator said was paid, its payment (a credit of the whole amount when it was free)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "renewed",
                    "subscription": {
                        "id": "2f5e6c1a-7a0e-4c1e-9d0f-6c1b2a3d4e5f",
                        "customer_id": "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10",
                        "webshop_id": "shop-eu",
                        "product_id": "basic",
                        "plan_id": "basic-1m",
                        "extra_product_ids": [],
                        "status": "active",
                        "starts_at": "2026-11-01T10:00:00Z",
                        "expires_at": "2027-01-01T10:00:00Z",
                        "max_devices": 2,
                        "device_policy": None,
                        "starts_on_first_login": False,
                        "extras": [],
                        "cancel_at_period_end": False,
                        "scheduled_change": None,
                    },
                    "transaction": {
                        "id": "8d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
                        "customer_id": "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10",
                        "subscription_id": "2f5e6c1a-7a0e-4c1e-9d0f-6c1b2a3d4e5f",
                        "kind": "charge",
                        "amount": "9.99",
                        "currency": "EUR",
                        "source": "operator",
                        "webshop_id": "shop-eu",
                        "order_id": "op-renew-5b0c7d1e-2f3a-4b5c-8d6e-7f8091a2b3c4",
                        "reference": None,
                        "description": "renewed Basic TV, 1 month until 2027-01-01",
                        "plan_id": "basic-1m",
                        "period_starts_at": "2026-12-01T10:00:00Z",
                        "period_ends_at": "2027-01-01T10:00:00Z",
                        "recorded_at": "2026-11-28T10:00:00Z",
                    },
                }
            ]
        }
    )

    action: str = Field(examples=["renewed"])
    subscription: SubscriptionDetail
    transaction: LedgerEntry
    payment: LedgerEntry | None = None


class Payment(BaseModel):
    """How the customer paid an operator's sale. Given, the sale is settled at once: a payment
    beside the charge (`free`: a credit of the whole charge, so nothing is owed and it counts
    as no revenue). Left out, the charge is owed (the balance shows it)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cash", "card", "bank_transfer", "free"]
    reference: str | None = Field(
        default=None, max_length=200, description="Receipt, card slip or transfer reference."
    )


class RenewRequest(BaseModel):
    """Same product; the plan's length is added from the later of now and the current expiry.
    The listed extras replace the current ones, synced to the base expiry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []}]
        },
    )

    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list)
    payment: Payment | None = None
    repeat_trial: StrictBool = Field(
        default=False,
        description="A trial product is sold once per customer (422 on product_id otherwise); "
        "true sells it again. Admins only (403 for other roles).",
    )


class SellRequest(RenewRequest):
    """A subscription for a customer with none running (none yet, or one that expired or was
    cancelled): any base product of the customer's webshop, a fresh period from now."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product_id": "basic",
                    "plan_id": "basic-1m",
                    "extra_product_ids": [],
                    "payment": {"method": "cash", "reference": "receipt 1042"},
                }
            ]
        },
    )


class ChangeRequest(RenewRequest):
    """Another product/plan: `now` (the unused time is credited) or `at_expiry` (booked; the
    scheduler switches when the current period ends)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product_id": "premium",
                    "plan_id": "premium-1m",
                    "extra_product_ids": ["hbo"],
                    "starts": "now",
                }
            ]
        },
    )

    starts: Literal["now", "at_expiry"] = "now"


class ExpiryRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"expires_at": "2027-01-31T23:59:59+01:00", "reason": "service outage"}]
        },
    )

    expires_at: AwareDatetime = Field(description="With an offset; stored in UTC.")
    reason: str = Field(min_length=1, max_length=300)


class ExtraRequest(BaseModel):
    """An extra on its own plan (own expiry), or `synced_to_base` (price prorated to the base
    expiry; `plan_id` then optional)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"product_id": "hbo", "plan_id": "hbo-1m"}]},
    )

    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str | None = Field(default=None, min_length=1, max_length=64)
    synced_to_base: StrictBool = False
    payment: Payment | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"when": "at_period_end", "reason": "moving abroad"}]},
    )

    when: Literal["now", "at_period_end"] = "now"
    reason: str | None = Field(default=None, max_length=300)


class InvoiceLine(BaseModel):
    transaction_id: str
    kind: str
    description: str
    amount: Decimal = Field(
        description="Signed as it moves what is owed: charges and refunds positive, payments "
        "and credits negative."
    )
    period_starts_at: datetime | None
    period_ends_at: datetime | None


class Invoice(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.INVOICE]})

    id: str
    customer_id: str
    order_id: str = Field(examples=["order-1001"])
    webshop_id: str | None
    source: str
    currency: str = Field(examples=["EUR"])
    issued_at: datetime
    total: Decimal = Field(description="What was sold: charges less credits.", examples=["9.99"])
    paid: Decimal = Field(description="Payments less refunds.", examples=["9.99"])
    due: Decimal = Field(description="What is still owed on this invoice.", examples=["0.00"])
    lines: list[InvoiceLine]


class InvoicePage(Page[Invoice]):
    pass


class WebshopMove(BaseModel):
    """What moving the customer to `webshop_id` would do, before saving. The move takes effect
    from the next renewal or change: the period already paid runs on as sold; the next sale is
    checked against the new webshop's catalog and priced in its currency."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "webshop_id": "shop-us",
                    "allowed": True,
                    "reason": None,
                    "current_webshop_id": "shop-eu",
                    "product_id": "basic",
                    "plan_id": "basic-1m",
                    "renewal_price": "10.99",
                    "currency": "USD",
                }
            ]
        }
    )

    webshop_id: str
    allowed: bool
    reason: str | None = Field(
        default=None, description="Why not: the webshop does not sell the running product."
    )
    current_webshop_id: str | None = None
    product_id: str | None = Field(default=None, description="The running product, if any.")
    plan_id: str | None = None
    renewal_price: Decimal | None = Field(
        default=None, description="The next renewal's price in the new webshop."
    )
    currency: str | None = None
