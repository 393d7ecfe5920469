"""The ops dashboard's figures."""

from fastapi import APIRouter

from gateway.composition.stats import gather_stats
from gateway.deps import DownstreamDep, SettingsDep
from gateway.identity.auth import CanReadCustomers
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, problem_responses
from gateway.schemas.stats import Stats

router = APIRouter(prefix=API_PREFIX, tags=["stats"])


@router.get("/stats", response_model=Stats, responses=problem_responses(*AUTH_ERRORS))
async def get_stats(_: CanReadCustomers, downstream: DownstreamDep, settings: SettingsDep) -> Stats:
    """Customers by status and new per day, revenue per day and currency, tickets by status,
    devices online, and each service's consumer lag (records its group has not yet consumed).

    Every section is fetched at once; one whose source fails or is slow is
    `{"status": "unavailable", "reason": ...}` and the others are served.
    """
    return await gather_stats(downstream, settings)
