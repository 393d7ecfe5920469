"""Erasing a customer: the customers service erases and tells the others (customer.erased);
the gateway's own audit log then forgets the customer's personal data."""

from sqlalchemy import update

from gateway.downstream import Downstream, segment
from gateway.models import AuditEntry
from services.runtime.db import Database

# What an erased customer's older audit entries keep instead of their records.
SCRUBBED = {"scrubbed": "customer erased"}


async def erase_customer(downstream: Downstream, customer_id: str) -> None:
    """204 from the customers service, also when it was erased before; 404 if never known."""
    await downstream.call("customers", "DELETE", f"/customers/{segment(customer_id)}")


async def scrub_audit(db: Database, customer_id: str) -> int:
    """Replace before/after of the customer's audit entries (who did what, when, stays).
    Returns how many entries were scrubbed. Erasure entries hold no personal data."""
    query = update(AuditEntry).where(
        AuditEntry.customer_id == customer_id, AuditEntry.action != "customer.erase"
    )
    async with db.transaction() as session:
        result = await session.execute(query.values(before=SCRUBBED, after=SCRUBBED))
    return int(result.rowcount)  # type: ignore[attr-defined]
