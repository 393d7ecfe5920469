"""Editing a customer, the account and the CSV export through the gateway: checks made before
the customers service is called, what is passed on, and what the audit log keeps."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers
from gateway.tests.fakes import CUSTOMER_ID, FakeServices, customer, json_body, problem
from gateway.tests.test_audit import raw_audit_rows
from gateway.tests.test_auth import assert_problem

BASE = f"/customers/{CUSTOMER_ID}"
MOVE = f"{BASE}/webshop-move"


def move_verdict(request: httpx.Request) -> httpx.Response:
    """Billing's answer: shop-us sells the running product, any other webshop is unknown."""
    webshop_id = request.url.params["webshop_id"]
    if webshop_id == "shop-us":
        return httpx.Response(200, json={"webshop_id": webshop_id, "allowed": True})
    reason = f"webshop {webshop_id!r} is unknown"
    return httpx.Response(200, json={"webshop_id": webshop_id, "allowed": False, "reason": reason})


def account(**changes: Any) -> dict[str, Any]:
    return {
        "customer_id": CUSTOMER_ID,
        "login": "jane.doe",
        "login_generated": False,
        "disabled": False,
        "created_at": "2026-11-28T10:00:00Z",
        "updated_at": None,
        "last_login_at": None,
        "password_reset_at": None,
        **changes,
    }


async def audit_of(client: httpx.AsyncClient, admin: Headers) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/audit?customer_id={CUSTOMER_ID}", headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_edit_is_passed_on_as_sent_and_audited_with_before_and_after(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("billing", "GET", MOVE, move_verdict)
    fake.answer("customers", "GET", BASE, 200, customer())
    after = customer(webshop_id="shop-us")
    after["info"] = {**after["info"], "mobile": "+420777000111"}
    fake.answer("customers", "PATCH", BASE, 200, after)

    response = await client.patch(
        f"/api/v1{BASE}",
        json={"info": {"mobile": "+420 777 000 111", "email": None}, "webshop_id": "shop-us"},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.json()["webshop_id"] == "shop-us"
    (call,) = fake.calls("customers", "PATCH")
    assert json_body(call) == {
        "info": {"mobile": "+420777000111", "email": None},
        "webshop_id": "shop-us",
    }
    [entry] = await audit_of(client, admin)
    assert (entry["action"], entry["status_code"]) == ("customer.update", 200)
    assert entry["before"]["webshop_id"] == "demo"
    assert entry["after"]["webshop_id"] == "shop-us"


async def test_a_webshop_billing_refuses_to_move_to_is_422_naming_it_and_nothing_changes(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("billing", "GET", MOVE, move_verdict)
    fake.answer("customers", "GET", BASE, 200, customer())

    response = await client.patch(f"/api/v1{BASE}", json={"webshop_id": "nope"}, headers=admin)

    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "webshop_id", "message": "webshop 'nope' is unknown"}]
    assert fake.calls("customers", "PATCH") == []


async def test_invalid_info_is_refused_by_the_gateway_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    response = await client.patch(
        f"/api/v1{BASE}", json={"info": {"country": "XX", "phone": "12"}}, headers=admin
    )

    body = assert_problem(response, 422)
    fields = sorted(e["field"] for e in body["errors"])  # type: ignore[attr-defined]
    assert fields == ["info.country", "info.phone"]
    assert fake.requests == []


