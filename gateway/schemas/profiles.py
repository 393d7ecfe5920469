"""Profile shapes: who is watching on an account."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.config import JsonDict

from gateway.schemas.common import Page

Avatar = Literal[
    "default", "bear", "cat", "dog", "fox", "owl", "panda", "penguin", "robot", "rocket", "star"
]
PIN = Field(default=None, pattern=r"^[0-9]{4,8}$", description="4 to 8 digits; stored hashed.")


class ProfileCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Kids", "kids": True, "pin": "1234", "avatar": "owl"}]
        },
    )

    name: str = Field(min_length=1, max_length=40)
    kids: StrictBool = False
    pin: str | None = PIN
    avatar: Avatar = "default"


class ProfileUpdate(BaseModel):
    """Only the fields sent change; `"pin": null` removes the PIN."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Teens", "kids": False}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=40)
    kids: StrictBool | None = None
    pin: str | None = PIN
    avatar: Avatar | None = None


PROFILE_EXAMPLE: JsonDict = {
    "id": "5f0c2a77-3f7b-4d1e-9a51-0d8a2b6c9e11",
    "customer_id": "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10",
    "name": "Kids",
    "kids": True,
    "has_pin": True,
    "avatar": "owl",
    "is_default": False,
    "created_at": "2026-11-28T10:00:00Z",
    "updated_at": "2026-11-28T10:00:00Z",
}


class ProfilePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROFILE_EXAMPLE]})

    id: str = Field(examples=["5f0c2a77-3f7b-4d1e-9a51-0d8a2b6c9e11"])
    customer_id: str
    name: str = Field(examples=["Kids"])
    kids: bool
    has_pin: bool = Field(description="The PIN itself is never shown.")
    avatar: str = Field(examples=["owl"])
    is_default: bool = Field(description="The profile every customer is created with.")
    created_at: datetime
    updated_at: datetime


class ProfileList(Page[ProfilePublic]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [PROFILE_EXAMPLE], "next_cursor": None}]}
    )
