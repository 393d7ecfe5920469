"""The activity service through the gateway: a customer's devices, favorites, watchlist and
recordings, and the operator's removals."""

from typing import Literal

from pydantic import TypeAdapter

from gateway.downstream import Downstream, parse_as, segment
from gateway.schemas.activity import BoundDevicePage, RecordingPage, SavedItemPage

SavedList = Literal["favorites", "watchlist"]

_DEVICES = TypeAdapter(BoundDevicePage)
_SAVED = TypeAdapter(SavedItemPage)
_RECORDINGS = TypeAdapter(RecordingPage)


def _base(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}"


def _page_params(
    profile_id: str | None, limit: int, cursor: str | None
) -> list[tuple[str, str | int]]:
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if profile_id:
        params.append(("profile_id", profile_id))
    if cursor:
        params.append(("cursor", cursor))
    return params


async def list_devices(downstream: Downstream, customer_id: str) -> BoundDevicePage:
    data = await downstream.call("activity", "GET", f"{_base(customer_id)}/devices")
    return parse_as(_DEVICES, data, "activity")


async def unbind_device(downstream: Downstream, customer_id: str, device_id: str) -> None:
    path = f"{_base(customer_id)}/devices/{segment(device_id)}"
    await downstream.call("activity", "DELETE", path)


async def list_saved(
    downstream: Downstream,
    customer_id: str,
    list_name: SavedList,
    *,
    profile_id: str | None,
    limit: int,
    cursor: str | None,
) -> SavedItemPage:
    data = await downstream.call(
        "activity",
        "GET",
        f"{_base(customer_id)}/{list_name}",
        params=_page_params(profile_id, limit, cursor),
    )
    return parse_as(_SAVED, data, "activity")


async def remove_saved(
    downstream: Downstream, customer_id: str, list_name: SavedList, item_id: str
) -> None:
    path = f"{_base(customer_id)}/{list_name}/{segment(item_id)}"
    await downstream.call("activity", "DELETE", path)


async def list_recordings(
    downstream: Downstream,
    customer_id: str,
    *,
    profile_id: str | None,
    limit: int,
    cursor: str | None,
) -> RecordingPage:
    data = await downstream.call(
        "activity",
        "GET",
        f"{_base(customer_id)}/recordings",
        params=_page_params(profile_id, limit, cursor),
    )
    return parse_as(_RECORDINGS, data, "activity")


async def remove_recording(downstream: Downstream, customer_id: str, recording_id: str) -> None:
    path = f"{_base(customer_id)}/recordings/{segment(recording_id)}"
    await downstream.call("activity", "DELETE", path)
