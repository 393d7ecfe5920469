"""Internal HTTP API of the customer's account."""

from typing import Annotated

from fastapi import APIRouter, Header

from services.customers.account import service as account
from services.customers.schemas import AccountPublic, AccountUpdate, PasswordReset
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["account"])

IdempotencyKey = Annotated[str | None, Header(max_length=120)]


@router.get("/customers/{customer_id}/account", response_model=AccountPublic)
async def get_account(customer_id: str, rt: RuntimeDep) -> AccountPublic:
    async with rt.db.sessions() as session:
        return await account.get_account(session, customer_id)


@router.patch("/customers/{customer_id}/account", response_model=AccountPublic)
async def update_account(
    customer_id: str,
    payload: AccountUpdate,
    rt: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> AccountPublic:
    """Disable/enable the account or change its login; emits account.updated on a change."""
    async with rt.db.transaction() as session:
        return await account.update_account(
            session, rt.outbox, customer_id, payload, idempotency_key
        )


@router.post("/customers/{customer_id}/account/password", response_model=PasswordReset)
async def reset_password(
    customer_id: str, rt: RuntimeDep, idempotency_key: IdempotencyKey = None
) -> PasswordReset:
    """A new generated password, in this answer only."""
    async with rt.db.transaction() as session:
        return await account.reset_password(session, customer_id, idempotency_key)
