"""Shapes of a customer's edits and account: the info patch, the account, a password reset."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gateway.schemas import examples
from services.contracts.contact import CustomerInfoPatch


class CustomerUpdate(BaseModel):
    """Only the fields sent change; null clears an optional info field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "info": {"mobile": "+420777000111", "city": "Brno", "country": "CZ"},
                    "webshop_id": "shop-eu",
                }
            ]
        },
    )

    info: CustomerInfoPatch | None = None
    webshop_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Move the customer to another webshop. Refused (422 naming `webshop_id`) "
        "when the webshop is unknown or archived or does not sell the running subscription's "
        "product and plan (see GET .../webshop-move). The subscription follows: from the next "
        "renewal or change it is checked and priced in the new webshop; the period already "
        "paid runs on as sold.",
    )


class AccountPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ACCOUNT]})

    customer_id: str = Field(examples=["0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"])
    login: str = Field(examples=["jane.doe"])
    login_generated: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime | None
    last_login_at: datetime | None = Field(
        description="When a TV app last connected with this account (device.connected)."
    )
    password_reset_at: datetime | None


class AccountUpdate(BaseModel):
    """Disable or enable the account, or change its login.

    Custom logins: 3 to 64 characters, letters, digits and `. _ @ + -` only (no spaces),
    unique ignoring case.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"disabled": True}, {"login": "jane.d"}]}
    )

    disabled: StrictBool | None = None
    login: str | None = Field(default=None, min_length=3, max_length=64)


class PasswordReset(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PASSWORD_RESET]})

    customer_id: str
    password: str | None = Field(
        description="The new generated password, in this answer only; null when the request "
        "repeated an Idempotency-Key (it was shown the first time).",
        examples=["50918342"],
    )
    password_reset_at: datetime
