"""What the TV apps report on apps.events, applied a partition's batch at a time: a fleet sends
thousands of heartbeats a second, so they cost one statement per batch, not one per event."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import access, app_items, devices, recordings, saved_items
from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingFailedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
)
from services.contracts.billing import DevicePolicy
from services.runtime.consumer import Incoming
from services.runtime.outbox import Outbox

DEVICE_EVENTS = (DeviceConnectedV1, DeviceHeartbeatV1, DeviceDisconnectedV1)
SAVED_ITEM_EVENTS = (FavoriteAddedV1, FavoriteRemovedV1, WatchlistAddedV1, WatchlistRemovedV1)
RECORDING_EVENTS = (
    RecordingScheduledV1,
    RecordingCompletedV1,
    RecordingFailedV1,
    RecordingDeletedV1,
)
HANDLED = (*DEVICE_EVENTS, *SAVED_ITEM_EVENTS, *RECORDING_EVENTS)

DeviceEvent = DeviceConnectedV1 | DeviceHeartbeatV1 | DeviceDisconnectedV1
RecordingEvent = (
    RecordingScheduledV1 | RecordingCompletedV1 | RecordingFailedV1 | RecordingDeletedV1
)


async def apply(
    session: AsyncSession,
    outbox: Outbox,
    batch: Sequence[Incoming],
    *,
    default_policy: DevicePolicy,
) -> None:
    """Devices, saved items and recordings are separate tables, so each kind is applied on its
    own; within a kind, each customer's events keep their order. Saved items and recordings
    for a profile not known yet are held first (app_items.hold_unknown)."""
    batch = await app_items.hold_unknown(session, batch)
    by_customer: dict[str, list[DeviceEvent]] = {}
    changes: list[saved_items.Change] = []
    reported: list[RecordingEvent] = []
    for incoming in batch:
        data = incoming.data
        if isinstance(data, DEVICE_EVENTS):
            by_customer.setdefault(data.customer_id, []).append(data)
        elif isinstance(data, FavoriteAddedV1 | FavoriteRemovedV1):
            changes.append(("favorites", data))
        elif isinstance(data, WatchlistAddedV1 | WatchlistRemovedV1):
            changes.append(("watchlist", data))
        elif isinstance(data, RECORDING_EVENTS):
            reported.append(data)
        else:
            raise TypeError(f"apps.events batch got {type(data).__name__}")
    pending = outbox.pending()
    heartbeats: list[DeviceHeartbeatV1] = []
    # Sorted, so two transactions locking several customers take the locks in one order.
    for customer_id, events in sorted(by_customer.items()):
        beats = [e for e in events if isinstance(e, DeviceHeartbeatV1)]
        if len(beats) == len(events):
            heartbeats.extend(beats)
        else:
            # A connect or disconnect among them: decided under the customer's lock, in order.
            await devices.apply_in_order(
                session, pending, customer_id, events, default_policy=default_policy
            )
    await devices.record_heartbeats(session, heartbeats)
    await _saved_items_and_recordings(session, changes, reported)
    await pending.flush(session)


async def _saved_items_and_recordings(
    session: AsyncSession, changes: list[saved_items.Change], reported: list[RecordingEvent]
) -> None:
    # What an erased customer's apps still report is dropped, not stored again.
    adding = {
        e.customer_id for _, e in changes if isinstance(e, FavoriteAddedV1 | WatchlistAddedV1)
    }
    adding |= {e.customer_id for e in reported if isinstance(e, RecordingScheduledV1)}
    erased = await access.erased_among(session, adding)
    await saved_items.apply_changes(
        session,
        [
            (list_name, e)
            for list_name, e in changes
            if e.customer_id not in erased or isinstance(e, FavoriteRemovedV1 | WatchlistRemovedV1)
        ],
    )
    await recordings.apply_reports(
        session,
        [
            e
            for e in reported
            if e.customer_id not in erased or not isinstance(e, RecordingScheduledV1)
        ],
    )
