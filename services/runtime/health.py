"""/healthz (the process answers), /readyz (its database and Kafka answer) and /metrics."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.runtime.problems import problem_response

ReadinessCheck = Callable[[], Awaitable[None]]


async def _failure(check: ReadinessCheck) -> str | None:
    try:
        await check()
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]
    return None


def _example(body: dict[str, object]) -> dict[int | str, dict[str, object]]:
    """An OpenAPI example of the 200 answer (the gateway shows one for every operation)."""
    return {200: {"content": {"application/json": {"example": body}}}}


def health_router(
    checks: dict[str, ReadinessCheck],
    informational: dict[str, ReadinessCheck] | None = None,
) -> APIRouter:
    """Readiness needs every check in `checks`; `informational` ones are reported, not required
    (the gateway is ready while a service is down: that service's sections are unavailable)."""
    router = APIRouter(tags=["operations"])
    informational = informational or {}

    @router.get("/healthz", summary="Liveness", responses=_example({"status": "ok"}))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        response_model=None,
        responses=_example(
            {"status": "ready", "checks": ["database"], "reported": {"billing": "ok"}}
        ),
    )
    async def readyz() -> Response | dict[str, object]:
        names = [*checks, *informational]
        results = await asyncio.gather(
            *(_failure(check) for check in (*checks.values(), *informational.values()))
        )
        outcome = dict(zip(names, results, strict=True))
        failures = {name: outcome[name] for name in checks if outcome[name]}
        reported = {name: outcome[name] or "ok" for name in informational}
        if failures:
            return problem_response(
                503, "Not ready", extra={"failures": failures, "reported": reported}
            )
        return {"status": "ready", "checks": sorted(checks), "reported": reported}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
