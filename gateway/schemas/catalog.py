"""Catalog shapes: webshops, products and their payment plans (billing owns them)."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.schemas import examples

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]
Unit = Literal["days", "weeks", "months", "years"]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Plan(BaseModel):
    id: str = Field(examples=["basic-1m"])
    name: str = Field(examples=["1 month"])
    length: int = Field(examples=[1])
    unit: Unit
    prices: dict[Currency, Decimal] = Field(
        description="Price per currency, as decimal strings.", examples=[{"EUR": "9.99"}]
    )
    archived: bool = False


class Product(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PRODUCT]})

    id: str = Field(examples=["basic"])
    name: str = Field(examples=["Basic TV"])
    kind: Literal["base", "extra"]
    subscription_type: Literal["regular", "trial"]
    max_devices: int = Field(examples=[2])
    starts_on_first_login: bool = False
    packages: list[str] = Field(default_factory=list, examples=[["news", "general"]])
    archived: bool = False
    plans: list[Plan]


class Webshop(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBSHOP]})

    id: str = Field(examples=["demo"])
    name: str = Field(examples=["Demo webshop"])
    currencies: list[Currency] = Field(examples=[["EUR"]])
    product_ids: list[str] = Field(examples=[["basic", "premium"]])
    archived: bool = False


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    length: int = Field(ge=1, le=3650)
    unit: Unit
    prices: dict[Currency, Decimal] = Field(min_length=1, examples=[{"EUR": "9.99"}])


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
    max_devices: int = Field(ge=0, le=100)
    starts_on_first_login: bool = False
    packages: list[str] = Field(default_factory=list)
    plans: list[PlanCreate] = Field(min_length=1)


class WebshopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(examples=["demo"])
    name: str = Field(min_length=1, max_length=200, examples=["Demo webshop"])
    currencies: list[Currency] = Field(min_length=1, examples=[["EUR"]])
    product_ids: list[str] = Field(default_factory=list, examples=[["basic"]])
