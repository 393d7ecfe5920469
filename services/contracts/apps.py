"""The TV apps' topics: events they report on `apps.events`, commands to them on `apps.commands`.

Both are keyed by customer id. Apps are outside our control, so every field is validated and a
message that fails goes to the topic's dead-letter topic.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.contracts.envelope import EventData
from services.contracts.profiles import Avatar, ProfileName, ProfilePin

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


# An app creates, renames and deletes profiles on the TV and reports it here; the customers
# service owns profiles, applies the operator's rules (at most 10 per account, names unique
# ignoring case and accents, a PIN of 4 to 8 digits, never the last one deleted) and
# dead-letters what breaks them. What it accepts it announces on customers.events.
#
# The app chooses the profile's id (a UUID) so that it can save favorites to it at once. These
# share their types with the customers service's profile events; the topic tells them apart.
_PROFILE_ID = Field(
    pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    description="A UUID the app chose, lower case.",
)


class AppProfileCreatedV1(EventData):
    event_type = "profile.created.v1"

    customer_id: str = _ID
    profile_id: str = _PROFILE_ID
    name: ProfileName
    kids: bool = False
    # The PIN travels once, from the app to the customers service, which keeps only its hash.
    pin: ProfilePin | None = None
    avatar: Avatar = "default"
    at: datetime


class AppProfileUpdatedV1(EventData):
    """A field that is null or absent stays as it is; `remove_pin` removes the PIN. (Null is
    not "remove" here, unlike the operator's PATCH: serializers write absent fields as null.)"""

    event_type = "profile.updated.v1"

    customer_id: str = _ID
    profile_id: str = _PROFILE_ID
    name: ProfileName | None = None
    kids: bool | None = None
    pin: ProfilePin | None = None
    remove_pin: bool = False
    avatar: Avatar | None = None
    at: datetime


class AppProfileDeletedV1(EventData):
    event_type = "profile.deleted.v1"

    customer_id: str = _ID
    profile_id: str = _PROFILE_ID
    at: datetime


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


# What an operator removed on the server, for the apps to remove too: one command per kind of
# thing, named as the app's own report of it in the imperative, so an app handles each by the
# code that already removes it locally. Removing what the app no longer has is a no-op for it.


class FavoriteRemoveV1(EventData):
    event_type = "favorite.remove.v1"

    customer_id: str
    profile_id: str
    item_type: ItemType
    item_id: str


class WatchlistRemoveV1(EventData):
    event_type = "watchlist.remove.v1"

    customer_id: str
    profile_id: str
    item_type: ItemType
    item_id: str


class RecordingDeleteV1(EventData):
    event_type = "recording.delete.v1"

    customer_id: str
    profile_id: str
    recording_id: str


class ProfileDeleteV1(EventData):
    """The operator deleted the profile: the app drops it with its favorites, watchlist and
    recordings, and switches to another profile if it was the one in use."""

    event_type = "profile.delete.v1"

    customer_id: str
    profile_id: str
