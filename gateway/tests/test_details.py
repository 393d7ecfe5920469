"""The composed details page against the real services: parallel sections, each allowed to
fail on its own."""

import asyncio

import httpx
from fastapi import FastAPI

from gateway.tests.conftest import Headers
from gateway.tests.seed import SALE as SALE_ONLY
from gateway.tests.seed import connect_device, sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_auth import assert_problem

UNKNOWN_ID = "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"


async def test_details_compose_the_customer_and_every_section(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    created = await sell(client, services, admin)
    await connect_device(services, created["id"])

    response = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)

    assert response.status_code == 200, response.text
    details = response.json()
    assert details["id"] == created["id"]
    assert details["login"] == created["login"]
    assert details["status"] == "active"
    sections = details["sections"]
    assert {name: s["status"] for name, s in sections.items()} == {
        "subscription": "ok",
        "transactions": "ok",
        "messages": "ok",
        "devices": "ok",
    }
    assert sections["subscription"]["data"]["plan_id"] == "basic-1m"
    # What the customer owes: the sale's charge, not paid yet.
    assert sections["transactions"]["data"]["balance"] == {"EUR": "9.99"}
    assert len(sections["messages"]["data"]["items"]) == 1
    assert sections["devices"]["data"]["max_devices"] == 2
    assert [d["id"] for d in sections["devices"]["data"]["items"]] == ["stb-1"]
    (transactions_call,) = [c for c in services.calls("billing") if "transactions" in c.url.path]
    assert transactions_call.url.params["limit"] == "20"


async def test_one_service_down_makes_its_section_unavailable_not_the_page(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    created = await sell(client, services, admin)
    services.down("activity")

    response = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)

    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    assert sections["devices"]["status"] == "unavailable"
    assert "activity" in sections["devices"]["reason"]
    assert "data" not in sections["devices"]
    assert sections["messages"]["status"] == "ok"
    assert sections["subscription"]["status"] == "ok"


async def test_slow_and_failing_sections_are_bounded_by_the_timeout(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers, app: FastAPI
) -> None:
    created = await sell(client, services, admin)
    # The suite's timeout is generous for a loaded machine; this test waits it out, so short.
    app.state.services.downstream.timeout_seconds = 0.5

    waiting = 0
    most_waiting = 0
    never = asyncio.Event()

    async def slow(_: httpx.Request) -> httpx.Response:
        nonlocal waiting, most_waiting
        waiting += 1
        most_waiting = max(most_waiting, waiting)
        try:
            await never.wait()  # answers only when the gateway gives up and cancels the call
        finally:
            waiting -= 1
        raise AssertionError("a call past its timeout was not cancelled")

    async def failing(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"title": "boom"})

    services.replace("tickets", slow)
    services.replace("activity", slow)

    response = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)
    services.replace("billing", failing)
    failed = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)

    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    assert sections["messages"] == {
        "status": "unavailable",
        "reason": "the tickets service is unavailable: no answer within 0.5 s",
    }
    assert sections["devices"]["status"] == "unavailable"
    assert sections["subscription"]["status"] == "ok"
    assert sections["transactions"]["status"] == "ok"
    # Both slow sections waited at the same time (one timeout, not two in a row), and neither
    # is left running after the page was answered.
    assert most_waiting == 2
    assert waiting == 0
    assert failed.status_code == 200, failed.text
    assert failed.json()["sections"]["transactions"]["status"] == "unavailable"


async def test_section_in_an_unexpected_shape_is_unavailable(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    created = await sell(client, services, admin)

    async def wrong_shape(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"devices": []})

    services.replace("activity", wrong_shape)

    response = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)

    assert response.status_code == 200, response.text
    devices = response.json()["sections"]["devices"]
    assert devices["status"] == "unavailable"
    assert "unexpected shape" in devices["reason"]


async def test_no_subscription_is_an_ok_section_with_null_data(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.post("/api/v1/customers", json=SALE_ONLY, headers=admin)
    assert response.status_code == 201, response.text
    # Not settled: billing has not heard of the customer yet.

    details = await client.get(f"/api/v1/customers/{response.json()['id']}", headers=admin)

    assert details.status_code == 200, details.text
    assert details.json()["status"] == "pending"
    assert details.json()["sections"]["subscription"] == {"status": "ok", "data": None}


async def test_unknown_customer_is_404(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get(f"/api/v1/customers/{UNKNOWN_ID}", headers=admin)

    body = assert_problem(response, 404)
    assert body["title"] == "Customer not found"


async def test_customers_service_down_is_503_naming_it(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    services.down("customers")

    response = await client.get(f"/api/v1/customers/{UNKNOWN_ID}", headers=admin)

    body = assert_problem(response, 503)
    assert body["service"] == "customers"


async def test_a_customer_id_cannot_steer_the_call_to_another_route(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    # ".." as the id would make billing's path /customers/../transactions, i.e. /transactions.
    dots = await client.get("/api/v1/customers/%2E%2E/transactions", headers=admin)
    slash = await client.get("/api/v1/customers/..%2Fwebshops", headers=admin)

    assert_problem(dots, 422)
    assert_problem(slash, 404)
    assert services.transport.requests == []
