"""A customer's devices, favorites, watchlist and recordings; operators unbind devices and
remove items (each removal audited)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gateway.audit import AuditDep
from gateway.composition import activity
from gateway.composition.activity import SavedList
from gateway.deps import DownstreamDep
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.customers import CustomerId
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.activity import BoundDevicePage, RecordingPage, SavedItemPage
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from services.runtime.paging import Cursor, Limit

router = APIRouter(prefix=f"{API_PREFIX}/customers/{{customer_id}}", tags=["activity"])

ItemId = Annotated[str, Path(min_length=1, max_length=100)]
ProfileFilter = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Only this profile's items.")
]

_READ_ERRORS = problem_responses(*AUTH_ERRORS, 422, 502, 503)
_REMOVE_ERRORS = problem_responses(*AUTH_ERRORS, 404, 502, 503)


@router.get("/devices", response_model=BoundDevicePage, responses=_READ_ERRORS)
async def list_devices(
    customer_id: CustomerId, _: CanReadCustomers, downstream: DownstreamDep
) -> BoundDevicePage:
    """The devices bound to the customer, online or not, with the limit and its policy.

    A device binds on its first accepted connection and counts against `max_devices` until an
    operator unbinds it or a newer device evicts it (policy evict_oldest, or a lower limit).
    """
    return await activity.list_devices(downstream, customer_id)


@router.delete("/devices/{device_id}", status_code=204, responses=_REMOVE_ERRORS)
async def unbind_device(
    customer_id: CustomerId,
    device_id: ItemId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Response:
    """Unbind a device: it no longer counts against the limit, and the app gets
    `device.logout.v1` (reason unbound_by_operator) on `apps.commands`. 404 if not bound."""
    async with audit.record(
        "device.unbind", customer_id=customer_id, before={"device_id": device_id}
    ) as entry:
        await activity.unbind_device(downstream, customer_id, device_id)
        entry.status_code = 204
    return Response(status_code=204)


async def _list_saved(
    downstream: DownstreamDep,
    customer_id: str,
    list_name: SavedList,
    profile_id: str | None,
    limit: int,
    cursor: str | None,
) -> SavedItemPage:
    return await activity.list_saved(
        downstream, customer_id, list_name, profile_id=profile_id, limit=limit, cursor=cursor
    )


@router.get("/favorites", response_model=SavedItemPage, responses=_READ_ERRORS)
async def list_favorites(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SavedItemPage:
    """Favorite channels, movies and series, newest first (pass `next_cursor` back)."""
    return await _list_saved(downstream, customer_id, "favorites", profile_id, limit, cursor)


@router.get("/watchlist", response_model=SavedItemPage, responses=_READ_ERRORS)
async def list_watchlist(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SavedItemPage:
    """The watchlist, newest first (pass `next_cursor` back)."""
    return await _list_saved(downstream, customer_id, "watchlist", profile_id, limit, cursor)


async def _remove_saved(
    downstream: DownstreamDep,
    audit: AuditDep,
    customer_id: str,
    list_name: SavedList,
    item_id: str,
) -> Response:
    async with audit.record(
        f"{list_name}.remove", customer_id=customer_id, before={"id": item_id}
    ) as entry:
        await activity.remove_saved(downstream, customer_id, list_name, item_id)
        entry.status_code = 204
    return Response(status_code=204)


@router.delete("/favorites/{item_id}", status_code=204, responses=_REMOVE_ERRORS)
async def remove_favorite(
    customer_id: CustomerId,
    item_id: ItemId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Response:
    """Remove a favorite by the `id` the list shows; the customer's apps get
    `favorite.remove.v1` on `apps.commands`. 404 if it is not there."""
    return await _remove_saved(downstream, audit, customer_id, "favorites", item_id)


@router.delete("/watchlist/{item_id}", status_code=204, responses=_REMOVE_ERRORS)
async def remove_watchlist_item(
    customer_id: CustomerId,
    item_id: ItemId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Response:
    """Remove a watchlist entry by the `id` the list shows; the customer's apps get
    `watchlist.remove.v1` on `apps.commands`. 404 if it is not there."""
    return await _remove_saved(downstream, audit, customer_id, "watchlist", item_id)


@router.get("/recordings", response_model=RecordingPage, responses=_READ_ERRORS)
async def list_recordings(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    profile_id: ProfileFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RecordingPage:
    """Recordings, latest start first; `state` is scheduled, recording, completed or failed."""
    return await activity.list_recordings(
        downstream, customer_id, profile_id=profile_id, limit=limit, cursor=cursor
    )


@router.delete("/recordings/{recording_id}", status_code=204, responses=_REMOVE_ERRORS)
async def remove_recording(
    customer_id: CustomerId,
    recording_id: ItemId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Response:
    """Remove a recording from the customer's list; the customer's apps get
    `recording.delete.v1` on `apps.commands`. 404 if it is not there."""
    async with audit.record(
        "recording.remove", customer_id=customer_id, before={"recording_id": recording_id}
    ) as entry:
        await activity.remove_recording(downstream, customer_id, recording_id)
        entry.status_code = 204
    return Response(status_code=204)
