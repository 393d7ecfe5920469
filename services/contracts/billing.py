"""Events of the billing service on `billing.events` (key: customer id)."""

from datetime import datetime
from typing import Literal

from services.contracts.common import Currency, Money
from services.contracts.envelope import EventData

SubscriptionStatus = Literal["pending", "trial", "active", "expired", "cancelled"]
SubscriptionAction = Literal["opened", "renewed", "changed"]


class SubscriptionActivatedV1(EventData):
    """A subscription was opened, renewed or changed; carries the customer's new summary."""

    event_type = "subscription.activated.v1"

    customer_id: str
    subscription_id: str
    order_id: str | None
    action: SubscriptionAction
    webshop_id: str
    product_id: str
    plan_id: str
    extra_product_ids: list[str]
    status: SubscriptionStatus
    starts_at: datetime | None
    expires_at: datetime | None
    max_devices: int


class SubscriptionRejectedV1(EventData):
    """An order could not be turned into a subscription (unknown plan, not sold by the webshop)."""

    event_type = "subscription.rejected.v1"

    customer_id: str
    order_id: str
    reason: str


class TransactionRecordedV1(EventData):
    event_type = "transaction.recorded.v1"

    customer_id: str
    transaction_id: str
    kind: Literal["charge", "payment", "refund", "credit", "adjustment"]
    amount: Money
    currency: Currency
    order_id: str | None
    recorded_at: datetime
