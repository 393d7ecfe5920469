"""Request and response shapes of billing's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from services.billing.periods import Unit
from services.contracts.common import Currency, Money, SignedMoney
from services.contracts.customers import OperatorPayment
from services.runtime.paging import Page

Identifier = str
DevicePolicy = Literal["reject", "evict_oldest"]
IdPattern = r"^[A-Za-z0-9._-]+$"


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    length: StrictInt = Field(ge=1, le=3650)
    unit: Unit
    prices: dict[Currency, Money] = Field(min_length=1)


class PlanUpdate(BaseModel):
    """Name and prices may change; length and unit are what subscriptions were sold on."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    prices: dict[Currency, Money] | None = Field(default=None, min_length=1)


class PlanPublic(BaseModel):
    id: str
    name: str
    length: int
    unit: Unit
    prices: dict[str, Money]
    archived: bool
    archived_at: datetime | None = None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"] = "regular"
    max_devices: StrictInt = Field(ge=0, le=100)
    starts_on_first_login: StrictBool = False
    packages: list[str] = Field(default_factory=list)
    device_policy: DevicePolicy | None = None
    mapping_id: str | None = Field(default=None, max_length=100)
    plans: list[PlanIn] = Field(min_length=1)


class ProductUpdate(BaseModel):
    """What may change on a product; `kind` and `subscription_type` are fixed once created."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_devices: StrictInt | None = Field(default=None, ge=0, le=100)
    starts_on_first_login: StrictBool | None = None
    packages: list[str] | None = None
    device_policy: DevicePolicy | None = None
    mapping_id: str | None = Field(default=None, max_length=100)
    # Present only to refuse a change with a message naming the field.
    kind: object = Field(default=None, exclude=True)
    subscription_type: object = Field(default=None, exclude=True)

    @field_validator("kind", "subscription_type")
    @classmethod
    def _fixed(cls, value: object, info: ValidationInfo) -> None:
        if value is not None:
            raise ValueError(f"{info.field_name} is fixed once the product is created")


class ProductPublic(BaseModel):
    id: str
    name: str
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"]
    max_devices: int
    starts_on_first_login: bool
    packages: list[str]
    device_policy: DevicePolicy | None = None
    mapping_id: str | None = None
    archived: bool
    archived_at: datetime | None = None
    plans: list[PlanPublic]


class WebshopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    currencies: list[Currency] = Field(min_length=1)
    product_ids: list[str] = Field(default_factory=list)


class WebshopUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    currencies: list[Currency] | None = Field(default=None, min_length=1)
    product_ids: list[str] | None = None


class WebshopPublic(BaseModel):
    id: str
    name: str
    currencies: list[str]
    product_ids: list[str]
    archived: bool
    archived_at: datetime | None = None


class SubscriptionPublic(BaseModel):
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
    device_policy: DevicePolicy | None = None
    starts_on_first_login: bool = False
    extras: list["ExtraPublic"] = Field(default_factory=list)
    cancel_at_period_end: bool = False
    scheduled_change: "ScheduledChange | None" = None


class ExtraPublic(BaseModel):
    product_id: str
    plan_id: str | None
    # None: synced to the base subscription's expiry.
    expires_at: datetime | None


class ScheduledChange(BaseModel):
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    starts_at: datetime | None


class TransactionPublic(BaseModel):
    id: str
    customer_id: str
    subscription_id: str | None
    kind: str
    amount: Money
    currency: str
    source: str
    webshop_id: str | None
    order_id: str | None
    reference: str | None
    description: str
    plan_id: str | None = None
    period_starts_at: datetime | None = None
    period_ends_at: datetime | None = None
    recorded_at: datetime
    # In a list: what the customer owed in this currency right after this entry.
    balance_after: SignedMoney | None = None


class TransactionPage(Page[TransactionPublic]):
    # What the customer owes per currency (negative: in credit).
    balance: dict[str, SignedMoney]


class OrderCheck(BaseModel):
    """What the gateway asks before creating a customer: is this a valid sale? With an amount
    and currency, also: is that what the catalog charges for it (as for a webshop order)?"""

    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str] = Field(default_factory=list)
    amount: Money | None = None
    currency: Currency | None = Field(default=None, validate_default=True)

    @field_validator("currency")
    @classmethod
    def _with_amount(cls, currency: str | None, info: ValidationInfo) -> str | None:
        if "amount" not in info.data:
            return currency  # the amount was refused already; that error says enough
        if (currency is None) != (info.data["amount"] is None):
            raise ValueError("an amount and its currency come together")
        return currency


class WebshopMove(BaseModel):
    """What moving the customer to `webshop_id` would do: refused (with the reason) when the
    webshop does not sell the running subscription's product and plan; else the price of the next
    renewal there. The move takes effect from the next renewal or change."""

    webshop_id: str
    allowed: bool
    reason: str | None = None
    current_webshop_id: str | None = None
    product_id: str | None = None
    plan_id: str | None = None
    renewal_price: Money | None = None
    currency: Currency | None = None


# --- subscription actions (one call each, one ledger entry each) -------------------------------


# How the customer paid an operator's sale: a payment entry beside the charge (`free`: a
# credit of the whole amount, so the sale counts as no revenue and nothing is owed).
PaymentIn = OperatorPayment


class RenewIn(BaseModel):
    """Same product, the plan's length added from the later of now and the current expiry."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list)
    payment: PaymentIn | None = None
    repeat_trial: StrictBool = Field(
        default=False,
        description="Sell a trial product the customer already had (the gateway: admins only).",
    )


