"""What customers do with the service, as the activity service reports it: devices, favorites,
watchlist and recordings."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from gateway.schemas.common import Page

DeviceKind = Literal["stb", "smart_tv", "mobile", "web"]
ItemType = Literal["channel", "movie", "series"]
RecordingState = Literal["scheduled", "recording", "completed", "failed"]


class BoundDevice(BaseModel):
    id: str = Field(description="The app's device id.", examples=["stb-7f3a"])
    customer_id: str = Field(examples=["0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"])
    kind: DeviceKind = Field(examples=["stb"])
    model: str | None = Field(examples=["X1 4K"])
    os: str | None = Field(examples=["Android TV 12"])
    app_version: str | None = Field(examples=["5.2.0"])
    ip: str | None = Field(examples=["192.0.2.10"])
    online: bool = Field(
        description="Connected and heard from within DEVICE_OFFLINE_AFTER seconds."
    )
    first_seen_at: datetime
    connected_at: datetime = Field(description="The latest connection.")
    last_seen_at: datetime = Field(description="The latest connection or heartbeat.")


class BoundDevicePage(Page[BoundDevice]):
    max_devices: int | None = Field(
        description="How many devices may be bound; null without a subscription.", examples=[2]
    )
    device_policy: str | None = Field(
        description="Beyond the limit: reject or evict_oldest; null = the service's default.",
        examples=["reject"],
    )


class SavedItem(BaseModel):
    id: str = Field(
        description="Stable for this profile and item: pass it to DELETE.",
        examples=["5b0e3c56-3b3c-5a55-9c1e-8f0f64d5e1aa"],
    )
    customer_id: str
    profile_id: str = Field(examples=["p-main"])
    item_type: ItemType = Field(examples=["channel"])
    item_id: str = Field(examples=["ch-42"])
    title: str | None = Field(examples=["News 24"])
    added_at: datetime


class SavedItemPage(Page[SavedItem]):
    pass


class Recording(BaseModel):
    id: str = Field(description="The app's recording id.", examples=["rec-9001"])
    customer_id: str
    profile_id: str = Field(examples=["p-main"])
    channel_id: str = Field(examples=["ch-42"])
    programme_id: str = Field(examples=["prog-777"])
    title: str = Field(examples=["Evening News"])
    starts_at: datetime
    ends_at: datetime
    state: RecordingState = Field(
        description="recording = now within its slot and not yet finished.",
        examples=["completed"],
    )
    size_bytes: int | None = Field(examples=[1073741824])
    failure_reason: str | None = Field(examples=[None])
    scheduled_at: datetime
    finished_at: datetime | None


class RecordingPage(Page[Recording]):
    pass
