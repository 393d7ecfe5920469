"""Bulk-add job shapes: the job asked for, its progress, and its items."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic.config import JsonDict

from gateway.schemas.common import Page

MAX_BATCH = 10_000


class CustomerBatchCreate(BaseModel):
    """`count` customers numbered from `first_number`: first name `first_name`, last name
    `last_name_prefix` + the number zero-padded to `digits`; logins `login_prefix` + the padded
    number, or generated numeric ones; passwords always generated, one each."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "webshop_id": "shop-eu",
                    "product_id": "basic",
                    "plan_id": "basic-1m",
                    "extra_product_ids": [],
                    "count": 120,
                    "first_number": 1,
                    "digits": 3,
                    "first_name": "Hotel Aurora",
                    "last_name_prefix": "Room ",
                    "login_prefix": "aurora-",
                    "country": "HU",
                }
            ]
        },
    )

    webshop_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)
    extra_product_ids: list[str] = Field(default_factory=list, max_length=50)
    count: StrictInt = Field(ge=1, le=MAX_BATCH)
    first_number: StrictInt = Field(default=1, ge=0, le=999_999_999)
    digits: StrictInt | None = Field(
        default=None, ge=1, le=10, description="Zero-padded width; default: the last number's."
    )
    first_name: str = Field(min_length=1, max_length=100)
    last_name_prefix: str = Field(default="", max_length=80)
    login_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._@+-]{1,50}$",
        description="Without it, numeric logins are generated.",
    )
    country: str | None = Field(default=None, min_length=2, max_length=2)


BATCH_EXAMPLE: JsonDict = {
    "id": "7d3b8a70-2f5e-4c8a-9b61-1e2f3a4b5c6d",
    "status": "running",
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "extra_product_ids": [],
    "first_name": "Hotel Aurora",
    "last_name_prefix": "Room ",
    "login_prefix": "aurora-",
    "first_number": 1,
    "count": 120,
    "digits": 3,
    "created": 42,
    "failed": 0,
    "created_at": "2026-11-28T10:00:00Z",
    "started_at": "2026-11-28T10:00:01Z",
    "completed_at": None,
}
ITEM_EXAMPLE: JsonDict = {
    "number": 7,
    "status": "created",
    "customer_id": "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10",
    "last_name": "Room 007",
    "login": "aurora-007",
    "password": "50918342",
    "password_revealed_at": "2026-11-28T10:05:00Z",
    "error": None,
}


class CustomerBatch(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BATCH_EXAMPLE]})

    id: str = Field(examples=["7d3b8a70-2f5e-4c8a-9b61-1e2f3a4b5c6d"])
    status: Literal["queued", "running", "completed"]
    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    first_name: str
    last_name_prefix: str
    login_prefix: str | None
    first_number: int
    count: int
    digits: int
    created: int = Field(description="Items whose customer was created so far.")
    failed: int = Field(description="Items that could not be created (see their error).")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class CustomerBatchItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ITEM_EXAMPLE]})

    number: int
    status: Literal["created", "failed"]
    customer_id: str | None
    last_name: str = Field(examples=["Room 007"])
    login: str | None = Field(examples=["aurora-007"])
    password: str | None = Field(
        description="The generated password, in the first answer that lists this item only; "
        "null ever after (reset the customer's password to get a new one).",
        examples=["50918342"],
    )
    password_revealed_at: datetime | None
    error: str | None


class CustomerBatchItemPage(Page[CustomerBatchItem]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [ITEM_EXAMPLE], "next_cursor": "bC-0YIIjd4VbN10"}]
        }
    )
