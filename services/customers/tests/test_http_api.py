"""The customers service's internal HTTP API as wired by its ServiceSpec: routes, status codes
and problem+json naming the field (the rules themselves are tested beside their modules)."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.customers.app import SPEC
from services.runtime.db import Database
from services.runtime.problems import install_problem_handlers
from services.runtime.tests._helpers import service_runtime

SALE = {
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "info": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
    "credentials": {"login": "jane.doe", "password": "secret-1"},
}


@pytest.fixture
async def http(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with service_runtime(SPEC, db) as rt:
        app = FastAPI()
        app.state.runtime = rt
        app.state.idempotency = rt.idempotency
        install_problem_handlers(app)
        app.include_router(SPEC.router)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://customers") as client:
            yield client


async def create(http: httpx.AsyncClient) -> str:
    response = await http.post("/customers", json=SALE)
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]
    return customer_id


async def test_export_csv_is_its_own_route_and_streams_csv(http: httpx.AsyncClient) -> None:
    customer_id = await create(http)

    response = await http.get("/customers/export.csv", params={"q": "jane", "sort": "name"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("id,status,source,login,")
    assert lines[1].startswith(f"{customer_id},pending,manual,jane.doe,")
    assert len(lines) == 2


async def test_patch_names_the_invalid_field(http: httpx.AsyncClient) -> None:
    customer_id = await create(http)

    response = await http.patch(f"/customers/{customer_id}", json={"info": {"mobile": "12"}})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["info.mobile"]


async def test_account_routes(http: httpx.AsyncClient) -> None:
    customer_id = await create(http)
    other = await http.post(
        "/customers", json={**SALE, "credentials": {"login": "ann.tv", "password": "secret-1"}}
    )
    assert other.status_code == 201

    shown = await http.get(f"/customers/{customer_id}/account")
    taken = await http.patch(f"/customers/{customer_id}/account", json={"login": "Ann.TV"})
    spaced = await http.patch(f"/customers/{customer_id}/account", json={"login": "a b c"})
    disabled = await http.patch(f"/customers/{customer_id}/account", json={"disabled": True})
    reset = await http.post(
        f"/customers/{customer_id}/account/password", headers={"Idempotency-Key": "p-1"}
    )
    customer = await http.get(f"/customers/{customer_id}")

    assert (shown.status_code, shown.json()["login"]) == (200, "jane.doe")
    assert (taken.status_code, taken.json()["errors"][0]["field"]) == (409, "login")
    assert (spaced.status_code, spaced.json()["errors"][0]["field"]) == (422, "login")
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
    assert reset.status_code == 200 and reset.json()["password"].isdigit()
    assert customer.json()["status"] == "disabled"


async def test_unknown_customer_account_is_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/customers/nobody/account")
    assert response.status_code == 404


async def test_stats(http: httpx.AsyncClient) -> None:
    await create(http)

    response = await http.get("/stats")

    assert response.status_code == 200
    assert response.json()["by_status"]["pending"] == 1
    assert len(response.json()["new_per_day"]) == 30
