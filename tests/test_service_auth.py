"""Every service answers the gateway only: each route but health, metrics and docs refuses a call
without a service token, or with one signed by another key, with 401 problem+json."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.activity.app import SPEC as ACTIVITY
from services.billing.app import SPEC as BILLING
from services.customers.app import SPEC as CUSTOMERS
from services.runtime.service_app import ServiceSpec, create_app
from services.runtime.service_auth import ServiceTokenAuth, mint_service_token
from services.runtime.settings import ServiceSettings
from services.tickets.app import SPEC as TICKETS

SPECS = {spec.name: spec for spec in (CUSTOMERS, BILLING, TICKETS, ACTIVITY)}
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc"}
OPEN_PATHS |= {"/openapi.json", "/asyncapi.json"}
# What issue 11 names: a password reset (the new password in the answer), the full CSV export,
# erasure, a new webshop and the scheduler's tick.
NAMED = [
    ("customers", "POST", "/customers/c-1/account/password"),
    ("customers", "GET", "/customers/export.csv"),
    ("customers", "DELETE", "/customers/c-1"),
    ("billing", "POST", "/webshops"),
    ("billing", "POST", "/scheduler/tick"),
]


def service_app(spec: ServiceSpec, tmp_path: Path) -> tuple[FastAPI, ServiceSettings]:
    # DATA_DIR in tmp_path: the service's generated key goes there, as under `make run`.
    settings = spec.settings(data_dir=tmp_path, port=0)
    return create_app(spec, settings), settings


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    # No lifespan: the token is checked before a route touches the database or Kafka, so a
    # refusal needs neither; the services' own tests call them, token and all, with both.
    opened = {}
    for name, spec in SPECS.items():
        app, _ = service_app(spec, tmp_path)
        transport = httpx.ASGITransport(app=app)
        opened[name] = httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
    yield opened
    for client in opened.values():
        await client.aclose()


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


@pytest.mark.parametrize(("service", "method", "path"), NAMED)
async def test_named_routes_refuse_a_call_without_a_token(
    clients: dict[str, httpx.AsyncClient], service: str, method: str, path: str
) -> None:
    response = await clients[service].request(method, path)

    assert_refused(response)
    assert "service token" in response.json()["detail"]


@pytest.mark.parametrize(("service", "method", "path"), NAMED)
async def test_named_routes_refuse_a_token_signed_by_another_key(
    clients: dict[str, httpx.AsyncClient], service: str, method: str, path: str
) -> None:
    forged = ServiceTokenAuth("another-key-that-is-long-enough-to-sign-anything", actor="mallory")

    response = await clients[service].request(method, path, auth=forged)

    assert_refused(response)


@pytest.mark.parametrize("name", sorted(SPECS))
async def test_every_route_but_health_metrics_and_docs_refuses_a_call_without_a_token(
    tmp_path: Path, name: str
) -> None:
    app, settings = service_app(SPECS[name], tmp_path)
    # From the OpenAPI document: it lists every route, those a service adds later too.
    operations = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x-1", path))
        for path, item in app.openapi()["paths"].items()
        if path not in OPEN_PATHS
        for method in item
    ]
    assert len(operations) > 3
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}"
    ) as client:
        for method, path in operations:
            assert_refused(await client.request(method, path))
            expired = mint_service_token(settings.service_token_key, actor="a", now=0)
            refused = await client.request(
                method, path, headers={"Authorization": f"Bearer {expired}"}
            )
            assert_refused(refused)
            assert "expired" in refused.json()["detail"]


@pytest.mark.parametrize("name", sorted(SPECS))
async def test_health_metrics_and_docs_answer_without_a_token(tmp_path: Path, name: str) -> None:
    app, _ = service_app(SPECS[name], tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}"
    ) as client:
        for path in ("/healthz", "/metrics", "/openapi.json", "/docs"):
            assert (await client.get(path)).status_code == 200, path
