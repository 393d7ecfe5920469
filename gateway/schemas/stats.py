"""The dashboard's figures: one section per service's GET /stats, and the consumer lag."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from gateway.schemas.details import SectionOk, SectionUnavailable


class DayCount(BaseModel):
    day: date
    count: int


class CustomerStats(BaseModel):
    by_status: dict[str, int] = Field(examples=[{"pending": 1, "active": 12, "expired": 3}])
    new_per_day: list[DayCount] = Field(description="Last 30 UTC days.")


class DayRevenue(BaseModel):
    day: date
    currency: str
    amount: Decimal = Field(description="Decimal string.")


class BillingStats(BaseModel):
    revenue_per_day: list[DayRevenue] = Field(
        description="Last 30 UTC days, per currency: what was sold (charges less credits), "
        "on the day it was sold, paid yet or not."
    )
    active_subscriptions: int = Field(description="Running subscriptions: active and trial.")
    subscriptions_by_status: dict[str, int] = Field(
        default_factory=dict, examples=[{"active": 39, "trial": 2, "expired": 5}]
    )
    expiring_soon: int = Field(
        default=0, description="Running subscriptions expiring within `expiring_soon_days`."
    )
    expiring_soon_days: int = 7
    ended_recently: int = Field(
        default=0,
        description="Subscriptions that expired or were cancelled within `ended_recently_days` "
        "(churn: ended_recently / (active_subscriptions + ended_recently)).",
    )
    ended_recently_days: int = 30
    trial_customers: int = Field(default=0, description="Customers ever sold a trial plan.")
    trial_converted: int = Field(
        default=0, description="Of those, how many now run a regular product."
    )


class TicketStats(BaseModel):
    by_status: dict[str, int]
    open_tickets: int


class ActivityStats(BaseModel):
    devices_online: int
    devices_total: int


class PartitionLag(BaseModel):
    topic: str = Field(description="Without KAFKA_TOPIC_PREFIX.")
    partition: int
    committed: int
    end: int
    lag: int


class ServiceLag(BaseModel):
    service: str
    group_id: str
    lag: int = Field(description="Records not yet consumed, over every partition.")
    partitions: list[PartitionLag]


STATS_EXAMPLE: JsonDict = {
    "generated_at": "2026-11-28T22:00:00Z",
    "customers": {
        "status": "ok",
        "data": {
            "by_status": {"pending": 2, "trial": 1, "active": 40, "expired": 5, "disabled": 1},
            "new_per_day": [{"day": "2026-11-28", "count": 4}],
        },
    },
    "billing": {
        "status": "ok",
        "data": {
            "revenue_per_day": [{"day": "2026-11-28", "currency": "EUR", "amount": "59.97"}],
            "active_subscriptions": 41,
            "subscriptions_by_status": {"active": 39, "trial": 2, "expired": 5},
            "expiring_soon": 3,
            "expiring_soon_days": 7,
            "ended_recently": 2,
            "ended_recently_days": 30,
            "trial_customers": 4,
            "trial_converted": 1,
        },
    },
    "tickets": {
        "status": "ok",
        "data": {
            "by_status": {"open": 3, "pending": 1, "resolved": 7, "closed": 20},
            "open_tickets": 3,
        },
    },
    "activity": {
        "status": "unavailable",
        "reason": "the activity service is unavailable: no answer within 2 s",
    },
    "consumer_lag": {
        "status": "ok",
        "data": [
            {
                "service": "billing",
                "group_id": "billing",
                "lag": 2,
                "partitions": [
                    {
                        "topic": "customers.events",
                        "partition": 0,
                        "committed": 40,
                        "end": 42,
                        "lag": 2,
                    }
                ],
            }
        ],
    },
}


class Stats(BaseModel):
    """Each section is `{"status": "ok", "data": ...}` or `{"status": "unavailable", "reason"}`."""

    model_config = ConfigDict(json_schema_extra={"examples": [STATS_EXAMPLE]})

    generated_at: datetime
    customers: SectionOk[CustomerStats] | SectionUnavailable
    billing: SectionOk[BillingStats] | SectionUnavailable
    tickets: SectionOk[TicketStats] | SectionUnavailable
    activity: SectionOk[ActivityStats] | SectionUnavailable
    consumer_lag: SectionOk[list[ServiceLag]] | SectionUnavailable
