"""Catalog shapes: webshops, products and their payment plans (billing owns them)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from gateway.schemas import examples
from services.contracts.common import Currency, Money

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]
Unit = Literal["days", "weeks", "months", "years"]
DevicePolicy = Literal["reject", "evict_oldest"]


class Plan(BaseModel):
    id: str = Field(examples=["basic-1m"])
    name: str = Field(examples=["1 month"])
    length: int = Field(examples=[1])
    unit: Unit
    # What billing answers is shown as it is: the checks are on the way in (PlanCreate, ...).
    prices: dict[str, Decimal] = Field(
        description="Price per currency, as decimal strings.", examples=[{"EUR": "9.99"}]
    )
    archived: bool = False
    archived_at: datetime | None = None


class Product(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PRODUCT]})

    id: str = Field(examples=["basic"])
    name: str = Field(examples=["Basic TV"])
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"]
    max_devices: int = Field(examples=[2])
    starts_on_first_login: bool = False
    packages: list[str] = Field(default_factory=list, examples=[["news", "general"]])
    device_policy: DevicePolicy | None = Field(
        default=None, description="Beyond max_devices: reject the new device or log out the oldest."
    )
    mapping_id: str | None = Field(default=None, description="Id in a third-party billing.")
    archived: bool = False
    archived_at: datetime | None = None
    plans: list[Plan]


class Webshop(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBSHOP]})

    id: str = Field(examples=["demo"])
    name: str = Field(examples=["Demo webshop"])
    currencies: list[str] = Field(examples=[["EUR"]])
    product_ids: list[str] = Field(examples=[["basic", "premium"]])
    archived: bool = False
    archived_at: datetime | None = None


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    length: StrictInt = Field(ge=1, le=3650, description="A positive number of `unit`s.")
    unit: Unit
    prices: dict[Currency, Money] = Field(
        min_length=1,
        description="ISO 4217 code to price; may be 0, never negative.",
        examples=[{"EUR": "9.99"}],
    )


class ProductCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "sports",
                    "name": "Sports pack",
                    "kind": "extra",
                    "max_devices": 0,
                    "packages": ["sports"],
                    "plans": [
                        {
                            "id": "sports-1m",
                            "name": "1 month",
                            "length": 1,
                            "unit": "months",
                            "prices": {"EUR": "4.99"},
                        }
                    ],
                }
            ]
        },
    )

    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"] = "regular"
    max_devices: StrictInt = Field(ge=0, le=100)
    starts_on_first_login: StrictBool = False
    packages: list[str] = Field(default_factory=list)
    device_policy: DevicePolicy | None = None
    mapping_id: str | None = Field(default=None, max_length=100)
    plans: list[PlanCreate] = Field(min_length=1)


class ProductUpdate(BaseModel):
    """What may change on a product; `kind` and `subscription_type` are fixed once created."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"max_devices": 3, "device_policy": "evict_oldest"}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_devices: StrictInt | None = Field(default=None, ge=0, le=100)
    starts_on_first_login: StrictBool | None = None
    packages: list[str] | None = None
    device_policy: DevicePolicy | None = None
    mapping_id: str | None = Field(default=None, max_length=100)
    kind: object = Field(default=None, exclude=True, description="Fixed: refused if given.")
    subscription_type: object = Field(
        default=None, exclude=True, description="Fixed: refused if given."
    )

    @field_validator("kind", "subscription_type")
    @classmethod
    def _fixed(cls, value: object, info: ValidationInfo) -> None:
        if value is not None:
            raise ValueError(f"{info.field_name} is fixed once the product is created")


class PlanUpdate(BaseModel):
    """Name and prices may change; length and unit are what subscriptions were sold on."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"prices": {"EUR": "10.99"}}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    prices: dict[Currency, Money] | None = Field(
        default=None, min_length=1, description="ISO 4217 code to price; never negative."
    )


class WebshopUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"product_ids": ["basic", "premium"]}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    currencies: list[Currency] | None = Field(default=None, min_length=1)
    product_ids: list[str] | None = None


class WebshopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(examples=["demo"])
    name: str = Field(min_length=1, max_length=200, examples=["Demo webshop"])
    currencies: list[Currency] = Field(min_length=1, examples=[["EUR"]])
    product_ids: list[str] = Field(default_factory=list, examples=[["basic"]])
