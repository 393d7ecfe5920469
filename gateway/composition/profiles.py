"""Profiles through the gateway: the customers service owns them."""

from typing import Any

from pydantic import TypeAdapter

from gateway.downstream import Downstream, parse_as, segment
from gateway.schemas.profiles import ProfileCreate, ProfileList, ProfilePublic, ProfileUpdate
from services.runtime.problems import Problem

_PROFILE = TypeAdapter(ProfilePublic)
_LIST = TypeAdapter(ProfileList)


def _path(customer_id: str, profile_id: str | None = None) -> str:
    base = f"/customers/{segment(customer_id)}/profiles"
    return base if profile_id is None else f"{base}/{segment(profile_id)}"


async def list_profiles(downstream: Downstream, customer_id: str) -> ProfileList:
    data = await downstream.call("customers", "GET", _path(customer_id))
    return parse_as(_LIST, data, "customers")


async def find_profile(downstream: Downstream, customer_id: str, profile_id: str) -> ProfilePublic:
    """The profile as it is now (the audit's `before`); 404 if the account has no such one."""
    for profile in (await list_profiles(downstream, customer_id)).items:
        if profile.id == profile_id:
            return profile
    raise Problem(404, "Profile not found", f"no profile {profile_id} for this customer")


async def create_profile(
    downstream: Downstream, customer_id: str, payload: ProfileCreate
) -> ProfilePublic:
    data = await downstream.call(
        "customers", "POST", _path(customer_id), json_body=payload.model_dump(mode="json")
    )
    return parse_as(_PROFILE, data, "customers")


async def update_profile(
    downstream: Downstream, customer_id: str, profile_id: str, payload: ProfileUpdate
) -> ProfilePublic:
    # Only what the caller sent: an absent field stays, an explicit null PIN removes it.
    body: dict[str, Any] = payload.model_dump(mode="json", exclude_unset=True)
    path = _path(customer_id, profile_id)
    data = await downstream.call("customers", "PATCH", path, json_body=body)
    return parse_as(_PROFILE, data, "customers")


async def delete_profile(downstream: Downstream, customer_id: str, profile_id: str) -> None:
    await downstream.call("customers", "DELETE", _path(customer_id, profile_id))
