"""Request and response shapes of the customers service's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.contracts.customers import CustomerInfo, CustomerSource
from services.customers.credentials import login_problem

CustomerStatus = Literal["pending", "trial", "active", "expired", "disabled"]
ACTIVE_STATUSES: tuple[str, ...] = ("trial", "active")
INACTIVE_STATUSES: tuple[str, ...] = ("pending", "expired", "disabled")

SortKey = Literal["created_at", "-created_at", "name", "-name", "expires_at", "-expires_at"]


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
    info: CustomerInfo
    credentials: CredentialsIn | None = None


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


class CustomerPage(BaseModel):
    items: list[CustomerPublic]
    next_cursor: str | None
    total: int | None = None
