"""OPTIONS and 405 with `Allow` in a service, and the route contexts the check remembers
following routes added after the first request."""

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from services.runtime import allowed_methods
from services.runtime.allowed_methods import AllowedMethods
from services.runtime.problems import install_problem_handlers


def _app() -> tuple[FastAPI, APIRouter]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(AllowedMethods, router=app.router)
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}")
    async def read(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @router.get("/export.csv")
    async def export() -> dict[str, str]:
        return {}

    app.include_router(router)
    return app, router


async def test_options_and_405_name_the_methods_of_the_path_and_follow_routes_added_later() -> None:
    app, router = _app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/things/1")).json() == {"id": "1"}
        options = await client.options("/things/1")
        assert (options.status_code, options.headers["allow"]) == (204, "GET, OPTIONS")
        refused = await client.patch("/things/export.csv")
        assert refused.status_code == 405
        # Remembered as refused before the route that takes it exists.
        assert (await client.patch("/things/1")).status_code == 405
        assert refused.headers["allow"] == "GET, OPTIONS"
        assert refused.headers["content-type"] == "application/problem+json"

        @router.patch("/{thing_id}")
        async def edit(thing_id: str) -> dict[str, str]:
            return {"edited": thing_id}

        # The literal path still lends none of the templated route's methods; the id path
        # now takes PATCH, although the contexts were remembered before it was added.
        assert (await client.patch("/things/export.csv")).status_code == 405
        assert (await client.patch("/things/1")).json() == {"edited": "1"}
        options = await client.options("/things/1")
        assert options.headers["allow"] == "GET, OPTIONS, PATCH"


async def test_the_remembered_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allowed_methods, "ANSWERS_KEPT", 3)
    app, _ = _app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for thing in range(7):
            assert (await client.get(f"/things/{thing}")).json() == {"id": str(thing)}
            assert (await client.put(f"/things/{thing}")).status_code == 405
    middleware = app.middleware_stack
    while not isinstance(middleware, allowed_methods.AllowedMethods):
        middleware = middleware.app  # type: ignore[union-attr]
    assert 0 < len(middleware._contexts._answers) <= 3
