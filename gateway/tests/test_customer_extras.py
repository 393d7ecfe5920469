"""Profiles, bulk-add jobs, erasure (with the audit log scrubbed) and the merged timeline,
through the gateway against the real services."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers
from gateway.tests.seed import sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_audit import raw_audit_rows
from gateway.tests.test_auth import assert_problem

RoleHeaders = Callable[[str], Awaitable[Headers]]
UNKNOWN_ID = "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"
JOB = {
    "webshop_id": "shop-eu",
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


async def customer(client: httpx.AsyncClient, services: InProcessServices, admin: Headers) -> str:
    customer_id: str = (await sell(client, services, admin))["id"]
    return customer_id


# --- profiles -------------------------------------------------------------------------------


async def test_profile_create_passes_the_key_on_and_is_audited_without_the_pin(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    customer_id = await customer(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/profiles"
    body = {"name": "Kids", "kids": True, "pin": "918273", "avatar": "owl"}
    headers = {**admin, "Idempotency-Key": "p-1"}

    response = await client.post(api, json=body, headers=headers)
    again = await client.post(api, json=body, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["has_pin"] is True and "pin" not in response.json()
    assert (again.status_code, again.json()["id"]) == (201, response.json()["id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    sent = services.calls("customers", "POST")[1]
    assert sent.headers["idempotency-key"] == "p-1"
    assert json.loads(sent.content)["pin"] == "918273"
    entries = await audit_of(client, admin, customer_id=customer_id)
    assert (entries[-2]["action"], entries[-2]["status_code"]) == ("profile.create", 201)
    assert all("918273" not in row for row in raw_audit_rows(settings))


async def test_profile_refusals_name_the_field_before_any_call(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    refusals = (({"name": "K", "pin": "12"}, "pin"), ({"name": "K", "avatar": "x"}, "avatar"))
    for body, field in refusals:
        response = await client.post("/api/v1/customers/c-1/profiles", json=body, headers=admin)
        problem_body = assert_problem(response, 422)
        assert field in str(problem_body["errors"])
    assert services.calls("customers") == []


async def test_profile_update_sends_only_the_fields_given_and_audits_before_and_after(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/profiles"
    created = await client.post(api, json={"name": "Kids", "pin": "918273"}, headers=admin)
    profile_id = created.json()["id"]

    response = await client.patch(f"{api}/{profile_id}", json={"pin": None}, headers=admin)

    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["has_pin"]) == ("Kids", False)
    (sent,) = services.calls("customers", "PATCH")
    assert json.loads(sent.content) == {"pin": None}
    entry = (await audit_of(client, admin, customer_id=customer_id))[0]
    assert entry["action"] == "profile.update"
    assert (entry["before"]["has_pin"], entry["after"]["has_pin"]) == (True, False)


async def test_profile_delete_of_an_unknown_profile_is_404_and_the_last_is_409(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/profiles"
    (default,) = (await client.get(api, headers=admin)).json()["items"]

    unknown = await client.delete(f"{api}/other-profile", headers=admin)
    last = await client.delete(f"{api}/{default['id']}", headers=admin)

    assert_problem(unknown, 404)
    assert_problem(last, 409)


async def test_viewers_read_profiles_but_do_not_write_them(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: RoleHeaders,
) -> None:
    customer_id = await customer(client, services, admin)
    viewer = await operator_with_role("viewer")
    api = f"/api/v1/customers/{customer_id}/profiles"

    listed = await client.get(api, headers=viewer)
    refused = await client.post(api, json={"name": "X"}, headers=viewer)

    assert listed.status_code == 200 and listed.json()["items"][0]["is_default"] is True
    assert_problem(refused, 403)


# --- bulk add -------------------------------------------------------------------------------


async def finished(client: httpx.AsyncClient, admin: Headers, batch_id: str) -> dict[str, Any]:
    """The job once its worker has done it (the worker runs in the background)."""
    async with asyncio.timeout(60):
        while True:
            job: dict[str, Any] = (
                await client.get(f"/api/v1/customer-batches/{batch_id}", headers=admin)
            ).json()
            if job["completed_at"] is not None:
                return job
            await asyncio.sleep(0.1)


async def test_a_job_is_checked_against_the_catalog_then_queued_202_and_audited(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.post(
        "/api/v1/customer-batches", json=JOB, headers={**admin, "Idempotency-Key": "b-1"}
    )

    assert response.status_code == 202, response.text
    assert response.json()["count"] == 3
    (check,) = services.calls("billing", "POST")
    assert json.loads(check.content)["plan_id"] == "basic-1m"
    (queued,) = services.calls("customers", "POST")
    assert queued.headers["idempotency-key"] == "b-1"
    assert json.loads(queued.content)["last_name_prefix"] == "Room "
    (entry,) = await audit_of(client, admin)
    assert (entry["action"], entry["status_code"]) == ("customer_batch.create", 202)
    assert entry["after"]["count"] == 3


async def test_a_job_the_catalog_refuses_is_422_and_never_queued(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    job = {**JOB, "plan_id": "premium-1m"}

    response = await client.post("/api/v1/customer-batches", json=job, headers=admin)

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["plan_id"]  # type: ignore[attr-defined]
    assert services.calls("customers") == []


async def test_job_size_is_limited(client: httpx.AsyncClient, admin: Headers) -> None:
    for count in (0, 10_001):
        response = await client.post(
            "/api/v1/customer-batches", json={**JOB, "count": count}, headers=admin
        )
        assert "count" in str(assert_problem(response, 422)["errors"])


async def test_job_progress_for_viewers_items_with_passwords_for_operators_only(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: RoleHeaders,
    settings: GatewaySettings,
) -> None:
    services.start_batch_worker()
    viewer = await operator_with_role("viewer")
    queued = await client.post("/api/v1/customer-batches", json=JOB, headers=admin)
    batch_id = queued.json()["id"]
    await finished(client, admin, batch_id)

    progress = await client.get(f"/api/v1/customer-batches/{batch_id}", headers=viewer)
    refused = await client.get(f"/api/v1/customer-batches/{batch_id}/items", headers=viewer)
    items = await client.get(f"/api/v1/customer-batches/{batch_id}/items", headers=admin)

    assert progress.status_code == 200 and progress.json()["created"] == 3
    assert_problem(refused, 403)
    assert items.status_code == 200, items.text
    rows = items.json()["items"]
    assert [r["last_name"] for r in rows] == ["Room 1", "Room 2", "Room 3"]
    passwords = [r["password"] for r in rows]
    assert all(p and p.isdigit() for p in passwords)
    entry = (await audit_of(client, admin))[0]
    assert entry["action"] == "customer_batch.items_read"
    assert entry["after"] == {"batch_id": batch_id, "passwords_revealed_for": [1, 2, 3]}
    assert not any(p in row for p in passwords for row in raw_audit_rows(settings))


# --- erasure --------------------------------------------------------------------------------


async def test_erasure_scrubs_the_customers_older_audit_entries_and_is_itself_audited(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    created = await sell(client, services, admin)
    customer_id, login = created["id"], created["login"]
    assert any("Jane" in row for row in raw_audit_rows(settings))
    api = f"/api/v1/customers/{customer_id}"

    first = await client.delete(api, headers=admin)
    again = await client.delete(api, headers=admin)

    assert (first.status_code, again.status_code) == (204, 204)
    assert not any("Jane" in row or login in row for row in raw_audit_rows(settings))
    entries = await audit_of(client, admin, customer_id=customer_id)
    assert [e["action"] for e in entries] == ["customer.erase", "customer.erase", "customer.create"]
    assert entries[-1]["after"] == {"scrubbed": "customer erased"}
    assert entries[-1]["actor"] == "admin"  # who did what and when stays
    assert entries[1]["after"] == {"erased": True, "audit_entries_scrubbed": 1}
    assert entries[0]["status_code"] == 204
    assert_problem(await client.get(api, headers=admin), 404)


async def test_erasing_an_unknown_customer_is_404_and_scrubs_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.delete(f"/api/v1/customers/{UNKNOWN_ID}", headers=admin)

    assert_problem(response, 404)


async def test_support_may_not_erase(
    client: httpx.AsyncClient, services: InProcessServices, operator_with_role: RoleHeaders
) -> None:
    support = await operator_with_role("support")

    response = await client.delete(f"/api/v1/customers/{UNKNOWN_ID}", headers=support)

    assert_problem(response, 403)
    assert services.calls("customers") == []


# --- timeline -------------------------------------------------------------------------------


async def test_timeline_merges_the_services_newest_first_and_names_the_missing_ones(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers, app: FastAPI
) -> None:
    customer_id = await customer(client, services, admin)
    renewal = {"product_id": "basic", "plan_id": "basic-1m"}
    api = f"/api/v1/customers/{customer_id}"
    renewed = await client.post(f"{api}/subscription/renew", json=renewal, headers=admin)
    assert renewed.status_code == 200, renewed.text
    # The suite's timeout is generous for a loaded machine; this test waits it out, so short.
    app.state.services.downstream.timeout_seconds = 0.5
    services.down("tickets")
    services.slow("activity", 5)

    response = await client.get(f"{api}/timeline", params={"limit": 50}, headers=admin)

    assert response.status_code == 200, response.text
    body = response.json()
    times = [i["at"] for i in body["items"]]
    assert times == sorted(times, reverse=True)
    assert {i["service"] for i in body["items"]} == {"customers", "billing"}
    assert len([i for i in body["items"] if i["service"] == "billing"]) >= 2
    assert sorted(body["unavailable"]) == ["activity", "tickets"]
    (billing_call,) = [c for c in services.calls("billing", "GET") if "timeline" in c.url.path]
    assert billing_call.url.params["limit"] == "50"


async def test_timeline_of_an_unknown_customer_is_404_and_a_broken_answer_unavailable(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    assert_problem(await client.get(f"/api/v1/customers/{UNKNOWN_ID}/timeline", headers=admin), 404)
    customer_id = await customer(client, services, admin)

    async def broken(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"at": "yesterday"}]})

    services.replace("billing", broken)
    response = await client.get(
        f"/api/v1/customers/{customer_id}/timeline", params={"limit": 1}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.json()["unavailable"] == ["billing"]
    assert len(response.json()["items"]) == 1
