"""The TV apps' topics: events they report on `apps.events`, commands to them on `apps.commands`.

Both are keyed by customer id. Apps are outside our control, so every field is validated and a
message that fails goes to the topic's dead-letter topic.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.contracts.envelope import EventData

DeviceKind = Literal["stb", "smart_tv", "mobile", "web"]
ItemType = Literal["channel", "movie", "series"]

_ID = Field(min_length=1, max_length=100)


# ---- apps.events -------------------------------------------------------------------------------


class DeviceConnectedV1(EventData):
    event_type = "device.connected.v1"

    customer_id: str = _ID
    device_id: str = _ID
    kind: DeviceKind
    model: str | None = Field(default=None, max_length=100)
    os: str | None = Field(default=None, max_length=100)
    app_version: str | None = Field(default=None, max_length=50)
    ip: str | None = Field(default=None, max_length=45)
    connected_at: datetime


class DeviceHeartbeatV1(EventData):
    event_type = "device.heartbeat.v1"

    customer_id: str = _ID
    device_id: str = _ID
    ip: str | None = Field(default=None, max_length=45)
    at: datetime


class DeviceDisconnectedV1(EventData):
    event_type = "device.disconnected.v1"

    customer_id: str = _ID
    device_id: str = _ID
    at: datetime


class _ItemEvent(EventData):
    customer_id: str = _ID
    profile_id: str = _ID
    item_type: ItemType
    item_id: str = _ID
    title: str | None = Field(default=None, max_length=300)
    at: datetime


class FavoriteAddedV1(_ItemEvent):
    event_type = "favorite.added.v1"


class FavoriteRemovedV1(_ItemEvent):
    event_type = "favorite.removed.v1"


class WatchlistAddedV1(_ItemEvent):
    event_type = "watchlist.added.v1"


class WatchlistRemovedV1(_ItemEvent):
    event_type = "watchlist.removed.v1"


class RecordingScheduledV1(EventData):
    event_type = "recording.scheduled.v1"

    customer_id: str = _ID
    profile_id: str = _ID
    recording_id: str = _ID
    channel_id: str = _ID
    programme_id: str = _ID
    title: str = Field(min_length=1, max_length=300)
    starts_at: datetime
    ends_at: datetime
    at: datetime


class RecordingCompletedV1(EventData):
    event_type = "recording.completed.v1"

    customer_id: str = _ID
    recording_id: str = _ID
    size_bytes: int = Field(ge=0)
    at: datetime


class RecordingFailedV1(EventData):
    event_type = "recording.failed.v1"

    customer_id: str = _ID
    recording_id: str = _ID
    reason: str = Field(min_length=1, max_length=500)
    at: datetime


class RecordingDeletedV1(EventData):
    event_type = "recording.deleted.v1"

    customer_id: str = _ID
    recording_id: str = _ID
    at: datetime


class MessageReadV1(EventData):
    event_type = "message.read.v1"

    customer_id: str = _ID
    message_id: str = _ID
    device_id: str | None = Field(default=None, max_length=100)
    read_at: datetime


class TicketRepliedV1(EventData):
    """The customer wrote in a ticket from an app; reopens a resolved ticket."""

    event_type = "ticket.replied.v1"

    customer_id: str = _ID
    ticket_id: str = _ID
    body: str = Field(min_length=1, max_length=10000)
    replied_at: datetime


# ---- apps.commands -----------------------------------------------------------------------------


class MessageShowV1(EventData):
    event_type = "message.show.v1"

    customer_id: str
    message_id: str
    device_id: str | None = None
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    # Set when the message is an operator's reply in a ticket: the app answers in that ticket
    # with ticket.replied.v1.
    ticket_id: str | None = None


# The last two answer a refused connection (device.rejected.v1's device_limit_reached and
# no_active_subscription); a refused connection of a disabled or erased account gets
# account_disabled / erased, as its connected devices do.
DeviceLogoutReason = Literal[
    "unbound_by_operator",
    "evicted_by_limit",
    "account_disabled",
    "erased",
    "subscription_ended",
    "rejected_by_limit",
    "no_active_subscription",
]


class DeviceLogoutV1(EventData):
    event_type = "device.logout.v1"

    customer_id: str
    device_id: str
    reason: DeviceLogoutReason
