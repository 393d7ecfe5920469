"""/healthz, /readyz and /metrics of the gateway.

Liveness and metrics are the shared runtime's; readiness is the gateway's own: it is ready when
its database answers, and it reports each service without depending on them, because a service
that is down makes sections unavailable, not the gateway.
"""

from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from gateway.clients import ServiceClients
from services.runtime.db import Database
from services.runtime.health import ReadinessCheck, health_router
from services.runtime.problems import Problem


def operations_router(app: FastAPI) -> APIRouter:
    """The shared health router: the database is required, each service only reported.

    The checks read `app.state` when called, so the lifespan's objects (and a test's) are used.
    """

    async def database() -> None:
        db: Database = app.state.db
        async with db.sessions() as session:
            await session.execute(text("SELECT 1"))

    def service(name: str) -> ReadinessCheck:
        async def check() -> None:
            services: ServiceClients = app.state.services
            try:
                response = await services.by_name(name).health()
            except Problem as problem:
                raise ConnectionError(problem.detail or problem.title) from None
            if response.status_code != 200:
                raise ConnectionError(f"answered {response.status_code}")

        return check

    names = list(app.state.settings.service_urls)
    return health_router({"database": database}, informational={n: service(n) for n in names})
