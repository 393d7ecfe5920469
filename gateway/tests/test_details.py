"""The composed details page: parallel sections, each allowed to fail on its own."""

import asyncio

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.fakes import (
    CUSTOMER_ID,
    FakeServices,
    customer_with_all_sections,
    problem,
    unreachable,
)
from gateway.tests.test_auth import assert_problem

DETAILS = f"/api/v1/customers/{CUSTOMER_ID}"
BASE = f"/customers/{CUSTOMER_ID}"


async def test_details_compose_the_customer_and_every_section(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    details = response.json()
    assert details["id"] == CUSTOMER_ID
    assert details["login"] == "4812093377"
    sections = details["sections"]
    assert {name: s["status"] for name, s in sections.items()} == {
        "subscription": "ok",
        "transactions": "ok",
        "messages": "ok",
        "devices": "ok",
    }
    assert sections["subscription"]["data"]["plan_id"] == "basic-1m"
    assert sections["transactions"]["data"]["balance"] == {"EUR": "9.99"}
    assert sections["messages"]["data"]["items"][0]["title"] == "Welcome"
    assert sections["devices"]["data"]["max_devices"] == 2
    (transactions_call,) = [c for c in fake.calls("billing") if "transactions" in c.url.path]
    assert transactions_call.url.params["limit"] == "20"


async def test_one_service_down_makes_its_section_unavailable_not_the_page(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)
    fake.on("activity", "GET", f"{BASE}/devices", unreachable)

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    assert sections["devices"]["status"] == "unavailable"
    assert "activity" in sections["devices"]["reason"]
    assert "data" not in sections["devices"]
    assert sections["messages"]["status"] == "ok"
    assert sections["subscription"]["status"] == "ok"


async def test_slow_and_failing_sections_are_bounded_by_the_timeout(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)

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

    fake.on("tickets", "GET", f"{BASE}/messages", slow)
    fake.on("activity", "GET", f"{BASE}/devices", slow)
    fake.answer("billing", "GET", f"{BASE}/transactions", 500, {"title": "boom"})

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    assert sections["messages"] == {
        "status": "unavailable",
        "reason": "the tickets service is unavailable: no answer within 0.5 s",
    }
    assert sections["devices"]["status"] == "unavailable"
    assert sections["transactions"]["status"] == "unavailable"
    assert sections["subscription"]["status"] == "ok"
    # Both slow sections waited at the same time (one timeout, not two in a row), and neither
    # is left running after the page was answered.
    assert most_waiting == 2
    assert waiting == 0


async def test_section_in_an_unexpected_shape_is_unavailable(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)
    fake.answer("activity", "GET", f"{BASE}/devices", 200, {"devices": []})

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    devices = response.json()["sections"]["devices"]
    assert devices["status"] == "unavailable"
    assert "unexpected shape" in devices["reason"]


async def test_no_subscription_is_an_ok_section_with_null_data(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)
    fake.on(
        "billing",
        "GET",
        f"{BASE}/subscription",
        lambda _: problem(404, "No subscription", "customer has no subscription"),
    )

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["sections"]["subscription"] == {"status": "ok", "data": None}


async def test_unknown_customer_is_404(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)
    fake.on(
        "customers",
        "GET",
        BASE,
        lambda _: problem(404, "Customer not found", f"no customer with id {CUSTOMER_ID}"),
    )

    response = await client.get(DETAILS, headers=admin)

    body = assert_problem(response, 404)
    assert body["title"] == "Customer not found"


async def test_customers_service_down_is_503_naming_it(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    customer_with_all_sections(fake)
    fake.on("customers", "GET", BASE, unreachable)

    response = await client.get(DETAILS, headers=admin)

    body = assert_problem(response, 503)
    assert body["service"] == "customers"


async def test_a_customer_id_cannot_steer_the_call_to_another_route(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    # ".." as the id would make billing's path /customers/../transactions, i.e. /transactions.
    dots = await client.get("/api/v1/customers/%2E%2E/transactions", headers=admin)
    slash = await client.get("/api/v1/customers/..%2Fwebshops", headers=admin)

    assert_problem(dots, 422)
    assert_problem(slash, 404)
    assert fake.requests == []
