"""Response shapes of the activity service's internal API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.contracts.apps import DeviceKind, ItemType

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


class DevicePage(BaseModel):
    items: list[DevicePublic]
    next_cursor: str | None
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


class SavedItemPage(BaseModel):
    items: list[SavedItemPublic]
    next_cursor: str | None


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


class RecordingPage(BaseModel):
    items: list[RecordingPublic]
    next_cursor: str | None


class TimelineItem(BaseModel):
    at: datetime
    service: Literal["activity"] = "activity"
    kind: str
    summary: str
    ref: str | None


class Timeline(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = None


class DeviceStats(BaseModel):
    devices_online: int
    devices_total: int
