"""Events of the activity service on `activity.events` (key: customer id)."""

from datetime import datetime
from typing import Literal

from services.contracts.envelope import EventData

DeviceRejectionReason = Literal[
    "no_active_subscription", "account_disabled", "device_limit_reached", "customer_erased"
]


class DeviceLimitChangedV1(EventData):
    event_type = "device_limit.changed.v1"

    customer_id: str
    max_devices: int
    changed_at: datetime


class DeviceRegisteredV1(EventData):
    """A device connected for the first time and now counts against the customer's limit."""

    event_type = "device.registered.v1"

    customer_id: str
    device_id: str
    kind: str
    registered_at: datetime


class DeviceRejectedV1(EventData):
    """A device's connection was refused; the app got (or will get) no service."""

    event_type = "device.rejected.v1"

    customer_id: str
    device_id: str
    reason: DeviceRejectionReason
    max_devices: int | None
    rejected_at: datetime


class DeviceUnboundV1(EventData):
    """A device no longer counts against the limit: an operator unbound it or it was evicted."""

    event_type = "device.unbound.v1"

    customer_id: str
    device_id: str
    reason: Literal["unbound_by_operator", "evicted_by_limit"]
    unbound_at: datetime
