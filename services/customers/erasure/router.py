"""Internal HTTP API of a customer's erasure."""

from fastapi import APIRouter, Response

from services.customers.erasure import service as erasure
from services.runtime.service_app import RuntimeDep

router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"])


@router.delete("", status_code=204)
async def erase_customer(customer_id: str, rt: RuntimeDep) -> Response:
    """Erase the customer (personal data, account, profiles); emits customer.erased.
    Erasing an erased customer again answers 204 and changes nothing; an unknown id is 404."""
    async with rt.db.transaction() as session:
        await erasure.erase_customer(session, rt.outbox, customer_id)
    return Response(status_code=204)
