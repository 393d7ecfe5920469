"""The activity service as the gateway calls it: a customer's devices, favorites, watchlist
and recordings, and the operator's removals."""

from typing import Literal

from pydantic import BaseModel

from gateway.clients.base import CustomerTimelineClient, page_params, segment
from gateway.schemas.activity import (
    BoundDevice,
    BoundDevicePage,
    Recording,
    RecordingPage,
    SavedItem,
    SavedItemPage,
)
from gateway.schemas.stats import ActivityStats
from services.activity import schemas as service

SavedList = Literal["favorites", "watchlist"]


def _customer(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}"


def _filter(profile_id: str | None, limit: int, cursor: str | None) -> list[tuple[str, str | int]]:
    params = page_params(limit, cursor)
    if profile_id:
        params.append(("profile_id", profile_id))
    return params


class ActivityClient(CustomerTimelineClient):
    service = "activity"

    async def list_devices(self, customer_id: str) -> BoundDevicePage:
        return await self._call("GET", f"{_customer(customer_id)}/devices", BoundDevicePage)

    async def unbind_device(self, customer_id: str, device_id: str) -> None:
        path = f"{_customer(customer_id)}/devices/{segment(device_id)}"
        await self._call_no_content("DELETE", path)

    async def list_saved(
        self,
        customer_id: str,
        list_name: SavedList,
        *,
        profile_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> SavedItemPage:
        path = f"{_customer(customer_id)}/{list_name}"
        params = _filter(profile_id, limit, cursor)
        return await self._call("GET", path, SavedItemPage, params=params)

    async def remove_saved(self, customer_id: str, list_name: SavedList, item_id: str) -> None:
        path = f"{_customer(customer_id)}/{list_name}/{segment(item_id)}"
        await self._call_no_content("DELETE", path)

    async def list_recordings(
        self, customer_id: str, *, profile_id: str | None, limit: int, cursor: str | None
    ) -> RecordingPage:
        path = f"{_customer(customer_id)}/recordings"
        params = _filter(profile_id, limit, cursor)
        return await self._call("GET", path, RecordingPage, params=params)

    async def remove_recording(self, customer_id: str, recording_id: str) -> None:
        path = f"{_customer(customer_id)}/recordings/{segment(recording_id)}"
        await self._call_no_content("DELETE", path)

    async def stats(self) -> ActivityStats:
        return await self._call("GET", "/stats", ActivityStats)


# Each shape the gateway repeats from the activity service, beside its own model:
# gateway/tests/test_client_shapes.py fails when the two differ (a field renamed on one side).
MIRRORS: dict[type[BaseModel], type[BaseModel]] = {
    BoundDevice: service.DevicePublic,
    BoundDevicePage: service.DevicePage,
    SavedItem: service.SavedItemPublic,
    SavedItemPage: service.SavedItemPage,
    Recording: service.RecordingPublic,
    RecordingPage: service.RecordingPage,
    ActivityStats: service.DeviceStats,
}
