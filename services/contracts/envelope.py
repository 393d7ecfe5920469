"""The CloudEvents 1.0 envelope (structured JSON mode) that wraps every message on every topic."""

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """Base of every event payload; `event_type` is the versioned CloudEvents `type`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type: ClassVar[str]


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    # The CloudEvents distributed-tracing extension: the W3C trace context of the span that
    # wrote the event, so its consumers' spans join the same trace.
    traceparent: str | None = None
    tracestate: str | None = None

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        source: str,
        subject: str | None,
        event_id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
    ) -> Self:
        return cls(
            id=event_id or str(uuid4()),
            source=source,
            type=data.event_type,
            time=time or datetime.now(UTC),
            subject=subject,
            data=data.model_dump(mode="json"),
            traceparent=traceparent,
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()
