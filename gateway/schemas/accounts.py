"""Shapes of sign-in, the caller's identity, operators and API keys."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.permissions import Permission, Role
from gateway.settings import MIN_ADMIN_PASSWORD_LENGTH

PrincipalKind = Literal["operator", "api_key"]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])


class Me(BaseModel):
    kind: PrincipalKind
    id: str
    name: str = Field(description="The operator's username or the API key's name.")
    role: Role
    permissions: list[Permission]


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9._@-]{3,64}$", examples=["jane"])
    password: str = Field(min_length=MIN_ADMIN_PASSWORD_LENGTH, max_length=128)
    role: Role = Field(examples=["operator"])


class OperatorPublic(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["ops dashboard"])
    role: Role = Field(default=Role.VIEWER, examples=["viewer"])


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's visible start.", examples=["tvcm_1a2b3c4d"])
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="Send as X-API-Key. Shown in this answer once and never again.")
