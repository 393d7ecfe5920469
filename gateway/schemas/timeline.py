"""The customer's timeline, merged from every service."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ServiceName = Literal["customers", "billing", "tickets", "activity"]


class TimelineItem(BaseModel):
    at: datetime
    service: ServiceName
    kind: str = Field(examples=["subscription.renewed"])
    summary: str = Field(examples=["Subscription renewed until 2027-01-28"])
    ref: str | None = Field(description="Id of the thing it is about, if any.")


class ServiceTimeline(BaseModel):
    """One service's answer to GET /customers/{id}/timeline."""

    items: list[TimelineItem]
    next_cursor: str | None = None


class Timeline(BaseModel):
    items: list[TimelineItem] = Field(description="Newest first, across the services.")
    next_cursor: str | None = None
    unavailable: list[ServiceName] = Field(
        description="Services that did not answer in time or failed; their events are missing.",
        examples=[["tickets"]],
    )
