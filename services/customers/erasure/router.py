"""Internal HTTP API of a customer's erasure. It runs once per `Idempotency-Key`
(services/runtime/idempotency.py)."""

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.erasure import service as erasure
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.service_app import RuntimeDep

router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"])


@router.delete("", status_code=204)
async def erase_customer(customer_id: str, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Erase the customer (personal data, account, profiles); emits customer.erased.
    Erasing an erased customer again answers 204 and changes nothing; an unknown id is 404."""

    async def work(session: AsyncSession) -> Answer:
        await erasure.erase_customer(session, rt.outbox, customer_id)
        return Answer(None, 204)

    return await once(work)
