"""The customer's activity as timeline items, newest first, from the service's own tables."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import Device, DeviceRejection, Recording, SavedItem
from services.contracts.timeline import ServiceTimeline, TimelineItem

_REASONS = {
    "no_active_subscription": "there is no active subscription",
    "account_disabled": "the account is disabled",
    "device_limit_reached": "the device limit was reached",
    "customer_erased": "the customer was erased",
}
_LISTS = {
    "favorites": ("favorite.added", "favorites"),
    "watchlist": ("watchlist.added", "watchlist"),
}


async def timeline(session: AsyncSession, customer_id: str, *, limit: int) -> ServiceTimeline:
    """Each source contributes at most `limit` newest items; the merge keeps the `limit` newest."""
    items: list[TimelineItem] = []
    for device in await session.scalars(
        select(Device)
        .where(Device.customer_id == customer_id)
        .order_by(Device.first_seen_at.desc())
        .limit(limit)
    ):
        name = " ".join(p for p in (device.kind, device.model) if p)
        items.append(
            TimelineItem(
                service="activity",
                at=device.first_seen_at,
                kind="device.connected",
                summary=f"Device {device.id} ({name}) connected for the first time",
                ref=device.id,
            )
        )
    for rejection in await session.scalars(
        select(DeviceRejection)
        .where(DeviceRejection.customer_id == customer_id)
        .order_by(DeviceRejection.rejected_at.desc())
        .limit(limit)
    ):
        items.append(
            TimelineItem(
                service="activity",
                at=rejection.rejected_at,
                kind="device.rejected",
                summary=f"Device {rejection.device_id} ({rejection.kind}) was refused: "
                f"{_REASONS.get(rejection.reason, rejection.reason)}",
                ref=rejection.device_id,
            )
        )
    for saved in await session.scalars(
        select(SavedItem)
        .where(SavedItem.customer_id == customer_id)
        .order_by(SavedItem.added_at.desc())
        .limit(limit)
    ):
        kind, list_label = _LISTS[saved.list_name]
        what = saved.title or f"{saved.item_type} {saved.item_id}"
        items.append(
            TimelineItem(
                service="activity",
                at=saved.added_at,
                kind=kind,
                summary=f"Profile {saved.profile_id} added {what} to the {list_label}",
                ref=saved.id,
            )
        )
    for recording in await session.scalars(
        select(Recording)
        .where(Recording.customer_id == customer_id)
        .order_by(Recording.scheduled_at.desc())
        .limit(limit)
    ):
        items.append(
            TimelineItem(
                service="activity",
                at=recording.scheduled_at,
                kind="recording.scheduled",
                summary=f"Recording of {recording.title} scheduled",
                ref=recording.id,
            )
        )
        if recording.finished_at is not None:
            outcome = (
                f"completed ({recording.size_bytes or 0} bytes)"
                if recording.state == "completed"
                else f"failed: {recording.failure_reason}"
            )
            items.append(
                TimelineItem(
                    service="activity",
                    at=recording.finished_at,
                    kind=f"recording.{recording.state}",
                    summary=f"Recording of {recording.title} {outcome}",
                    ref=recording.id,
                )
            )
    return ServiceTimeline.newest_first(items, limit)
