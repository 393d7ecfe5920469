"""The customer's activity as timeline items, newest first, from the service's own tables."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import Device, DeviceRejection, Recording, SavedItem
from services.contracts.timeline import ServiceTimeline
from services.runtime.timeline import TimelineBuilder, newest

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
    items = TimelineBuilder("activity")
    for device in await newest(session, Device, Device.first_seen_at, customer_id, limit):
        name = " ".join(p for p in (device.kind, device.model) if p)
        summary = f"Device {device.id} ({name}) connected for the first time"
        items.add(device.first_seen_at, "device.connected", summary, device.id)
    rejections = await newest(
        session, DeviceRejection, DeviceRejection.rejected_at, customer_id, limit
    )
    for rejection in rejections:
        reason = _REASONS.get(rejection.reason, rejection.reason)
        summary = f"Device {rejection.device_id} ({rejection.kind}) was refused: {reason}"
        items.add(rejection.rejected_at, "device.rejected", summary, rejection.device_id)
    for saved in await newest(session, SavedItem, SavedItem.added_at, customer_id, limit):
        kind, list_label = _LISTS[saved.list_name]
        what = saved.title or f"{saved.item_type} {saved.item_id}"
        summary = f"Profile {saved.profile_id} added {what} to the {list_label}"
        items.add(saved.added_at, kind, summary, saved.id)
    for recording in await newest(session, Recording, Recording.scheduled_at, customer_id, limit):
        title = recording.title
        items.add(
            recording.scheduled_at,
            "recording.scheduled",
            f"Recording of {title} scheduled",
            recording.id,
        )
        outcome = (
            f"completed ({recording.size_bytes or 0} bytes)"
            if recording.state == "completed"
            else f"failed: {recording.failure_reason}"
        )
        summary = f"Recording of {title} {outcome}"
        items.add(recording.finished_at, f"recording.{recording.state}", summary, recording.id)
    return items.newest_first(limit)
