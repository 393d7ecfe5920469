"""Response shapes of the activity service's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.contracts.apps import DeviceKind, ItemType
from services.runtime.paging import Page

RecordingState = Literal["scheduled", "recording", "completed", "failed"]


class DevicePublic(BaseModel):
    id: str
    customer_id: str
    kind: DeviceKind
    model: str | None
    os: str | None
    app_version: str | None
    ip: str | None
    online: bool
    first_seen_at: datetime
    connected_at: datetime
    last_seen_at: datetime


class DevicePage(Page[DevicePublic]):
    max_devices: int | None
    device_policy: str | None


class SavedItemPublic(BaseModel):
    id: str
    customer_id: str
    profile_id: str
    item_type: ItemType
    item_id: str
    title: str | None
    added_at: datetime


class SavedItemPage(Page[SavedItemPublic]):
    """Favorites or watchlist items, newest first."""


class RecordingPublic(BaseModel):
    id: str
    customer_id: str
    profile_id: str
    channel_id: str
    programme_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    state: RecordingState
    size_bytes: int | None
    failure_reason: str | None
    scheduled_at: datetime
    finished_at: datetime | None


class RecordingPage(Page[RecordingPublic]):
    """Recordings, latest start first."""


class DeviceStats(BaseModel):
    devices_online: int
    devices_total: int
