"""Profiles, bulk-add jobs, erasure (with the audit log scrubbed) and the merged timeline,
through the gateway against fake services."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers
from gateway.tests.fakes import CUSTOMER_ID, FakeServices, json_body, problem, unreachable
from gateway.tests.test_audit import raw_audit_rows
from gateway.tests.test_auth import SALE, assert_problem
from gateway.tests.test_customers import billing_allows_the_sale, customers_creates

BASE = f"/customers/{CUSTOMER_ID}"
API = f"/api/v1{BASE}"
PROFILE_ID = "5f0c2a77-3f7b-4d1e-9a51-0d8a2b6c9e11"
BATCH_ID = "7d3b8a70-2f5e-4c8a-9b61-1e2f3a4b5c6d"


def profile(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": PROFILE_ID,
        "customer_id": CUSTOMER_ID,
        "name": "Kids",
        "kids": True,
        "has_pin": True,
        "avatar": "owl",
        "is_default": False,
        "created_at": "2026-11-28T10:00:00Z",
        "updated_at": "2026-11-28T10:00:00Z",
    }
    record.update(changes)
    return record


def batch(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": BATCH_ID,
        "status": "queued",
        "webshop_id": "demo",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": [],
        "first_name": "Hotel",
        "last_name_prefix": "Room ",
        "login_prefix": None,
        "first_number": 1,
        "count": 3,
        "digits": 1,
        "created": 0,
        "failed": 0,
        "created_at": "2026-11-28T10:00:00Z",
        "started_at": None,
        "completed_at": None,
    }
    record.update(changes)
    return record


JOB = {
    "webshop_id": "demo",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "count": 3,
    "first_name": "Hotel",
    "last_name_prefix": "Room ",
}


async def audit_of(client: httpx.AsyncClient, admin: Headers, **params: str) -> list[Any]:
    """The audit entries of this module's writes (not those of setting up operators)."""
    response = await client.get("/api/v1/audit", params=params, headers=admin)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    ours = ("profile", "customer_batch", "customer")
    return [i for i in items if i["action"].split(".")[0] in ours]


# --- profiles -------------------------------------------------------------------------------


