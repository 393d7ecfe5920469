"""The apps' favorites, watchlist entries and recordings: applied when their profile is known,
held until it is otherwise (profiles.py says why)."""

from collections.abc import Sequence

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
from services.contracts.envelope import EventData
from services.runtime.consumer import Incoming

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


async def hold_unknown(session: AsyncSession, batch: Sequence[Incoming]) -> list[Incoming]:
    """Hold the reports for a profile not known yet, and what follows a held recording; the
    others are returned, in order, to be applied now.

    The decision to hold is taken under the customer's lock, which learning a profile takes
    too: on PostgreSQL the two run in concurrent transactions (apps.events and
    customers.events are different partitions), and a report checked just before its
    profile's announcement committed would otherwise be held after the held reports were
    released, and wait for nothing. Customers are locked in sorted order, like the devices."""
    pairs = {
        (i.data.customer_id, i.data.profile_id)
        for i in batch
        if isinstance(i.data, PROFILE_REPORTS)
    }
    follow_ups = {
        (i.data.customer_id, i.data.recording_id)
        for i in batch
        if isinstance(i.data, RECORDING_REPORTS)
    }
    known = await profiles.known_among(session, pairs)
    held_recordings = await profiles.held_recordings_among(session, follow_ups)
    doubtful = {c for c, _ in pairs - known} | {c for c, _ in held_recordings}
    if not doubtful:
        return list(batch)
    erased = set()
    for customer_id in sorted(doubtful):
        if (await access.locked_or_new(session, customer_id)).erased:
            erased.add(customer_id)
    # Again under the locks: an announcement may have committed meanwhile.
    known = await profiles.known_among(session, pairs)
    held_recordings = await profiles.held_recordings_among(session, follow_ups)
    now: list[Incoming] = []
    for incoming in batch:
        data = incoming.data
        if isinstance(data, PROFILE_REPORTS):
            pair = (data.customer_id, data.profile_id)
            if pair in known or data.customer_id in erased:
                now.append(incoming)
                continue
            recording_id = None
            if isinstance(data, RecordingScheduledV1):
                recordings.check_slot(data)  # refused now, not when the profile is known
                recording_id = data.recording_id
                held_recordings[(data.customer_id, recording_id)] = data.profile_id
            await profiles.hold(
                session,
                incoming.event,
                customer_id=pair[0],
                profile_id=pair[1],
                recording_id=recording_id,
            )
        elif isinstance(data, RECORDING_REPORTS) and (
            profile_id := held_recordings.get((data.customer_id, data.recording_id))
        ):
            await profiles.hold(
                session,
                incoming.event,
                customer_id=data.customer_id,
                profile_id=profile_id,
                recording_id=data.recording_id,
            )
        else:
            now.append(incoming)
    return now


async def apply(session: AsyncSession, data: EventData) -> None:
    """One report, as a batch would apply it (a held report, once its profile is known)."""
    adding = isinstance(data, FavoriteAddedV1 | WatchlistAddedV1 | RecordingScheduledV1)
    # What an erased customer's apps still report is dropped, not stored again.
    customer_id: str = data.customer_id  # type: ignore[attr-defined]
    if adding and await access.erased_among(session, {customer_id}):
        return
    if isinstance(data, FavoriteAddedV1 | FavoriteRemovedV1):
        await saved_items.apply_changes(session, [("favorites", data)])
    elif isinstance(data, WatchlistAddedV1 | WatchlistRemovedV1):
        await saved_items.apply_changes(session, [("watchlist", data)])
    elif isinstance(data, (RecordingScheduledV1, *RECORDING_REPORTS)):
        await recordings.apply_reports(session, [data])
    else:
        raise TypeError(f"not an item report: {type(data).__name__}")
