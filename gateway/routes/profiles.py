"""Profiles of a customer's account: list, create, update, delete (operators write)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from gateway.audit import AuditDep
from gateway.composition import profiles
from gateway.deps import DownstreamDep
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.customers import CustomerId
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.profiles import ProfileCreate, ProfileList, ProfilePublic, ProfileUpdate
from services.runtime.problems import Problem

router = APIRouter(prefix=f"{API_PREFIX}/customers/{{customer_id}}/profiles", tags=["profiles"])

ProfileId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@router.get("", response_model=ProfileList, responses=problem_responses(*AUTH_ERRORS, 404, 503))
async def list_profiles(
    customer_id: CustomerId, _: CanReadCustomers, downstream: DownstreamDep
) -> ProfileList:
    """The account's profiles, oldest first; the first is the default one every customer gets."""
    return await profiles.list_profiles(downstream, customer_id)


@router.post(
    "",
    status_code=201,
    response_model=ProfilePublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422, 503),
)
async def create_profile(
    customer_id: CustomerId,
    payload: ProfileCreate,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ProfilePublic:
    """Add a profile (at most 10 per account, names unique per account). The PIN (4-8 digits)
    is stored hashed and never shown again; `avatar` is one of the pictures the apps ship."""
    async with audit.record("profile.create", customer_id=customer_id) as entry:
        created = await profiles.create_profile(downstream, customer_id, payload)
        entry.after = created.model_dump(mode="json")
        entry.status_code = 201
    return created


@router.patch(
    "/{profile_id}",
    response_model=ProfilePublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422, 503),
)
async def update_profile(
    customer_id: CustomerId,
    profile_id: ProfileId,
    payload: ProfileUpdate,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> ProfilePublic:
    """Rename, change the avatar or kids flag, set a PIN or remove it (`"pin": null`)."""
    before = await profiles.find_profile(downstream, customer_id, profile_id)
    async with audit.record(
        "profile.update", customer_id=customer_id, before=before.model_dump(mode="json")
    ) as entry:
        updated = await profiles.update_profile(downstream, customer_id, profile_id, payload)
        entry.after = updated.model_dump(mode="json")
    return updated


@router.delete(
    "/{profile_id}",
    status_code=204,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 503),
)
async def delete_profile(
    customer_id: CustomerId,
    profile_id: ProfileId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Response:
    """Delete a profile; its favorites, watchlist and recordings go with it (activity acts on
    profile.deleted), and the customer's apps get `profile.delete.v1` on `apps.commands`. The
    last profile of an account cannot be deleted (409); deleting a deleted profile is 404."""
    try:
        found = await profiles.find_profile(downstream, customer_id, profile_id)
        before: Any = found.model_dump(mode="json")
    except Problem as problem:
        # Gone already: the delete itself answers (404, or the stored 204 of a retry).
        if problem.status != 404 or downstream.idempotency_key is None:
            raise
        before = None
    async with audit.record("profile.delete", customer_id=customer_id, before=before) as entry:
        await profiles.delete_profile(downstream, customer_id, profile_id)
        entry.status_code = 204
    return Response(status_code=204)
