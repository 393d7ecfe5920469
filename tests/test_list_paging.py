"""Every list of every service pages the same way, found by itself from the real apps' routes
(a list added later is covered without touching this file): the one `limit` bound, a cursor
refused as a 422 naming `cursor`, the one page shape; and a service's refusal reaches a caller
of the gateway's client unchanged."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.downstream import Downstream
from services.activity.app import SPEC as ACTIVITY
from services.billing.app import SPEC as BILLING
from services.customers.app import SPEC as CUSTOMERS
from services.runtime.migrations import upgrade
from services.runtime.paging import MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from services.runtime.problems import Problem
from services.runtime.service_app import ServiceSpec, create_app
from services.runtime.service_auth import ServiceTokenAuth
from services.tickets.app import SPEC as TICKETS

SPECS = {spec.name: spec for spec in (CUSTOMERS, BILLING, TICKETS, ACTIVITY)}


def _app(spec: ServiceSpec, url: str) -> FastAPI:
    return create_app(spec, spec.settings(database_url=url, port=0))


def _openapi(spec: ServiceSpec) -> dict[str, Any]:
    # The engine connects on first use only: no database is made to read the routes.
    openapi: dict[str, Any] = _app(spec, "sqlite+aiosqlite:///never-opened.db").openapi()
    return openapi


def _list_routes() -> list[tuple[str, str]]:
    """(service, path) of every GET route that takes a `cursor`."""
    found = []
    for name, spec in SPECS.items():
        for path, operations in _openapi(spec)["paths"].items():
            parameters = operations.get("get", {}).get("parameters", [])
            if any(p["in"] == "query" and p["name"] == "cursor" for p in parameters):
                found.append((name, path))
    return found


LISTS = _list_routes()


def test_every_service_has_its_lists_found() -> None:
    assert {service for service, _ in LISTS} == set(SPECS)
    assert len(LISTS) >= 10


@pytest.fixture(scope="module")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder: Path = tmp_path_factory.mktemp("lists")
    urls = {name: f"sqlite+aiosqlite:///{folder / name}.db" for name in SPECS}
    for name, spec in SPECS.items():
        upgrade(spec.migrations_dir, urls[name])
    return urls


@pytest.fixture
async def clients(database_urls: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    apps = {name: _app(spec, database_urls[name]) for name, spec in SPECS.items()}
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://{name}",
            auth=ServiceTokenAuth(app.state.service_token_key, actor="tests"),
        )
        for name, app in apps.items()
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()
        await asyncio.gather(*(app.state.runtime.db.dispose() for app in apps.values()))


def _concrete(path: str) -> str:
    return path.replace("{customer_id}", "c-1").replace("{batch_id}", "b-1")


def _named(body: dict[str, Any], field: str) -> bool:
    return body["status"] == 422 and field in [e["field"] for e in body["errors"]]


@pytest.mark.parametrize(("service", "path"), LISTS, ids=[f"{s}:{p}" for s, p in LISTS])
async def test_the_list_pages_like_every_other(
    clients: dict[str, httpx.AsyncClient], service: str, path: str
) -> None:
    client, url = clients[service], _concrete(path)

    for limit in (0, MAX_PAGE_SIZE + 1):
        refused = await client.get(url, params={"limit": limit})
        assert refused.headers["content-type"] == "application/problem+json"
        assert _named(refused.json(), "limit"), refused.json()
    too_long = await client.get(url, params={"cursor": "A" * (MAX_CURSOR_LENGTH + 1)})
    assert _named(too_long.json(), "cursor"), too_long.json()
    garbage = await client.get(url, params={"cursor": "bm90IGEgY3Vyc29y"})
    assert _named(garbage.json(), "cursor"), garbage.json()

    openapi = _openapi(SPECS[service])
    answer = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    page = openapi["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"items", "next_cursor"} <= set(page["properties"])


@pytest.mark.parametrize(("service", "path"), LISTS, ids=[f"{s}:{p}" for s, p in LISTS])
async def test_a_refusal_reaches_the_gateway_client_unchanged(
    clients: dict[str, httpx.AsyncClient], service: str, path: str
) -> None:
    client = clients[service]
    params: list[tuple[str, str | int]] = [("cursor", "bm90IGEgY3Vyc29y")]
    said = (await client.get(_concrete(path), params={"cursor": "bm90IGEgY3Vyc29y"})).json()
    assert _named(said, "cursor")
    downstream = Downstream(client, {service: ""}, timeout_seconds=10)

    with pytest.raises(Problem) as raised:
        await downstream.call(service, "GET", _concrete(path), params=params)

    problem = raised.value
    passed_on = {"type": problem.type, "title": problem.title, "status": problem.status}
    passed_on |= {"detail": problem.detail, "instance": said["instance"], **problem.extra}
    assert passed_on == said