async def test_profile_create_passes_the_key_on_and_is_audited_without_the_pin(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    fake.answer("customers", "POST", f"{BASE}/profiles", 201, profile())

    response = await client.post(
        f"{API}/profiles",
        json={"name": "Kids", "kids": True, "pin": "918273", "avatar": "owl"},
        headers={**admin, "Idempotency-Key": "p-1"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["has_pin"] is True and "pin" not in response.json()
    (sent,) = fake.calls("customers", "POST")
    assert sent.headers["idempotency-key"] == "p-1"
    assert json_body(sent)["pin"] == "918273"
    (entry,) = await audit_of(client, admin, customer_id=CUSTOMER_ID)
    assert (entry["action"], entry["status_code"]) == ("profile.create", 201)
    assert all("918273" not in row for row in raw_audit_rows(settings))


async def test_profile_refusals_name_the_field_before_any_call(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    refusals = (({"name": "K", "pin": "12"}, "pin"), ({"name": "K", "avatar": "x"}, "avatar"))
    for body, field in refusals:
        response = await client.post(f"{API}/profiles", json=body, headers=admin)
        problem_body = assert_problem(response, 422)
        assert field in str(problem_body["errors"])
    assert fake.calls("customers") == []


async def test_profile_update_sends_only_the_fields_given_and_audits_before_and_after(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", f"{BASE}/profiles", 200, {"items": [profile()]})
    fake.answer("customers", "PATCH", f"{BASE}/profiles/{PROFILE_ID}", 200, profile(has_pin=False))

    response = await client.patch(f"{API}/profiles/{PROFILE_ID}", json={"pin": None}, headers=admin)

    assert response.status_code == 200, response.text
    (sent,) = fake.calls("customers", "PATCH")
    assert json_body(sent) == {"pin": None}
    (entry,) = await audit_of(client, admin, customer_id=CUSTOMER_ID)
    assert (entry["before"]["has_pin"], entry["after"]["has_pin"]) == (True, False)


async def test_profile_delete_of_an_unknown_profile_is_404_and_the_last_is_409(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", f"{BASE}/profiles", 200, {"items": [profile()]})
    fake.on(
        "customers",
        "DELETE",
        f"{BASE}/profiles/{PROFILE_ID}",
        lambda _: problem(409, "Last profile", "an account keeps at least one profile"),
    )

    unknown = await client.delete(f"{API}/profiles/other-profile", headers=admin)
    last = await client.delete(f"{API}/profiles/{PROFILE_ID}", headers=admin)

    assert_problem(unknown, 404)
    assert_problem(last, 409)


async def test_viewers_read_profiles_but_do_not_write_them(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    fake.answer("customers", "GET", f"{BASE}/profiles", 200, {"items": [profile()]})

    listed = await client.get(f"{API}/profiles", headers=viewer)
    refused = await client.post(f"{API}/profiles", json={"name": "X"}, headers=viewer)

    assert listed.status_code == 200 and listed.json()["items"][0]["id"] == PROFILE_ID
    assert_problem(refused, 403)


# --- bulk add -------------------------------------------------------------------------------


async def test_a_job_is_checked_against_the_catalog_then_queued_202_and_audited(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_allows_the_sale(fake)
    fake.answer("customers", "POST", "/customer-batches", 202, batch())

    response = await client.post(
        "/api/v1/customer-batches", json=JOB, headers={**admin, "Idempotency-Key": "b-1"}
    )

    assert response.status_code == 202, response.text
    assert response.json()["id"] == BATCH_ID
    (check,) = fake.calls("billing", "POST")
    assert json_body(check)["plan_id"] == "basic-1m"
    (queued,) = fake.calls("customers", "POST")
    assert queued.headers["idempotency-key"] == "b-1"
    assert json_body(queued)["last_name_prefix"] == "Room "
    (entry,) = await audit_of(client, admin)
    assert (entry["action"], entry["status_code"]) == ("customer_batch.create", 202)
    assert entry["after"]["count"] == 3


async def test_a_job_the_catalog_refuses_is_422_and_never_queued(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "billing",
        "POST",
        "/orders/check",
        lambda _: problem(
            422,
            "Not sold",
            "plan not sold",
            errors=[{"field": "plan_id", "message": "plan not sold"}],
        ),
    )

    response = await client.post("/api/v1/customer-batches", json=JOB, headers=admin)

    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "plan_id", "message": "plan not sold"}]
    assert fake.calls("customers") == []


async def test_job_size_is_limited(client: httpx.AsyncClient, admin: Headers) -> None:
    for count in (0, 10_001):
        response = await client.post(
            "/api/v1/customer-batches", json={**JOB, "count": count}, headers=admin
        )
        assert "count" in str(assert_problem(response, 422)["errors"])


async def test_job_progress_for_viewers_items_with_passwords_for_operators_only(
    client: httpx.AsyncClient,
    fake: FakeServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
    settings: GatewaySettings,
) -> None:
    viewer = await operator_with_role("viewer")
    fake.answer("customers", "GET", f"/customer-batches/{BATCH_ID}", 200, batch(created=2))
    item = {
        "number": 1,
        "status": "created",
        "customer_id": CUSTOMER_ID,
        "last_name": "Room 1",
        "login": "4812093377",
        "password": "77001234",
        "password_revealed_at": "2026-11-28T10:05:00Z",
        "error": None,
    }
    fake.answer(
        "customers",
        "GET",
        f"/customer-batches/{BATCH_ID}/items",
        200,
        {"items": [item], "next_cursor": None},
    )

    progress = await client.get(f"/api/v1/customer-batches/{BATCH_ID}", headers=viewer)
    refused = await client.get(f"/api/v1/customer-batches/{BATCH_ID}/items", headers=viewer)
    items = await client.get(f"/api/v1/customer-batches/{BATCH_ID}/items", headers=admin)

    assert progress.status_code == 200 and progress.json()["created"] == 2
    assert_problem(refused, 403)
    assert items.status_code == 200 and items.json()["items"][0]["password"] == "77001234"
    (entry,) = await audit_of(client, admin)
    assert entry["action"] == "customer_batch.items_read"
    assert entry["after"] == {"batch_id": BATCH_ID, "passwords_revealed_for": [1]}
    assert all("77001234" not in row for row in raw_audit_rows(settings))


# --- erasure --------------------------------------------------------------------------------


async def test_erasure_scrubs_the_customers_older_audit_entries_and_is_itself_audited(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    billing_allows_the_sale(fake)
    customers_creates(fake)
    created = await client.post("/api/v1/customers", json=SALE, headers=admin)
    assert created.status_code == 201
    assert any("Jane" in row for row in raw_audit_rows(settings))
    fake.on("customers", "DELETE", BASE, lambda _: httpx.Response(204))

    first = await client.delete(API, headers=admin)
    again = await client.delete(API, headers=admin)

    assert (first.status_code, again.status_code) == (204, 204)
    assert not any("Jane" in row or "4812093377" in row for row in raw_audit_rows(settings))
    entries = await audit_of(client, admin, customer_id=CUSTOMER_ID)
    assert [e["action"] for e in entries] == ["customer.erase", "customer.erase", "customer.create"]
    assert entries[-1]["after"] == {"scrubbed": "customer erased"}
    assert entries[-1]["actor"] == "admin"  # who did what and when stays
    assert entries[1]["after"] == {"erased": True, "audit_entries_scrubbed": 1}
    assert entries[0]["status_code"] == 204


async def test_erasing_an_unknown_customer_is_404_and_scrubs_nothing(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("customers", "DELETE", BASE, lambda _: problem(404, "Customer not found", "none"))

    response = await client.delete(API, headers=admin)

    assert_problem(response, 404)


async def test_support_may_not_erase(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    support = await operator_with_role("support")

    response = await client.delete(API, headers=support)

    assert_problem(response, 403)
    assert fake.calls("customers") == []


# --- timeline -------------------------------------------------------------------------------


def events(service: str, *entries: tuple[str, str]) -> dict[str, Any]:
    return {
        "items": [
            {"at": at, "service": service, "kind": kind, "summary": kind, "ref": None}
            for at, kind in entries
        ],
        "next_cursor": None,
    }


async def test_timeline_merges_the_services_newest_first_and_names_the_missing_ones(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"{BASE}/timeline"
    created = ("2026-11-28T10:00:00Z", "customer.created")
    fake.answer("customers", "GET", path, 200, events("customers", created))
    fake.answer(
        "billing",
        "GET",
        path,
        200,
        events(
            "billing",
            ("2026-11-28T12:00:00Z", "subscription.renewed"),
            ("2026-11-28T10:00:01Z", "subscription.opened"),
        ),
    )
    fake.on("tickets", "GET", path, unreachable)

    async def slow(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=events("activity"))

    fake.on("activity", "GET", path, slow)

    response = await client.get(f"{API}/timeline", params={"limit": 50}, headers=admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["kind"] for i in body["items"]] == [
        "subscription.renewed",
        "subscription.opened",
        "customer.created",
    ]
    assert sorted(body["unavailable"]) == ["activity", "tickets"]
    (billing_call,) = fake.calls("billing", "GET")
    assert billing_call.url.params["limit"] == "50"


async def test_timeline_of_an_unknown_customer_is_404_and_a_broken_answer_unavailable(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"{BASE}/timeline"
    fake.on("customers", "GET", path, lambda _: problem(404, "Customer not found", "none"))
    assert_problem(await client.get(f"{API}/timeline", headers=admin), 404)

    fake.answer("customers", "GET", path, 200, events("customers"))
    fake.answer("billing", "GET", path, 200, {"items": [{"at": "yesterday"}]})
    fake.answer("tickets", "GET", path, 200, events("tickets"))
    fake.on("activity", "GET", path, lambda _: problem(404, "Not Found", "none"))
    response = await client.get(f"{API}/timeline", params={"limit": 1}, headers=admin)

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None, "unavailable": ["billing"]}
