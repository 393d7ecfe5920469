"""Subscription actions and the catalog admin through the gateway, against the real billing:
one billing call each, the Idempotency-Key passed on, roles enforced, billing's problems passed
on, every write audited."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.tests.conftest import Headers
from gateway.tests.seed import sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_auth import assert_problem

ACTIONS = [
    ("POST", "/renew", {"product_id": "basic", "plan_id": "basic-1m"}, "subscription.renew"),
    (
        "POST",
        "/change",
        {"product_id": "premium", "plan_id": "premium-1m", "starts": "at_expiry"},
        "subscription.change",
    ),
    (
        "PUT",
        "/expiry",
        {"expires_at": "2099-01-31T23:00:00+01:00", "reason": "outage"},
        "subscription.expiry",
    ),
    ("POST", "/extras", {"product_id": "hbo", "plan_id": "hbo-1m"}, "subscription.extra_add"),
    ("DELETE", "/extras/sports-plus", None, "subscription.extra_remove"),
    ("POST", "/cancel", {"when": "at_period_end"}, "subscription.cancel"),
]


async def sold(client: httpx.AsyncClient, services: InProcessServices, admin: Headers) -> str:
    """A customer on basic-1m with the sports-plus extra; its id."""
    created = await sell(client, services, admin, extra_product_ids=["sports-plus"])
    customer_id: str = created["id"]
    return customer_id


@pytest.mark.parametrize(("method", "suffix", "body", "audit_action"), ACTIONS)
async def test_each_action_is_one_billing_call_with_the_key_passed_on_and_audited(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    audit_action: str,
) -> None:
    customer_id = await sold(client, services, admin)
    url = f"/api/v1/customers/{customer_id}/subscription{suffix}"
    headers = {**admin, "Idempotency-Key": "k-7"}

    response = await client.request(method, url, json=body, headers=headers)
    again = await client.request(method, url, json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert again.json() == response.json()  # the key reached billing: one effect
    assert response.json()["subscription"]["customer_id"] == customer_id
    (call,) = [c for c in services.calls("billing", method) if c.url.path.endswith(suffix)][:1]
    assert call.headers["idempotency-key"] == "k-7"
    audit = await client.get(f"/api/v1/audit?customer_id={customer_id}", headers=admin)
    # Newest first: the retry's entry, then the first call's.
    retry, entry = audit.json()["items"][:2]
    assert (entry["action"], entry["status_code"]) == (audit_action, 200)
    assert retry["action"] == audit_action
    assert entry["before"]["plan_id"] == "basic-1m"
    assert entry["after"]["subscription"]["customer_id"] == customer_id


async def test_a_sale_goes_through_the_customers_webshop_with_its_payment(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    created = await sell(client, services, admin, webshop_id="shop-us")
    api = f"/api/v1/customers/{created['id']}/subscription"
    cancelled = await client.post(f"{api}/cancel", json={"when": "now"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    posts = len(services.calls("billing", "POST"))
    body = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "cash"}}

    response = await client.post(api, json=body, headers={**admin, "Idempotency-Key": "k-8"})

    assert response.status_code == 200, response.text
    assert response.json()["subscription"]["webshop_id"] == "shop-us"
    assert response.json()["transaction"]["currency"] == "USD"
    (call,) = services.calls("billing", "POST")[posts:]
    assert call.headers["idempotency-key"] == "k-8"
    assert json.loads(call.content) == {
        **body,
        "extra_product_ids": [],
        "payment": {"method": "cash", "reference": None},
        "repeat_trial": False,
        "webshop_id": "shop-us",
    }
    audit = await client.get(f"/api/v1/audit?customer_id={created['id']}", headers=admin)
    entry = audit.json()["items"][0]
    assert (entry["action"], entry["status_code"]) == ("subscription.sell", 200)
    assert entry["before"]["status"] == "cancelled"


async def test_a_running_subscription_is_not_sold_again(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await sold(client, services, admin)

    response = await client.post(
        f"/api/v1/customers/{customer_id}/subscription",
        json={"product_id": "basic", "plan_id": "basic-1m"},
        headers=admin,
    )

    assert_problem(response, 409)


async def test_a_payment_method_outside_the_list_is_refused_naming_the_field(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    body = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "barter"}}
    response = await client.post(
        "/api/v1/customers/c-1/subscription/renew", json=body, headers=admin
    )
    assert_problem(response, 422)
    assert response.json()["errors"][0]["field"] == "payment.method"
    assert services.calls("billing") == []


async def test_the_expiry_with_an_offset_reaches_billing_as_given(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await sold(client, services, admin)
    body = {"expires_at": "2099-01-31T23:00:00+01:00", "reason": "outage"}

    response = await client.put(
        f"/api/v1/customers/{customer_id}/subscription/expiry", json=body, headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.json()["subscription"]["expires_at"].startswith("2099-01-31T22:00:00")


async def test_a_naive_expiry_and_a_bad_body_are_refused_naming_the_field(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    api = "/api/v1/customers/c-1/subscription"
    naive = await client.put(
        f"{api}/expiry", json={"expires_at": "2027-01-31T23:00:00", "reason": "x"}, headers=admin
    )
    assert "expires_at" in str(assert_problem(naive, 422)["errors"])
    bad = await client.post(
        f"{api}/change",
        json={"product_id": "basic", "plan_id": "b", "starts": "later"},
        headers=admin,
    )
    assert "starts" in str(assert_problem(bad, 422)["errors"])
    assert services.calls("billing", "PUT") == services.calls("billing", "POST") == []


async def test_billing_refusals_are_passed_on_as_problems(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await sold(client, services, admin)

    response = await client.post(
        f"/api/v1/customers/{customer_id}/subscription/renew",
        json={"product_id": "basic", "plan_id": "nope"},
        headers=admin,
    )

    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["plan_id"]  # type: ignore[attr-defined]
    audit = await client.get(f"/api/v1/audit?customer_id={customer_id}", headers=admin)
    assert audit.json()["items"][0]["status_code"] == 422


async def test_viewers_read_but_cannot_act(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    customer_id = await sold(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/subscription"
    viewer = await operator_with_role("viewer")
    posts = len(services.calls("billing", "POST"))

    read = await client.get(api, headers=viewer)
    renew = await client.post(
        f"{api}/renew", json={"product_id": "basic", "plan_id": "basic-1m"}, headers=viewer
    )

    assert read.status_code == 200 and read.json()["max_devices"] == 2
    assert_problem(renew, 403)
    assert len(services.calls("billing", "POST")) == posts


async def test_invoices_are_paged_from_billing(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await sold(client, services, admin)
    renewal = {"product_id": "basic", "plan_id": "basic-1m"}
    api = f"/api/v1/customers/{customer_id}"
    renewed = await client.post(f"{api}/subscription/renew", json=renewal, headers=admin)
    assert renewed.status_code == 200, renewed.text

    first = await client.get(f"{api}/invoices", params={"limit": 1}, headers=admin)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        f"{api}/invoices", params={"limit": 1, "cursor": cursor}, headers=admin
    )

    assert first.status_code == second.status_code == 200, second.text
    assert cursor is not None and len(cursor) > 20  # billing's keyset cursor, passed as it is
    assert first.json()["items"][0]["id"] != second.json()["items"][0]["id"]
    assert second.json()["next_cursor"] is None


async def test_catalog_edits_are_admin_only_and_audited(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    operator = await operator_with_role("operator")
    change = {"max_devices": 3, "device_policy": "evict_oldest"}
    assert_problem(await client.patch("/api/v1/products/basic", json=change, headers=operator), 403)

    edited = await client.patch("/api/v1/products/basic", json=change, headers=admin)
    archived = await client.delete("/api/v1/products/basic/plans/basic-12m", headers=admin)

    assert edited.status_code == 200, edited.text
    assert (edited.json()["max_devices"], edited.json()["device_policy"]) == (3, "evict_oldest")
    assert edited.json()["name"] == "Basic TV"  # only what was given changed
    assert archived.status_code == 200, archived.text
    plans = {p["id"]: p["archived"] for p in archived.json()["plans"]}
    assert plans == {"basic-1m": False, "basic-12m": True}
    audit = await client.get("/api/v1/audit?actor=admin", headers=admin)
    actions = [e["action"] for e in audit.json()["items"]]
    assert actions[:2] == ["plan.archive", "product.update"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/products/basic", {"subscription_type": "trial"}, "subscription_type"),
        (
            "/api/v1/products/basic/plans",
            {"id": "p", "name": "P", "length": -1, "unit": "days", "prices": {"EUR": "1"}},
            "length",
        ),
        (
            "/api/v1/products/basic/plans",
            {"id": "p", "name": "P", "length": 1, "unit": "days", "prices": {"EUR": "-1"}},
            "prices.EUR",
        ),
        (
            "/api/v1/products/basic/plans/basic-1m",
            {"prices": {"EUR": "-19.99"}},
            "prices.EUR",
        ),
        (
            "/api/v1/products/basic/plans",
            {"id": "p", "name": "P", "length": 1, "unit": "days", "prices": {"USB": "1"}},
            "prices.USB.[key]",
        ),
        ("/api/v1/webshops/shop-eu", {"currencies": ["EUR", "CHR"]}, "currencies.1"),
        (
            "/api/v1/webshops",
            {"id": "w", "name": "W", "currencies": ["USB"], "product_ids": []},
            "currencies.0",
        ),
    ],
    ids=[
        "fixed-type",
        "negative-length",
        "negative-price",
        "negative-price-update",
        "usb-price",
        "chr-webshop-update",
        "usb-webshop",
    ],
)
async def test_catalog_refusals_name_the_field(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    method = "POST" if path.endswith(("plans", "webshops")) else "PATCH"
    response = await client.request(method, path, json=body, headers=admin)
    errors: list[dict[str, str]] = assert_problem(response, 422)["errors"]  # type: ignore[assignment]
    assert field in [e["field"] for e in errors]
    assert services.calls("billing") == []


async def test_webshops_are_edited_and_archived_and_one_product_read(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    edited = await client.patch(
        "/api/v1/webshops/shop-us", json={"product_ids": ["basic"]}, headers=admin
    )
    archived = await client.delete("/api/v1/webshops/shop-us", headers=admin)
    product = await client.get("/api/v1/products/basic", headers=admin)
    missing = await client.get("/api/v1/products/..%2Fwebshops", headers=admin)

    assert edited.status_code == 200, edited.text
    assert edited.json()["product_ids"] == ["basic"]
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True and archived.json()["archived_at"] is not None
    assert product.json()["plans"][0]["id"] == "basic-1m"
    assert missing.status_code in (404, 422)


@pytest.mark.parametrize("suffix", ["/renew", "/change"])
async def test_only_an_admin_may_sell_a_trial_again(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
    suffix: str,
) -> None:
    created = await sell(client, services, admin, product_id="trial", plan_id="trial-7d")
    api = f"/api/v1/customers/{created['id']}/subscription{suffix}"
    body = {"product_id": "trial", "plan_id": "trial-7d", "repeat_trial": True}
    operator = await operator_with_role("operator")
    posts = len(services.calls("billing", "POST"))

    refused = await client.post(api, json=body, headers=operator)
    problem_body = assert_problem(refused, 403)
    assert problem_body["errors"] == [{"field": "repeat_trial", "message": "admins only"}]
    assert len(services.calls("billing", "POST")) == posts
    again = await client.post(api, json={**body, "repeat_trial": False}, headers=admin)
    assert "product_id" in str(assert_problem(again, 422)["errors"])

    allowed = await client.post(api, json=body, headers=admin)
    assert allowed.status_code == 200, allowed.text
    call = services.calls("billing", "POST")[-1]
    assert json.loads(call.content)["repeat_trial"] is True
