"""The customer's timeline: what each service answers on GET /customers/{id}/timeline, and the
gateway's merge of the four. One model set, so a service and the gateway cannot drift apart."""

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceName = Literal["customers", "billing", "tickets", "activity"]


class TimelineItem(BaseModel):
    at: datetime
    service: ServiceName
    kind: str = Field(examples=["subscription.renewed"])
    summary: str = Field(examples=["Subscription renewed until 2027-01-28"])
    ref: str | None = Field(description="Id of the thing it is about, if any.")


class ServiceTimeline(BaseModel):
    """One service's answer: its `limit` newest items (each of its sources read newest first up
    to `limit`, then merged). One page: there is no cursor."""

    items: list[TimelineItem]
    next_cursor: None = None

    @classmethod
    def newest_first(cls, items: Iterable[TimelineItem], limit: int) -> "ServiceTimeline":
        # sorted() is stable: items of one instant keep the order they were given in.
        return cls(items=sorted(items, key=lambda item: item.at, reverse=True)[:limit])


class Timeline(ServiceTimeline):
    """The gateway's answer: the services' items merged newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "at": "2026-11-28T10:00:01Z",
                            "service": "billing",
                            "kind": "subscription.opened",
                            "summary": "Basic TV on the 1-month plan until 2026-12-28",
                            "ref": "sub-1",
                        },
                        {
                            "at": "2026-11-28T10:00:00Z",
                            "service": "customers",
                            "kind": "customer.created",
                            "summary": "Customer created by an operator",
                            "ref": "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10",
                        },
                    ],
                    "next_cursor": None,
                    "unavailable": ["tickets"],
                }
            ]
        }
    )

    items: list[TimelineItem] = Field(description="Newest first, across the services.")
    unavailable: list[ServiceName] = Field(
        description="Services that did not answer in time or failed; their events are missing.",
        examples=[["tickets"]],
    )
