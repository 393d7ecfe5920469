"""Response shapes of the activity service's internal API."""

from datetime import datetime

from pydantic import BaseModel


class DevicePublic(BaseModel):
    id: str
    customer_id: str
    kind: str
    model: str | None
    online: bool
    first_seen_at: datetime
    last_seen_at: datetime


class DevicePage(BaseModel):
    items: list[DevicePublic]
    next_cursor: str | None
    max_devices: int | None
