"""Request and response shapes of the customers service's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from services.contracts.contact import CheckedCustomerInfo, CustomerInfoPatch
from services.contracts.customers import CustomerInfo, CustomerSource, OperatorPayment
from services.customers.credentials import login_problem
from services.runtime.paging import Page

CustomerStatus = Literal["pending", "trial", "active", "expired", "disabled"]
ACTIVE_STATUSES: tuple[str, ...] = ("trial", "active")
INACTIVE_STATUSES: tuple[str, ...] = ("pending", "expired", "disabled")

SortKey = Literal[
    "created_at",
    "-created_at",
    "name",
    "-name",
    "expires_at",
    "-expires_at",
    "status",
    "-status",
]


class CredentialsIn(BaseModel):
    login: str
    password: str = Field(min_length=6, max_length=128)

    @field_validator("login")
    @classmethod
    def _login_rules(cls, value: str) -> str:
        problem = login_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webshop_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    info: CheckedCustomerInfo
    credentials: CredentialsIn | None = None
    # How the operator's sale was paid; billing records it beside the charge.
    payment: OperatorPayment | None = None


class SubscriptionSummary(BaseModel):
    product_id: str | None
    plan_id: str | None
    extra_product_ids: list[str]
    status: str | None
    expires_at: datetime | None


class CustomerPublic(BaseModel):
    id: str
    status: CustomerStatus
    source: CustomerSource
    login: str
    webshop_id: str
    info: CustomerInfo
    subscription: SubscriptionSummary
    created_at: datetime
    updated_at: datetime


class CustomerCreated(CustomerPublic):
    password: str | None = Field(
        default=None, description="Only when generated; shown this once and never again."
    )


class CustomerPage(Page[CustomerPublic]):
    total: int | None = None
    # False when `total` is an estimate or a lower bound (see listing.TOTAL_CAP).
    total_exact: bool = True


class CustomerUpdate(BaseModel):
    """An edit: the info fields sent change (null clears an optional one); `webshop_id` rebinds
    the customer to another webshop (the gateway checks it exists in the catalog)."""

    model_config = ConfigDict(extra="forbid")

    info: CustomerInfoPatch | None = None
    webshop_id: str | None = Field(default=None, min_length=1, max_length=64)


class AccountPublic(BaseModel):
    customer_id: str
    login: str
    login_generated: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime | None
    last_login_at: datetime | None = Field(
        description="When a device last connected with this account (device.connected)."
    )
    password_reset_at: datetime | None


class AccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: StrictBool | None = None
    login: str | None = None

    @field_validator("login")
    @classmethod
    def _login_rules(cls, value: str | None) -> str | None:
        if value is not None:
            problem = login_problem(value)
            if problem:
                raise ValueError(problem)
        return value


class PasswordReset(BaseModel):
    customer_id: str
    password: str | None = Field(
        description="The new generated password, in this answer only; null when the request "
        "repeats an Idempotency-Key (the password was shown the first time)."
    )
    password_reset_at: datetime
