"""The composed customer details: the customer plus one section per service behind it."""

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import examples
from gateway.schemas.customers import (
    CustomerPublic,
    DevicePage,
    MessagePage,
    Subscription,
    TransactionPage,
)

T = TypeVar("T")


class SectionOk(BaseModel, Generic[T]):
    status: Literal["ok"] = "ok"
    data: T


class SectionUnavailable(BaseModel):
    """The section's service failed or did not answer in time; the rest of the page stands."""

    status: Literal["unavailable"] = "unavailable"
    reason: str = Field(examples=["the activity service is unavailable: no answer within 2 s"])


class DetailSections(BaseModel):
    subscription: SectionOk[Subscription | None] | SectionUnavailable = Field(
        description="null data: the customer has no subscription."
    )
    transactions: SectionOk[TransactionPage] | SectionUnavailable = Field(
        description="The first page; more at /api/v1/customers/{id}/transactions."
    )
    messages: SectionOk[MessagePage] | SectionUnavailable
    devices: SectionOk[DevicePage] | SectionUnavailable


class CustomerDetails(CustomerPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CUSTOMER_DETAILS]})

    sections: DetailSections
