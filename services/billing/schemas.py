"""Request and response shapes of billing's internal API."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.billing.periods import Unit
from services.contracts.common import Currency, Money

Identifier = str


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    length: int = Field(ge=1, le=3650)
    unit: Unit
    prices: dict[Currency, Money] = Field(min_length=1)

    @field_validator("prices")
    @classmethod
    def _non_negative(cls, prices: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(p < 0 for p in prices.values()):
            raise ValueError("prices cannot be negative")
        return prices


class PlanPublic(BaseModel):
    id: str
    name: str
    length: int
    unit: Unit
    prices: dict[str, Money]
    archived: bool


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"] = "regular"
    max_devices: int = Field(ge=0, le=100)
    starts_on_first_login: bool = False
    packages: list[str] = Field(default_factory=list)
    plans: list[PlanIn] = Field(min_length=1)


class ProductPublic(BaseModel):
    id: str
    name: str
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"]
    max_devices: int
    starts_on_first_login: bool
    packages: list[str]
    archived: bool
    plans: list[PlanPublic]


class WebshopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    currencies: list[Currency] = Field(min_length=1)
    product_ids: list[str] = Field(default_factory=list)


class WebshopPublic(BaseModel):
    id: str
    name: str
    currencies: list[str]
    product_ids: list[str]
    archived: bool


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
    recorded_at: datetime


class TransactionPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None
    balance: dict[str, Money]


class OrderCheck(BaseModel):
    """What the gateway asks before creating a customer: is this a valid sale?"""

    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str] = Field(default_factory=list)
