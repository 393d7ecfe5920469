"""The app as a whole: first start, health, metrics, docs, errors outside the routes."""

import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import build
from gateway.tests.conftest import make_settings, sign_in
from gateway.tests.services import InProcessServices
from gateway.tests.test_auth import assert_problem
from services.runtime.db import Database


async def test_first_start_prints_a_generated_admin_password_once_and_never_logs_it(
    tmp_path: Path,
    services: InProcessServices,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(tmp_path, admin_password=None)
    caplog.set_level(logging.DEBUG)
    for _ in range(2):  # the second start finds the admin and prints nothing
        app = build(settings, transport=services.transport)
        async with app.router.lifespan_context(app):
            pass
    app = build(settings, transport=services.transport)

    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if "generated password" in line]
    assert len(lines) == 1, printed
    password = lines[0].rsplit(": ", 1)[1]
    assert len(password) >= 16
    assert password not in caplog.text
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        await sign_in(http, "admin", password)


async def test_readyz_needs_only_the_database_and_reports_each_service(
    client: httpx.AsyncClient, services: InProcessServices
) -> None:
    async def failing(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"title": "boom"})

    services.down("tickets")
    services.replace("activity", failing)

    response = await client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["checks"]) == ("ready", ["database"])
    assert body["reported"]["customers"] == "ok"
    assert body["reported"]["billing"] == "ok"
    assert "tickets" in body["reported"]["tickets"]
    assert "answered 500" in body["reported"]["activity"]


async def test_readyz_is_503_when_the_database_is_gone(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "not-a-database").mkdir()
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'not-a-database'}")
    working = app.state.db
    app.state.db = broken
    try:
        response = await client.get("/readyz")
    finally:
        app.state.db = working
        await broken.dispose()

    body = assert_problem(response, 503)
    assert "database" in body["failures"]  # type: ignore[operator]


async def test_healthz_metrics_docs_and_root(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await client.get("/api/v1/me")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'route="/api/v1/me",service="gateway",status="401"' in metrics.text
    root = await client.get("/")
    assert root.status_code == 200
    assert '<script type="module" src="/console/js/main.js">' in root.text
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/auth/token",
        "/api/v1/me",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/transactions",
        "/api/v1/webshops",
        "/api/v1/products",
        "/api/v1/audit",
        "/api/v1/operators",
        "/api/v1/api-keys",
        "/readyz",
    ):
        assert path in spec["paths"], path
    assert {"OperatorToken", "ApiKey"} <= set(spec["components"]["securitySchemes"])


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404)
