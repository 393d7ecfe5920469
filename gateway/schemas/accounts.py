"""Shapes of sign-in, the caller's identity, operators and API keys."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from gateway.identity.password_policy import MAX_LENGTH, MIN_LENGTH, password_problem
from gateway.identity.permissions import Permission, Role
from gateway.schemas import examples

PrincipalKind = Literal["operator", "api_key"]


class Token(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2ln",
                    "token_type": "bearer",
                    "expires_in": 1800,
                    "refresh_token": "tvcmr_Q2hhbmdlIG1lIG9uIGV2ZXJ5IHVzZQ",
                    "refresh_expires_in": 1209600,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])
    refresh_token: str = Field(
        description="Exchange it (grant_type=refresh_token) for a new pair; good for one use."
    )
    refresh_expires_in: int = Field(
        description="Seconds until the refresh token expires.", examples=[1209600]
    )


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "operator",
                    "id": "6c1f6d2e-3f4b-4a55-9c1e-0d2b7a9e4f10",
                    "name": "jane",
                    "role": "support",
                    "permissions": ["catalog:read", "customers:read", "tickets:write"],
                }
            ]
        }
    )

    kind: PrincipalKind
    id: str
    name: str = Field(description="The operator's username or the API key's name.")
    role: Role
    permissions: list[Permission]


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        pattern=r"^[A-Za-z0-9._@-]{3,64}$",
        examples=["jane"],
        description="Unique ignoring case: 'Jane' and 'jane' are one operator.",
    )
    password: str = Field(
        max_length=MAX_LENGTH,
        description=f"At least {MIN_LENGTH} characters, not the username, not a common password.",
    )
    role: Role = Field(examples=["operator"])

    @field_validator("password")
    @classmethod
    def _strong_password(cls, value: str, info: ValidationInfo) -> str:
        problem = password_problem(value, username=info.data.get("username"))
        if problem:
            raise ValueError(problem)
        return value


class OperatorPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.OPERATOR]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [examples.API_KEY]})

    id: str
    name: str
    prefix: str = Field(description="The key's visible start.", examples=["tvcm_1a2b3c4d"])
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.API_KEY_CREATED]})

    key: str | None = Field(
        description="Send as X-API-Key. Shown in this answer once and never again (null in the "
        "answer to a retried Idempotency-Key)."
    )


class OperatorUpdate(BaseModel):
    """What an admin changes about an operator; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "support", "disabled": False}]}
    )

    role: Role | None = None
    disabled: StrictBool | None = Field(
        default=None, description="A disabled operator cannot sign in; their sessions end."
    )
    password: str | None = Field(
        default=None,
        max_length=MAX_LENGTH,
        description=f"At least {MIN_LENGTH} characters, not a common password; ends their "
        "sessions.",
    )

    @field_validator("password")
    @classmethod
    def _strong_password(cls, value: str | None) -> str | None:
        problem = password_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value
