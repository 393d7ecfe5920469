"""Events of the billing service on `billing.events` (key: customer id)."""

from datetime import datetime
from typing import Literal

from services.contracts.common import Currency, Money
from services.contracts.envelope import EventData
from services.contracts.webshop import RejectionCode

SubscriptionStatus = Literal["pending", "trial", "active", "expired", "cancelled"]
SubscriptionAction = Literal[
    "opened",  # a new subscription (operator sale or first webshop order)
    "renewed",  # same product, plan length added
    "changed",  # another product/plan (now, or scheduled change taking effect at expiry)
    "change_scheduled",  # a change that starts at the current expiry was booked
    "extended",  # expiry set to an absolute date by an operator
    "extra_added",
    "extra_removed",
    "started",  # a product that starts on first login got its first device connection
    "refunded",  # a refund shortened the period
    "cancel_scheduled",  # cancel at period end was booked; still usable until expires_at
]
DevicePolicy = Literal["reject", "evict_oldest"]


class SubscriptionActivatedV1(EventData):
    """A subscription was opened or changed in any way that leaves it usable (see `action`).

    Carries the whole new summary, so a consumer never needs the previous event.
    """

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
    # What activity does with a connection beyond max_devices; None = activity's default.
    device_policy: DevicePolicy | None = None
    # A product that starts on first login stays pending until the first device connection.
    starts_on_first_login: bool = False


class SubscriptionRejectedV1(EventData):
    """An order could not be turned into a subscription (not sold by the webshop, wrong price or
    currency); customers passes code and reason on to the webshop."""

    event_type = "subscription.rejected.v1"

    customer_id: str
    order_id: str
    reason: str
    # Added after the first release: older events carry only `reason`.
    code: RejectionCode = "not_for_sale"


class TransactionRecordedV1(EventData):
    event_type = "transaction.recorded.v1"

    customer_id: str
    transaction_id: str
    kind: Literal["charge", "payment", "refund", "credit", "adjustment"]
    amount: Money
    currency: Currency
    order_id: str | None
    recorded_at: datetime


class SubscriptionCancelledV1(EventData):
    """The subscription ended now by an operator's cancel (cancel at period end -> expired)."""

    event_type = "subscription.cancelled.v1"

    customer_id: str
    subscription_id: str
    product_id: str
    cancelled_at: datetime
    reason: str | None = None


class SubscriptionExpiringV1(EventData):
    """Sent once per subscription period, a configurable number of days before expiry."""

    event_type = "subscription.expiring.v1"

    customer_id: str
    subscription_id: str
    product_id: str
    expires_at: datetime
    days_left: int


class SubscriptionExpiredV1(EventData):
    event_type = "subscription.expired.v1"

    customer_id: str
    subscription_id: str
    product_id: str
    expired_at: datetime
