"""Internal HTTP API of profiles, bulk-add jobs, erasure and the customer's timeline. Every write
runs once per `Idempotency-Key` (services/runtime/idempotency.py)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers import bulk_add, erasure, profiles, timeline
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


customer_router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"])


@customer_router.delete("", status_code=204)
async def erase_customer(customer_id: str, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Erase the customer (personal data, account, profiles); emits customer.erased.
    Erasing an erased customer again answers 204 and changes nothing; an unknown id is 404."""

    async def work(session: AsyncSession) -> Answer:
        await erasure.erase_customer(session, rt.outbox, customer_id)
        return Answer(None, 204)

    return await once(work)


@customer_router.get("/timeline", response_model=timeline.Timeline)
async def customer_timeline(
    customer_id: str, rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> timeline.Timeline:
    async with rt.db.sessions() as session:
        return await timeline.customer_timeline(session, customer_id, limit=limit)


batches_router = APIRouter(prefix="/customer-batches", tags=["bulk add"])


@batches_router.post("", status_code=202, response_model=bulk_add.BatchPublic)
async def create_batch(payload: bulk_add.BatchCreate, once: WriteOnceDep) -> Response:
    """Queue a bulk-add job; the service's worker creates the customers one by one."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await bulk_add.create_batch(session, payload), 202)

    return await once(work)


@batches_router.get("/{batch_id}", response_model=bulk_add.BatchPublic)
async def get_batch(batch_id: str, rt: RuntimeDep) -> bulk_add.BatchPublic:
    async with rt.db.sessions() as session:
        return await bulk_add.get_batch(session, batch_id)


@batches_router.get("/{batch_id}/items", response_model=bulk_add.BatchItemPage)
async def list_batch_items(
    batch_id: str,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> bulk_add.BatchItemPage:
    """Items in number order; each generated password is in the first answer only."""
    async with rt.db.transaction() as session:
        return await bulk_add.list_items(session, batch_id, limit=limit, cursor=cursor)


ROUTERS = [profiles_router, customer_router, batches_router]
