"""The apps' favorites, watchlist entries and recordings: applied when their profile is known,
held until it is otherwise (profiles.py says why)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import access, profiles, recordings, saved_items
from services.contracts.apps import (
    FavoriteAddedV1,
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingFailedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
)
from services.contracts.envelope import CloudEvent, EventData

# Reports that name their profile, and those that name only a recording.
PROFILE_REPORTS = (
    FavoriteAddedV1,
    FavoriteRemovedV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
    RecordingScheduledV1,
)
RECORDING_REPORTS = (RecordingCompletedV1, RecordingFailedV1, RecordingDeletedV1)
HANDLED = (*PROFILE_REPORTS, *RECORDING_REPORTS)


async def receive(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
    """Apply the report, or hold it behind its profile (or its held recording).

    Deciding to hold takes the customer's lock, which learning a profile takes too: on
    PostgreSQL the two run in concurrent transactions (apps.events and customers.events are
    different partitions), and without it a report could be held just after its profile's
    held reports were released, and wait for nothing."""
    if isinstance(data, PROFILE_REPORTS):
        if isinstance(data, RecordingScheduledV1):
            # Refused now, not when the profile becomes known.
            recordings.check_slot(data)
        if not await profiles.is_known(session, data.customer_id, data.profile_id):
            limit = await access.locked_or_new(session, data.customer_id)
            if not limit.erased and not await profiles.is_known(
                session, data.customer_id, data.profile_id
            ):
                recording_id = data.recording_id if isinstance(data, RecordingScheduledV1) else None
                await profiles.hold(
                    session,
                    event,
                    customer_id=data.customer_id,
                    profile_id=data.profile_id,
                    recording_id=recording_id,
                )
                return
        await apply(session, data)
        return
    if isinstance(data, RECORDING_REPORTS):
        # Behind its scheduling if that is held (same customer, same partition: already there).
        if await profiles.held_recording_profile(session, data.customer_id, data.recording_id):
            await access.locked_or_new(session, data.customer_id)
            profile_id = await profiles.held_recording_profile(
                session, data.customer_id, data.recording_id
            )
            if profile_id is not None:
                await profiles.hold(
                    session,
                    event,
                    customer_id=data.customer_id,
                    profile_id=profile_id,
                    recording_id=data.recording_id,
                )
                return
        await apply(session, data)
        return
    raise TypeError(f"not an item report: {type(data).__name__}")


async def apply(session: AsyncSession, data: EventData) -> None:
    # What an erased customer's apps still report is dropped, not stored again.
    adding = isinstance(data, FavoriteAddedV1 | WatchlistAddedV1 | RecordingScheduledV1)
    if adding and await access.erased(session, data.customer_id):  # type: ignore[attr-defined]
        return
    if isinstance(data, FavoriteAddedV1):
        await saved_items.add(session, "favorites", data)
    elif isinstance(data, FavoriteRemovedV1):
        await saved_items.remove(session, "favorites", data)
    elif isinstance(data, WatchlistAddedV1):
        await saved_items.add(session, "watchlist", data)
    elif isinstance(data, WatchlistRemovedV1):
        await saved_items.remove(session, "watchlist", data)
    elif isinstance(data, RecordingScheduledV1):
        await recordings.schedule(session, data)
    elif isinstance(data, RecordingCompletedV1):
        await recordings.complete(session, data)
    elif isinstance(data, RecordingFailedV1):
        await recordings.fail(session, data)
    elif isinstance(data, RecordingDeletedV1):
        await recordings.delete_reported(session, data)
    else:
        raise TypeError(f"not an item report: {type(data).__name__}")
