"""Internal HTTP API of the activity service (called by the gateway only).

After a customer's erasure every per-customer list answers empty (200), like for a customer
that never had any activity. Every write runs once per `Idempotency-Key`
(services/runtime/idempotency.py).
"""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import devices, recordings, saved_items, timeline
from services.activity.config import ActivitySettings
from services.activity.schemas import (
    DevicePage,
    DeviceStats,
    RecordingPage,
    SavedItemPage,
)
from services.contracts.timeline import ServiceTimeline
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.paging import Cursor, Limit
from services.runtime.service_app import Runtime, RuntimeDep

router = APIRouter(tags=["activity"])

ProfileFilter = Annotated[str | None, Query(min_length=1, max_length=100)]
ItemId = Annotated[str, Path(min_length=1, max_length=100)]


def _offline_after(rt: Runtime) -> timedelta:
    return timedelta(seconds=rt.settings_as(ActivitySettings).device_offline_after_seconds)


@router.get("/customers/{customer_id}/devices", response_model=DevicePage)
async def list_devices(customer_id: str, rt: RuntimeDep) -> DevicePage:
    """The customer's bound devices, how many may be bound and the policy beyond that."""
    async with rt.db.sessions() as session:
        return await devices.list_devices(session, customer_id, offline_after=_offline_after(rt))


@router.delete("/customers/{customer_id}/devices/{device_id}", status_code=204)
async def unbind_device(
    customer_id: str, device_id: ItemId, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    """Unbind a device: it stops counting against the limit and the app is logged out."""

    async def work(session: AsyncSession) -> Answer:
        await devices.unbind(session, rt.outbox, customer_id, device_id)
        return Answer(None, 204)

    return await once(work)


@router.get("/customers/{customer_id}/favorites", response_model=SavedItemPage)
async def list_favorites(
    customer_id: str,
    rt: RuntimeDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SavedItemPage:
    async with rt.db.sessions() as session:
        return await saved_items.list_items(
            session, customer_id, "favorites", profile_id=profile_id, limit=limit, cursor=cursor
        )


@router.get("/customers/{customer_id}/watchlist", response_model=SavedItemPage)
async def list_watchlist(
    customer_id: str,
    rt: RuntimeDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SavedItemPage:
    async with rt.db.sessions() as session:
        return await saved_items.list_items(
            session, customer_id, "watchlist", profile_id=profile_id, limit=limit, cursor=cursor
        )


@router.delete("/customers/{customer_id}/favorites/{item_id}", status_code=204)
async def remove_favorite(
    customer_id: str, item_id: ItemId, rt: RuntimeDep, once: WriteOnceDep
) -> Response:

    async def work(session: AsyncSession) -> Answer:
        await saved_items.remove_by_id(session, rt.outbox, customer_id, "favorites", item_id)
        return Answer(None, 204)

    return await once(work)


@router.delete("/customers/{customer_id}/watchlist/{item_id}", status_code=204)
async def remove_watchlist_item(
    customer_id: str, item_id: ItemId, rt: RuntimeDep, once: WriteOnceDep
) -> Response:

    async def work(session: AsyncSession) -> Answer:
        await saved_items.remove_by_id(session, rt.outbox, customer_id, "watchlist", item_id)
        return Answer(None, 204)

    return await once(work)


@router.get("/customers/{customer_id}/recordings", response_model=RecordingPage)
async def list_recordings(
    customer_id: str,
    rt: RuntimeDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RecordingPage:
    async with rt.db.sessions() as session:
        return await recordings.list_recordings(
            session, customer_id, profile_id=profile_id, limit=limit, cursor=cursor
        )


@router.delete("/customers/{customer_id}/recordings/{recording_id}", status_code=204)
async def remove_recording(
    customer_id: str, recording_id: ItemId, rt: RuntimeDep, once: WriteOnceDep
) -> Response:

    async def work(session: AsyncSession) -> Answer:
        await recordings.remove_by_id(session, rt.outbox, customer_id, recording_id)
        return Answer(None, 204)

    return await once(work)


@router.get("/customers/{customer_id}/timeline", response_model=ServiceTimeline)
async def customer_timeline(
    customer_id: str, rt: RuntimeDep, limit: Limit = 200
) -> ServiceTimeline:
    """Devices first connected or refused, items saved, recordings scheduled and finished."""
    async with rt.db.sessions() as session:
        return await timeline.timeline(session, customer_id, limit=limit)


@router.get("/stats", response_model=DeviceStats)
async def stats(rt: RuntimeDep) -> DeviceStats:
    async with rt.db.sessions() as session:
        return await devices.stats(session, offline_after=_offline_after(rt))
