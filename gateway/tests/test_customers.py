"""Selling through the gateway, the customers list and service errors passed on, against the
real services."""

from typing import Any

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.seed import SALE, sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_auth import assert_problem


async def test_sale_is_checked_then_created_with_the_idempotency_key_passed_on(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    sale = {**SALE, "extra_product_ids": ["hbo"]}

    response = await client.post(
        "/api/v1/customers", json=sale, headers={**admin, "Idempotency-Key": "k-1"}
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending"
    assert created["password"].isdigit()
    assert created["info"]["first_name"] == "Jane"
    (check,) = services.calls("billing", "POST")
    assert check.url.path == "/orders/check"
    (create,) = services.calls("customers", "POST")
    assert create.headers["idempotency-key"] == "k-1"
    # The other services learn of the sale from customers' events: billing opens the plan.
    await services.settle()
    subscription = await client.get(
        f"/api/v1/customers/{created['id']}/subscription", headers=admin
    )
    assert subscription.status_code == 200, subscription.text
    assert subscription.json()["plan_id"] == "basic-1m"
    assert [e["product_id"] for e in subscription.json()["extras"]] == ["hbo"]


async def test_repeated_idempotency_key_answers_the_same_customer_marked_replayed(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "k-2"}

    first = await client.post("/api/v1/customers", json=SALE, headers=headers)
    again = await client.post("/api/v1/customers", json=SALE, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["password"] is None


async def test_catalog_refusal_is_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.post(
        "/api/v1/customers", json={**SALE, "plan_id": "premium-1m"}, headers=admin
    )

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["plan_id"]  # type: ignore[attr-defined]
    assert services.calls("customers") == []


async def test_a_service_refusal_reaches_the_client_unchanged(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    sale = {**SALE, "product_id": "gold"}
    fields = {"webshop_id", "product_id", "plan_id", "extra_product_ids"}
    async with services.client("billing") as billing:
        refusal = await billing.post(
            "/orders/check", json={k: v for k, v in sale.items() if k in fields}
        )

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["product_id"]  # type: ignore[attr-defined]
    # Only `instance` is the gateway's own: the path the client asked for.
    assert body == {**refusal.json(), "instance": "/api/v1/customers"}


async def test_invalid_sale_is_refused_by_the_gateway_naming_the_field(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    sale: dict[str, Any] = {**SALE, "info": {"first_name": "Jane"}}

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 422)
    assert {"field": "info.last_name", "message": "Field required"} in body["errors"]  # type: ignore[operator]
    assert services.transport.requests == []


async def test_a_service_problem_keeps_its_status_and_fields(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    sale = {**SALE, "credentials": {"login": "jane.tv", "password": "secret-1"}}
    first = await client.post("/api/v1/customers", json=sale, headers=admin)
    assert first.status_code == 201, first.text

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 409)
    assert "jane.tv" in str(body["detail"])
    assert body["instance"] == "/api/v1/customers"


async def test_unreachable_service_is_503_naming_it(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    services.down("billing")

    response = await client.post("/api/v1/customers", json=SALE, headers=admin)

    body = assert_problem(response, 503)
    assert body["title"] == "Service unavailable"
    assert body["service"] == "billing"
    assert int(response.headers["Retry-After"]) >= 1
    assert services.calls("customers") == []


async def test_failing_service_is_502_naming_it(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    async def failing(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"title": "Internal Server Error"})

    services.replace("customers", failing)

    response = await client.get("/api/v1/customers", headers=admin)

    body = assert_problem(response, 502)
    assert body["service"] == "customers"


async def test_list_filters_reach_the_customers_service(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    jane = await sell(client, services, admin)
    await sell(client, services, admin, info={**SALE["info"], "last_name": "Roe"})
    await sell(client, services, admin, product_id="premium", plan_id="premium-1m")

    response = await client.get(
        "/api/v1/customers",
        params=[
            ("status", "active"),
            ("status", "trial"),
            ("source", "manual"),
            ("webshop_id", "shop-eu"),
            ("product_id", "basic"),
            ("expires_before", "2999-01-01T00:00:00Z"),
            ("q", "doe"),
            ("sort", "-expires_at"),
            ("limit", "10"),
        ],
        headers=admin,
    )

    assert response.status_code == 200, response.text
    page = response.json()
    assert [c["id"] for c in page["items"]] == [jane["id"]]
    assert (page["next_cursor"], page["total"]) == (None, 1)
    assert page["items"][0]["subscription"]["product_id"] == "basic"


async def test_list_pages_with_the_services_cursor(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    for _ in range(3):
        await sell(client, services, admin)

    first = await client.get("/api/v1/customers", params={"limit": 2}, headers=admin)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/api/v1/customers", params={"limit": 2, "cursor": cursor}, headers=admin
    )

    assert first.status_code == second.status_code == 200, second.text
    assert len(first.json()["items"]) == 2
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None


async def test_list_refuses_an_unknown_status_naming_the_field(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.get("/api/v1/customers?status=sleeping", headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["status.0"]  # type: ignore[attr-defined]
    assert services.transport.requests == []


async def test_transactions_are_proxied_from_billing(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    created = await sell(client, services, admin)
    renewal = {"product_id": "basic", "plan_id": "basic-12m", "extra_product_ids": []}
    renewed = await client.post(
        f"/api/v1/customers/{created['id']}/subscription/renew", json=renewal, headers=admin
    )
    assert renewed.status_code == 200, renewed.text
    path = f"/api/v1/customers/{created['id']}/transactions"

    first = await client.get(path, params={"limit": 1}, headers=admin)
    cursor = first.json()["next_cursor"]
    second = await client.get(path, params={"limit": 1, "cursor": cursor}, headers=admin)

    assert first.status_code == second.status_code == 200, second.text
    # What the customer owes: two charges, nothing paid yet.
    assert first.json()["balance"] == {"EUR": "108.99"}
    assert first.json()["items"][0]["amount"] == "99.00"
    assert first.json()["items"][0]["balance_after"] == "108.99"
    assert second.json()["items"][0]["amount"] == "9.99"
    assert second.json()["next_cursor"] is None
