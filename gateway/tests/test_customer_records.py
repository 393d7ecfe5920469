"""Editing a customer, the account and the CSV export through the gateway, against the real
customers and billing services: checks made before the customers service is called, what is
passed on, and what the audit log keeps."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers
from gateway.tests.seed import SALE, sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_audit import raw_audit_rows
from gateway.tests.test_auth import assert_problem

CREDENTIALS = {"login": "jane.doe", "password": "secret-1"}


async def jane(client: httpx.AsyncClient, services: InProcessServices, admin: Headers) -> str:
    created = await sell(client, services, admin, credentials=CREDENTIALS)
    customer_id: str = created["id"]
    return customer_id


async def audit_of(
    client: httpx.AsyncClient, admin: Headers, customer_id: str, action: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/audit?customer_id={customer_id}", headers=admin)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["action"] == action]


async def test_edit_is_passed_on_as_sent_and_audited_with_before_and_after(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await jane(client, services, admin)

    response = await client.patch(
        f"/api/v1/customers/{customer_id}",
        json={"info": {"mobile": "+420 777 000 111", "email": None}, "webshop_id": "shop-us"},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.json()["webshop_id"] == "shop-us"
    assert response.json()["info"]["mobile"] == "+420777000111"
    assert response.json()["info"]["email"] is None
    (call,) = services.calls("customers", "PATCH")
    assert json.loads(call.content) == {
        "info": {"mobile": "+420777000111", "email": None},
        "webshop_id": "shop-us",
    }
    [entry] = await audit_of(client, admin, customer_id, "customer.update")
    assert entry["status_code"] == 200
    assert entry["before"]["webshop_id"] == "shop-eu"
    assert entry["after"]["webshop_id"] == "shop-us"


async def test_a_webshop_billing_refuses_to_move_to_is_422_naming_it_and_nothing_changes(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await jane(client, services, admin)

    response = await client.patch(
        f"/api/v1/customers/{customer_id}", json={"webshop_id": "nope"}, headers=admin
    )

    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "webshop_id", "message": "webshop 'nope' is unknown"}]
    assert services.calls("customers", "PATCH") == []


async def test_invalid_info_is_refused_by_the_gateway_naming_the_field(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.patch(
        "/api/v1/customers/c-1", json={"info": {"country": "XX", "phone": "12"}}, headers=admin
    )

    body = assert_problem(response, 422)
    fields = sorted(e["field"] for e in body["errors"])  # type: ignore[attr-defined]
    assert fields == ["info.country", "info.phone"]
    assert services.transport.requests == []


async def test_a_viewer_can_read_the_account_but_not_change_it(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    customer_id = await jane(client, services, admin)
    viewer = await operator_with_role("viewer")
    api = f"/api/v1/customers/{customer_id}/account"

    shown = await client.get(api, headers=viewer)
    changed = await client.patch(api, json={"disabled": True}, headers=viewer)
    reset = await client.post(f"{api}/password", headers=viewer)

    assert (shown.status_code, shown.json()["login"]) == (200, "jane.doe")
    assert_problem(changed, 403)
    assert_problem(reset, 403)
    assert services.calls("customers", "PATCH") == []


async def test_account_change_passes_the_idempotency_key_and_is_audited(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await jane(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/account"
    headers = {**admin, "Idempotency-Key": "a-1"}

    response = await client.patch(api, json={"disabled": True}, headers=headers)
    again = await client.patch(api, json={"disabled": True}, headers=headers)

    assert (response.status_code, response.json()["disabled"]) == (200, True)
    assert again.json() == response.json()
    call = services.calls("customers", "PATCH")[0]
    assert call.headers["idempotency-key"] == "a-1"
    assert json.loads(call.content) == {"disabled": True}
    entry = (await audit_of(client, admin, customer_id, "account.update"))[-1]
    assert (entry["before"]["disabled"], entry["after"]["disabled"]) == (False, True)
    customer = await client.get(f"/api/v1/customers/{customer_id}", headers=admin)
    assert customer.json()["status"] == "disabled"


async def test_a_taken_login_is_the_services_409(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await jane(client, services, admin)
    await sell(client, services, admin, credentials={"login": "ann.tv", "password": "secret-1"})

    response = await client.patch(
        f"/api/v1/customers/{customer_id}/account", json={"login": "Ann.TV"}, headers=admin
    )

    body = assert_problem(response, 409)
    assert "Ann.TV" in str(body["detail"])


async def test_password_reset_returns_the_password_once_and_never_audits_it(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    customer_id = await jane(client, services, admin)

    response = await client.post(
        f"/api/v1/customers/{customer_id}/account/password",
        headers={**admin, "Idempotency-Key": "p-1"},
    )

    assert response.status_code == 200, response.text
    password = response.json()["password"]
    assert password.isdigit()
    (call,) = services.calls("customers", "POST")[1:]
    assert call.headers["idempotency-key"] == "p-1"
    [entry] = await audit_of(client, admin, customer_id, "account.password_reset")
    assert entry["after"] == {
        "customer_id": customer_id,
        "password_reset_at": response.json()["password_reset_at"],
    }
    assert all(password not in row for row in raw_audit_rows(settings))


async def test_csv_export_streams_the_services_csv_with_the_filters(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await jane(client, services, admin)
    bob = {"first_name": "Bob", "last_name": "Roe", "email": "bob@example.com"}
    await sell(client, services, admin, info=bob)

    response = await client.get(
        "/api/v1/customers/export.csv",
        params=[("status", "active"), ("q", "jan"), ("sort", "name")],
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("id,status,source,login,")
    assert [line.split(",")[0] for line in lines[1:]] == [customer_id]
    (call,) = [c for c in services.calls("customers", "GET") if c.url.path.endswith(".csv")]
    assert list(call.url.params.multi_items()) == [
        ("status", "active"),
        ("q", "jan"),
        ("sort", "name"),
    ]


async def test_csv_export_passes_a_service_problem_on(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    async def refusing(_: httpx.Request) -> httpx.Response:
        body = {"type": "about:blank", "title": "Bad request", "status": 400, "detail": "no"}
        return httpx.Response(400, json=body)

    services.replace("customers", refusing)

    response = await client.get("/api/v1/customers/export.csv", headers=admin)

    assert assert_problem(response, 400)["detail"] == "no"


async def test_list_sorts_by_status_and_groups_inactive(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    active = await jane(client, services, admin)
    pending = await client.post("/api/v1/customers", json=SALE, headers=admin)  # not settled
    assert pending.status_code == 201, pending.text

    inactive = await client.get(
        "/api/v1/customers", params={"sort": "-status", "status_group": "inactive"}, headers=admin
    )
    everyone = await client.get("/api/v1/customers", params={"sort": "status"}, headers=admin)

    assert inactive.status_code == 200, inactive.text
    assert [c["id"] for c in inactive.json()["items"]] == [pending.json()["id"]]
    assert inactive.json()["total_exact"] is True
    assert {c["id"] for c in everyone.json()["items"]} == {active, pending.json()["id"]}


async def test_adding_a_customer_with_a_phone_that_is_not_e164_is_refused_naming_it(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    sale = {**SALE, "info": {"first_name": "Jane", "last_name": "Doe", "mobile": "0777 000 111"}}

    response = await client.post("/api/v1/customers", json=sale, headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["info.mobile"]  # type: ignore[attr-defined]
    assert services.transport.requests == []