async def test_a_viewer_can_read_the_account_but_not_change_it(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    fake.answer("customers", "GET", f"{BASE}/account", 200, account())

    shown = await client.get(f"/api/v1{BASE}/account", headers=viewer)
    changed = await client.patch(f"/api/v1{BASE}/account", json={"disabled": True}, headers=viewer)
    reset = await client.post(f"/api/v1{BASE}/account/password", headers=viewer)

    assert (shown.status_code, shown.json()["login"]) == (200, "jane.doe")
    assert_problem(changed, 403)
    assert_problem(reset, 403)
    assert fake.calls("customers", "PATCH") == fake.calls("customers", "POST") == []


async def test_account_change_passes_the_idempotency_key_and_is_audited(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", f"{BASE}/account", 200, account())
    fake.answer("customers", "PATCH", f"{BASE}/account", 200, account(disabled=True))

    response = await client.patch(
        f"/api/v1{BASE}/account",
        json={"disabled": True},
        headers={**admin, "Idempotency-Key": "a-1"},
    )

    assert (response.status_code, response.json()["disabled"]) == (200, True)
    (call,) = fake.calls("customers", "PATCH")
    assert call.headers["idempotency-key"] == "a-1"
    assert json_body(call) == {"disabled": True}
    [entry] = await audit_of(client, admin)
    assert entry["action"] == "account.update"
    assert (entry["before"]["disabled"], entry["after"]["disabled"]) == (False, True)


async def test_a_taken_login_is_the_services_409_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", f"{BASE}/account", 200, account())
    fake.on(
        "customers",
        "PATCH",
        f"{BASE}/account",
        lambda _: problem(409, "Login taken", "'ann' is in use", field="login"),
    )

    response = await client.patch(f"/api/v1{BASE}/account", json={"login": "ann"}, headers=admin)

    body = assert_problem(response, 409)
    assert body["field"] == "login"


async def test_password_reset_returns_the_password_once_and_never_audits_it(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    reset = {
        "customer_id": CUSTOMER_ID,
        "password": "73910284",
        "password_reset_at": "2026-11-28T11:00:00Z",
    }
    fake.answer("customers", "POST", f"{BASE}/account/password", 200, reset)

    response = await client.post(
        f"/api/v1{BASE}/account/password", headers={**admin, "Idempotency-Key": "p-1"}
    )

    assert (response.status_code, response.json()["password"]) == (200, "73910284")
    (call,) = fake.calls("customers", "POST")
    assert call.headers["idempotency-key"] == "p-1"
    [entry] = await audit_of(client, admin)
    assert entry["action"] == "account.password_reset"
    assert entry["after"] == {
        "customer_id": CUSTOMER_ID,
        "password_reset_at": "2026-11-28T11:00:00Z",
    }
    assert all("73910284" not in row for row in raw_audit_rows(settings))


async def test_csv_export_streams_the_services_csv_with_the_filters(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"id,status\r\n"
        yield b"c-1,active\r\n"

    fake.on(
        "customers",
        "GET",
        "/customers/export.csv",
        lambda _: httpx.Response(200, content=chunks(), headers={"content-type": "text/csv"}),
    )

    response = await client.get(
        "/api/v1/customers/export.csv",
        params=[("status", "active"), ("q", "jan"), ("sort", "name")],
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "id,status\r\nc-1,active\r\n"
    (call,) = fake.calls("customers")
    assert list(call.url.params.multi_items()) == [
        ("status", "active"),
        ("q", "jan"),
        ("sort", "name"),
    ]


async def test_csv_export_passes_a_service_problem_on(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "customers",
        "GET",
        "/customers/export.csv",
        lambda _: problem(400, "Bad request", "bad filter"),
    )

    response = await client.get("/api/v1/customers/export.csv", headers=admin)

    assert_problem(response, 400)


async def test_list_sorts_by_status_and_says_when_the_total_is_not_exact(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    page = {"items": [customer()], "next_cursor": None, "total": 1001, "total_exact": False}
    fake.answer("customers", "GET", "/customers", 200, page)

    response = await client.get(
        "/api/v1/customers", params={"sort": "-status", "status_group": "inactive"}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert (response.json()["total"], response.json()["total_exact"]) == (1001, False)
    (call,) = fake.calls("customers")
    assert (call.url.params["sort"], call.url.params["status_group"]) == ("-status", "inactive")


async def test_adding_a_customer_with_a_phone_that_is_not_e164_is_refused_naming_it(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    sale = {
        "webshop_id": "demo",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "info": {"first_name": "Jane", "last_name": "Doe", "mobile": "0777 000 111"},
    }

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["info.mobile"]  # type: ignore[attr-defined]
    assert fake.requests == []
