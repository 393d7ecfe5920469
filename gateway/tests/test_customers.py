"""Selling through the gateway, the customers list and service errors passed on."""

from typing import Any

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.fakes import (
    CUSTOMER_ID,
    GENERATED_PASSWORD,
    FakeServices,
    customer,
    json_body,
    problem,
    transactions,
    unreachable,
)
from gateway.tests.test_auth import SALE, assert_problem


def billing_allows_the_sale(fake: FakeServices) -> None:
    fake.on("billing", "POST", "/orders/check", lambda _: httpx.Response(204))


def customers_creates(fake: FakeServices) -> None:
    """Like the customers service: 201 with the generated password; for a seen key, 201
    without it, marked replayed."""
    seen: set[str] = set()

    def create(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key in seen:
            replayed = {"Idempotent-Replayed": "true"}
            return httpx.Response(201, json={**customer(), "password": None}, headers=replayed)
        if key:
            seen.add(key)
        return httpx.Response(201, json={**customer(), "password": GENERATED_PASSWORD})

    fake.on("customers", "POST", "/customers", create)


async def test_sale_is_checked_then_created_with_the_idempotency_key_passed_on(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_allows_the_sale(fake)
    customers_creates(fake)
    sale = {**SALE, "extra_product_ids": ["sports"]}

    response = await client.post(
        "/api/v1/customers", json=sale, headers={**admin, "Idempotency-Key": "k-1"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["id"] == CUSTOMER_ID
    assert response.json()["password"] == GENERATED_PASSWORD
    (check,) = fake.calls("billing", "POST")
    assert json_body(check) == {
        "webshop_id": "demo",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": ["sports"],
    }
    (create,) = fake.calls("customers", "POST")
    assert create.headers["idempotency-key"] == "k-1"
    assert json_body(create)["info"]["first_name"] == "Jane"
    assert json_body(create)["credentials"] is None


async def test_repeated_idempotency_key_answers_the_same_customer_marked_replayed(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_allows_the_sale(fake)
    customers_creates(fake)
    headers = {**admin, "Idempotency-Key": "k-2"}

    first = await client.post("/api/v1/customers", json=SALE, headers=headers)
    again = await client.post("/api/v1/customers", json=SALE, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["password"] is None


async def test_catalog_refusal_is_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    reason = "plan gold-1m does not belong to product basic"
    fake.on(
        "billing",
        "POST",
        "/orders/check",
        lambda _: problem(
            422, "Order not allowed", reason, errors=[{"field": "plan_id", "message": reason}]
        ),
    )
    customers_creates(fake)

    response = await client.post(
        "/api/v1/customers", json={**SALE, "plan_id": "gold-1m"}, headers=admin
    )

    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "plan_id", "message": reason}]
    assert body["detail"] == reason
    assert fake.calls("customers") == []


async def test_a_service_refusal_reaches_the_client_unchanged(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    errors = [{"field": "product_id", "message": "unknown products: gold"}]
    refusal = problem(422, "Unknown product", "unknown products: gold", errors=errors)
    fake.on("billing", "POST", "/orders/check", lambda _: refusal)

    response = await client.post("/api/v1/customers", json=SALE, headers=admin)

    body = assert_problem(response, 422)
    # Only `instance` is the gateway's own: the path the client asked for.
    assert body == {**refusal.json(), "instance": "/api/v1/customers"}


async def test_invalid_sale_is_refused_by_the_gateway_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    sale: dict[str, Any] = {**SALE, "info": {"first_name": "Jane"}}

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 422)
    assert {"field": "info.last_name", "message": "Field required"} in body["errors"]  # type: ignore[operator]
    assert fake.requests == []


async def test_a_service_problem_keeps_its_status_and_fields(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_allows_the_sale(fake)
    fake.on(
        "customers",
        "POST",
        "/customers",
        lambda _: problem(409, "Login taken", "'jane' is in use", field="credentials.login"),
    )
    sale = {**SALE, "credentials": {"login": "jane", "password": "secret-1"}}

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 409)
    assert body["title"] == "Login taken"
    assert body["field"] == "credentials.login"
    assert body["instance"] == "/api/v1/customers"


async def test_unreachable_service_is_503_naming_it(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("billing", "POST", "/orders/check", unreachable)

    response = await client.post("/api/v1/customers", json=SALE, headers=admin)

    body = assert_problem(response, 503)
    assert body["title"] == "Service unavailable"
    assert body["service"] == "billing"
    assert fake.calls("customers") == []


async def test_failing_service_is_502_naming_it(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", "/customers", 500, {"title": "Internal Server Error"})

    response = await client.get("/api/v1/customers", headers=admin)

    body = assert_problem(response, 502)
    assert body["service"] == "customers"


async def test_list_passes_every_filter_through(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    page = {"items": [customer()], "next_cursor": "abc", "total": 1}
    fake.answer("customers", "GET", "/customers", 200, page)

    response = await client.get(
        "/api/v1/customers",
        params=[
            ("status", "active"),
            ("status", "trial"),
            ("source", "manual"),
            ("webshop_id", "demo"),
            ("product_id", "basic"),
            ("expires_before", "2027-01-01T00:00:00Z"),
            ("q", "doe"),
            ("sort", "-expires_at"),
            ("limit", "10"),
            ("cursor", "xyz"),
        ],
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["id"] == CUSTOMER_ID
    assert (response.json()["next_cursor"], response.json()["total"]) == ("abc", 1)
    (call,) = fake.calls("customers")
    assert call.url.params.get_list("status") == ["active", "trial"]
    assert dict(call.url.params) | {"status": None} == {
        "status": None,
        "source": "manual",
        "webshop_id": "demo",
        "product_id": "basic",
        "expires_before": "2027-01-01T00:00:00+00:00",
        "q": "doe",
        "sort": "-expires_at",
        "limit": "10",
        "cursor": "xyz",
    }


async def test_list_refuses_an_unknown_status_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    response = await client.get("/api/v1/customers?status=sleeping", headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["status.0"]  # type: ignore[attr-defined]
    assert fake.requests == []


async def test_transactions_are_proxied_from_billing(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"/customers/{CUSTOMER_ID}/transactions"
    fake.answer("billing", "GET", path, 200, transactions())

    response = await client.get(f"/api/v1{path}?limit=5&cursor=c1", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["balance"] == {"EUR": "9.99"}
    assert response.json()["items"][0]["amount"] == "9.99"
    (call,) = fake.calls("billing")
    assert dict(call.url.params) == {"limit": "5", "cursor": "c1"}
