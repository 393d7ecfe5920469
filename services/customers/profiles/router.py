"""Internal HTTP API of an account's profiles. Writes run once per `Idempotency-Key`
(services/runtime/idempotency.py)."""

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.profiles import service as profiles
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.service_app import RuntimeDep

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
    once: WriteOnceDep,
) -> Response:
    """A new profile (at most ten per account); emits profile.created."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await profiles.create_profile(session, rt.outbox, customer_id, payload), 201)

    return await once(work)


@profiles_router.patch("/{profile_id}", response_model=profiles.ProfilePublic)
async def update_profile(
    customer_id: str,
    profile_id: str,
    payload: profiles.ProfileUpdate,
    once: WriteOnceDep,
) -> Response:
    async def work(session: AsyncSession) -> Answer:
        return Answer(await profiles.update_profile(session, customer_id, profile_id, payload))

    return await once(work)


@profiles_router.delete("/{profile_id}", status_code=204)
async def delete_profile(
    customer_id: str, profile_id: str, rt: RuntimeDep, once: WriteOnceDep
) -> Response:
    """Delete a profile (never the last); emits profile.deleted. Again: 404 (with the same
    Idempotency-Key: 204 again)."""

    async def work(session: AsyncSession) -> Answer:
        await profiles.delete_profile(session, rt.outbox, customer_id, profile_id)
        return Answer(None, 204)

    return await once(work)
