"""Internal HTTP API of an account's profiles."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.customers.profiles import service as profiles
from services.runtime.service_app import RuntimeDep

IdempotencyKey = Annotated[str | None, Header(max_length=200)]

profiles_router = APIRouter(prefix="/customers/{customer_id}/profiles", tags=["profiles"])


@profiles_router.get("", response_model=profiles.ProfileList)
async def list_profiles(customer_id: str, rt: RuntimeDep) -> profiles.ProfileList:
    async with rt.db.sessions() as session:
        return await profiles.list_profiles(session, customer_id)


@profiles_router.post("", status_code=201, response_model=profiles.ProfilePublic)
async def create_profile(
    customer_id: str,
    payload: profiles.ProfileCreate,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> profiles.ProfilePublic:
    """A new profile (at most ten per account); emits profile.created."""
    async with rt.db.transaction() as session:
        created, is_new = await profiles.create_profile(
            session, rt.outbox, customer_id, payload, idempotency_key
        )
    if not is_new:
        response.status_code = 200
    return created


@profiles_router.patch("/{profile_id}", response_model=profiles.ProfilePublic)
async def update_profile(
    customer_id: str, profile_id: str, payload: profiles.ProfileUpdate, rt: RuntimeDep
) -> profiles.ProfilePublic:
    async with rt.db.transaction() as session:
        return await profiles.update_profile(session, customer_id, profile_id, payload)


@profiles_router.delete("/{profile_id}", status_code=204)
async def delete_profile(customer_id: str, profile_id: str, rt: RuntimeDep) -> Response:
    """Delete a profile (never the last); emits profile.deleted. Again: 404."""
    async with rt.db.transaction() as session:
        await profiles.delete_profile(session, rt.outbox, customer_id, profile_id)
    return Response(status_code=204)
