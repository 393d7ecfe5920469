"""Shape of one audit log entry."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import examples


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.AUDIT_ENTRY]})

    id: int
    at: datetime
    actor: str = Field(description="Operator username or API key name.", examples=["admin"])
    actor_kind: str = Field(examples=["operator"])
    action: str = Field(examples=["customer.create"])
    method: str = Field(examples=["POST"])
    path: str = Field(examples=["/api/v1/customers"])
    customer_id: str | None
    status_code: int | None = Field(
        description="The answer's status; null while the write is under way or if it was cut off."
    )
    before: Any | None
    after: Any | None
