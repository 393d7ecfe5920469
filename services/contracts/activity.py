"""Events of the activity service on `activity.events` (key: customer id)."""

from datetime import datetime

from services.contracts.envelope import EventData


class DeviceLimitChangedV1(EventData):
    event_type = "device_limit.changed.v1"

    customer_id: str
    max_devices: int
    changed_at: datetime
