"""Internal HTTP API of the service's dashboard figures."""

from fastapi import APIRouter

from services.customers.stats.service import CustomerStats, customer_stats
from services.runtime.service_app import RuntimeDep

router = APIRouter()


@router.get("/stats", response_model=CustomerStats, tags=["stats"])
async def stats(rt: RuntimeDep) -> CustomerStats:
    """Customers per status and new customers per UTC day over the last 30 days."""
    async with rt.db.sessions() as session:
        return await customer_stats(session)
