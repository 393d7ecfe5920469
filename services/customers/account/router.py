"""Internal HTTP API of the customer's account. Writes run once per `Idempotency-Key`
(services/runtime/idempotency.py)."""

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.account import service as account
from services.customers.schemas import AccountPublic, AccountUpdate, PasswordReset
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["account"])


@router.get("/customers/{customer_id}/account", response_model=AccountPublic)
async def get_account(customer_id: str, rt: RuntimeDep) -> AccountPublic:
    async with rt.db.sessions() as session:
        return await account.get_account(session, customer_id)


@router.patch("/customers/{customer_id}/account", response_model=AccountPublic)
async def update_account(
    customer_id: str,
    payload: AccountUpdate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    """Disable/enable the account or change its login; emits account.updated on a change."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await account.update_account(session, rt.outbox, customer_id, payload))

    return await once(work)


@router.post("/customers/{customer_id}/account/password", response_model=PasswordReset)
async def reset_password(customer_id: str, once: WriteOnceDep) -> Response:
    """A new generated password, in this answer only (a retry gets it without the password)."""

    async def work(session: AsyncSession) -> Answer:
        reset = await account.reset_password(session, customer_id)
        return Answer(reset, stored_body=reset.model_copy(update={"password": None}))

    return await once(work)
