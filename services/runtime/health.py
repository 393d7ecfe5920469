"""/healthz (the process answers), /readyz (its database and Kafka answer) and /metrics."""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.runtime.problems import problem_response

ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: every dependency answers", response_model=None)
    async def readyz() -> Response | dict[str, object]:
        failures = {}
        for name, check in checks.items():
            try:
                await check()
            except Exception as error:
                failures[name] = f"{type(error).__name__}: {error}"[:300]
        if failures:
            return problem_response(503, "Not ready", extra={"failures": failures})
        return {"status": "ready", "checks": sorted(checks)}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
