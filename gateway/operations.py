"""/healthz, /readyz and /metrics of the gateway.

Liveness and metrics are the shared runtime's; readiness is the gateway's own: it is ready when
its database answers, and it reports each service without depending on them, because a service
that is down makes sections unavailable, not the gateway.
"""

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text

from gateway.deps import DatabaseDep, DownstreamDep
from gateway.downstream import Downstream
from services.runtime.db import Database
from services.runtime.health import health_router
from services.runtime.problems import Problem, problem_response


async def database_status(db: Database) -> str:
    try:
        async with db.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]
    return "ok"


async def service_status(downstream: Downstream, service: str) -> str:
    try:
        response = await downstream.send(service, "GET", "/healthz")
    except Problem as problem:
        return problem.detail or problem.title
    return "ok" if response.status_code == 200 else f"answered {response.status_code}"


def operations_router() -> APIRouter:
    # The shared router's /readyz would need every check to pass; the gateway's is below.
    router = health_router({})
    router.routes = [
        route
        for route in router.routes
        if not (isinstance(route, APIRoute) and route.path == "/readyz")
    ]

    @router.get("/readyz", summary="Readiness: the own database answers; services reported")
    async def readyz(db: DatabaseDep, downstream: DownstreamDep) -> Response:
        names = list(downstream.base_urls)
        database, *statuses = await asyncio.gather(
            database_status(db), *(service_status(downstream, name) for name in names)
        )
        services = dict(zip(names, statuses, strict=True))
        if database != "ok":
            return problem_response(
                503, "Not ready", extra={"failures": {"database": database}, "services": services}
            )
        body = {"status": "ready", "database": "ok", "services": services}
        return JSONResponse(body)

    return router