class ChangeIn(RenewIn):
    """Another product/plan, now (prorated credit for the unused time) or at the expiry."""

    starts: Literal["now", "at_expiry"] = "now"


class OpenIn(RenewIn):
    """A new subscription for a customer without a running one, sold through `webshop_id` (the
    customer's bound webshop, which the gateway reads from customers)."""

    webshop_id: str = Field(min_length=1, max_length=64)


class ExpiryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Any offset is accepted and normalised to UTC; a naive time is refused.
    expires_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=300)


class ExtraIn(BaseModel):
    """An extra on its own plan (own expiry), or synced to the base expiry (price prorated)."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str | None = Field(default=None, min_length=1, max_length=64)
    synced_to_base: StrictBool = False
    payment: PaymentIn | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: Literal["now", "at_period_end"] = "now"
    reason: str | None = Field(default=None, max_length=300)


class ActionResult(BaseModel):
    """The subscription after the action, its ledger entry and, for a sale the operator said
    was paid, the payment (or the credit of a free sale)."""

    action: str
    subscription: SubscriptionPublic
    transaction: TransactionPublic
    payment: TransactionPublic | None = None


# --- invoices, timeline, stats ---------------------------------------------------------------


class InvoiceLine(BaseModel):
    transaction_id: str
    kind: str
    description: str
    # Signed as it moves what is owed: charges and refunds +, payments and credits -.
    amount: SignedMoney
    period_starts_at: datetime | None
    period_ends_at: datetime | None


class Invoice(BaseModel):
    """One order (webshop order or operator action) with its lines: `total` what was sold
    (charges less credits), `paid` (payments less refunds), `due` what is still owed."""

    id: str
    customer_id: str
    order_id: str
    webshop_id: str | None
    source: str
    currency: str
    issued_at: datetime
    total: SignedMoney
    paid: SignedMoney
    due: SignedMoney
    lines: list[InvoiceLine]


class InvoicePage(Page[Invoice]):
    """Invoices, newest first."""


class RevenueDay(BaseModel):
    day: str
    currency: str
    amount: SignedMoney


class SubscriptionFigures(BaseModel):
    subscriptions_by_status: dict[str, int] = Field(default_factory=dict)
    expiring_soon: int = 0
    expiring_soon_days: int = 7
    ended_recently: int = 0
    ended_recently_days: int = 30
    trial_customers: int = 0
    trial_converted: int = 0


class BillingStats(SubscriptionFigures):
    revenue_per_day: list[RevenueDay]
    active_subscriptions: int
