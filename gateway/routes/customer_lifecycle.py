"""Erasure of a customer and the customer's timeline across the services."""

from fastapi import APIRouter, Response

from gateway import timeline
from gateway.audit import AuditDep
from gateway.composition import erasure
from gateway.deps import DatabaseDep, DownstreamDep
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanReadCustomers, CanSell
from gateway.routes.customers import CustomerId
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from services.contracts.timeline import Timeline
from services.runtime.paging import Limit

router = APIRouter(prefix=f"{API_PREFIX}/customers", tags=["customers"])


@router.delete(
    "/{customer_id}", status_code=204, responses=problem_responses(*AUTH_ERRORS, 404, 503)
)
async def erase_customer(
    customer_id: CustomerId,
    _: CanSell,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
    db: DatabaseDep,
) -> Response:
    """Erase the customer (right to erasure). Irreversible.

    The customers service deletes the personal data, login, password hash and profiles and
    keeps only a tombstone (the id and when); every other service follows `customer.erased`
    (billing keeps the ledger's amounts without the person). The customer then disappears from
    the list, and its record is 404. The audit log keeps who erased whom and when, and the
    customer's older audit entries lose their before/after records. Erasing again answers 204
    and changes nothing; an id that never existed is 404.
    """
    async with audit.record("customer.erase", customer_id=customer_id) as entry:
        await erasure.erase_customer(downstream, customer_id)
        scrubbed = await erasure.scrub_audit(db, customer_id)
        entry.after = {"erased": True, "audit_entries_scrubbed": scrubbed}
        entry.status_code = 204
    return Response(status_code=204)


@router.get(
    "/{customer_id}/timeline",
    response_model=Timeline,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def customer_timeline(
    customer_id: CustomerId,
    _: CanReadCustomers,
    downstream: DownstreamDep,
    limit: Limit = 200,
) -> Timeline:
    """What happened to the customer in every service, newest first (at most `limit`).

    The four services are asked at once; one that fails or does not answer in time is named
    in `unavailable` (the customers service too) and the rest is served. 404 if the customers
    service does not know the customer (never existed, or erased).
    """
    return await timeline.customer_timeline(downstream, customer_id, limit=limit)
