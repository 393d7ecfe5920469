"""Subscription actions and the catalog admin through the gateway: one billing call each,
the Idempotency-Key passed on, roles enforced, billing's problems passed on, every write audited."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.tests.conftest import Headers
from gateway.tests.fakes import (
    CUSTOMER_ID,
    FakeServices,
    customer,
    json_body,
    problem,
    subscription,
)
from gateway.tests.test_auth import assert_problem
from services.billing.reports import INVOICES

BASE = f"/customers/{CUSTOMER_ID}/subscription"
API = f"/api/v1{BASE}"


def action_result(action: str = "renewed", **changes: Any) -> dict[str, Any]:
    return {
        "action": action,
        "subscription": {**subscription(), **changes},
        "transaction": {
            "id": "tx-2",
            "customer_id": CUSTOMER_ID,
            "subscription_id": "sub-1",
            "kind": "charge",
            "amount": "9.99",
            "currency": "EUR",
            "source": "operator",
            "webshop_id": "demo",
            "order_id": "op-renew-1",
            "reference": None,
            "description": "renewed Basic TV, 1 month",
            "plan_id": "basic-1m",
            "period_starts_at": "2026-12-28T10:00:00Z",
            "period_ends_at": "2027-01-28T10:00:00Z",
            "recorded_at": "2026-11-28T10:00:00Z",
        },
    }


def billing_subscription(fake: FakeServices) -> None:
    fake.answer("billing", "GET", BASE, 200, subscription())


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
        {"expires_at": "2027-01-31T23:00:00+01:00", "reason": "outage"},
        "subscription.expiry",
    ),
    ("POST", "/extras", {"product_id": "hbo", "plan_id": "hbo-1m"}, "subscription.extra_add"),
    ("DELETE", "/extras/hbo", None, "subscription.extra_remove"),
    ("POST", "/cancel", {"when": "at_period_end"}, "subscription.cancel"),
]


@pytest.mark.parametrize(("method", "suffix", "body", "audit_action"), ACTIONS)
async def test_each_action_is_one_billing_call_with_the_key_passed_on_and_audited(
    client: httpx.AsyncClient,
    fake: FakeServices,
    admin: Headers,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    audit_action: str,
) -> None:
    billing_subscription(fake)
    fake.answer("billing", method, BASE + suffix, 200, action_result())

    response = await client.request(
        method, API + suffix, json=body, headers={**admin, "Idempotency-Key": "k-7"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["transaction"]["amount"] == "9.99"
    (call,) = fake.calls("billing", method)
    assert call.headers["idempotency-key"] == "k-7"
    if body is not None:
        sent = json_body(call)
        assert {k: sent[k] for k in body if k != "expires_at"} == {
            k: v for k, v in body.items() if k != "expires_at"
        }
    audit = await client.get(f"/api/v1/audit?customer_id={CUSTOMER_ID}", headers=admin)
    [entry] = audit.json()["items"]
    assert (entry["action"], entry["status_code"]) == (audit_action, 200)
    assert entry["before"]["plan_id"] == "basic-1m"
    assert entry["after"]["transaction"]["kind"] == "charge"


async def test_a_sale_goes_through_the_customers_webshop_with_its_payment(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("billing", "GET", BASE, 404, {"title": "No subscription", "status": 404})
    bound_to_us = customer(webshop_id="shop-us")
    fake.answer("customers", "GET", f"/customers/{CUSTOMER_ID}", 200, bound_to_us)
    fake.answer("billing", "POST", BASE, 200, action_result("opened"))
    body = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "cash"}}

    response = await client.post(API, json=body, headers={**admin, "Idempotency-Key": "k-8"})

    assert response.status_code == 200, response.text
    (call,) = fake.calls("billing", "POST")
    assert call.headers["idempotency-key"] == "k-8"
    assert json_body(call) == {
        **body,
        "extra_product_ids": [],
        "payment": {"method": "cash", "reference": None},
        "repeat_trial": False,
        "webshop_id": "shop-us",
    }
    audit = await client.get(f"/api/v1/audit?customer_id={CUSTOMER_ID}", headers=admin)
    [entry] = audit.json()["items"]
    assert (entry["action"], entry["before"]) == ("subscription.sell", None)


async def test_a_payment_method_outside_the_list_is_refused_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    body = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "barter"}}
    response = await client.post(f"{API}/renew", json=body, headers=admin)
    assert_problem(response, 422)
    assert response.json()["errors"][0]["field"] == "payment.method"
    assert fake.calls("billing") == []


async def test_the_expiry_with_an_offset_reaches_billing_as_given(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_subscription(fake)
    fake.answer("billing", "PUT", f"{BASE}/expiry", 200, action_result("extended"))
    body = {"expires_at": "2027-01-31T23:00:00+01:00", "reason": "outage"}
    await client.put(f"{API}/expiry", json=body, headers=admin)
    (call,) = fake.calls("billing", "PUT")
    assert json_body(call)["expires_at"] == "2027-01-31T23:00:00+01:00"


async def test_a_naive_expiry_and_a_bad_body_are_refused_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    naive = await client.put(
        f"{API}/expiry", json={"expires_at": "2027-01-31T23:00:00", "reason": "x"}, headers=admin
    )
    assert "expires_at" in str(assert_problem(naive, 422)["errors"])
    bad = await client.post(
        f"{API}/change",
        json={"product_id": "basic", "plan_id": "b", "starts": "later"},
        headers=admin,
    )
    assert "starts" in str(assert_problem(bad, 422)["errors"])
    assert fake.calls("billing", "PUT") == fake.calls("billing", "POST") == []


async def test_billing_refusals_are_passed_on_as_problems(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    billing_subscription(fake)
    refusal = problem(
        422,
        "Order not allowed",
        "product 'basic' has no plan 'nope'",
        errors=[{"field": "plan_id", "message": "product 'basic' has no plan 'nope'"}],
    )
    fake.on("billing", "POST", f"{BASE}/renew", lambda _: refusal)
    response = await client.post(
        f"{API}/renew", json={"product_id": "basic", "plan_id": "nope"}, headers=admin
    )
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "plan_id", "message": "product 'basic' has no plan 'nope'"}]
    audit = await client.get(f"/api/v1/audit?customer_id={CUSTOMER_ID}", headers=admin)
    assert audit.json()["items"][0]["status_code"] == 422


async def test_viewers_read_but_cannot_act(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    billing_subscription(fake)
    viewer = await operator_with_role("viewer")
    read = await client.get(API, headers=viewer)
    assert read.status_code == 200 and read.json()["max_devices"] == 2
    renew = await client.post(
        f"{API}/renew", json={"product_id": "basic", "plan_id": "basic-1m"}, headers=viewer
    )
    assert_problem(renew, 403)
    assert fake.calls("billing", "POST") == []


# A cursor exactly as billing writes it (keyset: the first entry's time and id).
NEXT_INVOICE_CURSOR = INVOICES.encode(
    (datetime(2026, 11, 28, 10, tzinfo=UTC), str(uuid.UUID(int=7)))
)


async def test_invoices_are_paged_from_billing(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    page = {
        "items": [
            {
                "id": "tx-1",
                "customer_id": CUSTOMER_ID,
                "order_id": "order-1",
                "webshop_id": "demo",
                "source": "webshop",
                "currency": "EUR",
                "issued_at": "2026-11-28T10:00:00Z",
                "total": "9.99",
                "paid": "9.99",
                "due": "0.00",
                "lines": [
                    {
                        "transaction_id": "tx-1",
                        "kind": "payment",
                        "description": "opened Basic TV",
                        "amount": "9.99",
                        "period_starts_at": "2026-11-28T10:00:00Z",
                        "period_ends_at": "2026-12-28T10:00:00Z",
                    }
                ],
            }
        ],
        "next_cursor": NEXT_INVOICE_CURSOR,
    }
    fake.answer("billing", "GET", f"/customers/{CUSTOMER_ID}/invoices", 200, page)
    response = await client.get(
        f"/api/v1/customers/{CUSTOMER_ID}/invoices?limit=1&cursor={NEXT_INVOICE_CURSOR}",
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] == NEXT_INVOICE_CURSOR
    (call,) = fake.calls("billing", "GET")
    assert call.url.params["limit"] == "1"
    assert call.url.params["cursor"] == NEXT_INVOICE_CURSOR


PRODUCT = {
    "id": "basic",
    "name": "Basic TV",
    "kind": "base",
    "subscription_type": "regular",
    "max_devices": 3,
    "starts_on_first_login": False,
    "packages": [],
    "device_policy": "evict_oldest",
    "mapping_id": None,
    "archived": False,
    "archived_at": None,
    "plans": [
        {
            "id": "basic-1m",
            "name": "1 month",
            "length": 1,
            "unit": "months",
            "prices": {"EUR": "9.99"},
            "archived": False,
            "archived_at": None,
        }
    ],
}


async def test_catalog_edits_are_admin_only_and_audited(
    client: httpx.AsyncClient,
    fake: FakeServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    fake.answer("billing", "PATCH", "/products/basic", 200, PRODUCT)
    fake.answer("billing", "DELETE", "/products/basic/plans/basic-1m", 200, PRODUCT)
    operator = await operator_with_role("operator")
    change = {"max_devices": 3, "device_policy": "evict_oldest"}
    assert_problem(await client.patch("/api/v1/products/basic", json=change, headers=operator), 403)

    edited = await client.patch("/api/v1/products/basic", json=change, headers=admin)
    assert edited.status_code == 200, edited.text
    (call,) = fake.calls("billing", "PATCH")
    assert json_body(call) == change  # only what was given
    archived = await client.delete("/api/v1/products/basic/plans/basic-1m", headers=admin)
    assert archived.status_code == 200
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
        ("/api/v1/webshops/demo", {"currencies": ["EUR", "CHR"]}, "currencies.1"),
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
    fake: FakeServices,
    admin: Headers,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    method = "POST" if path.endswith(("plans", "webshops")) else "PATCH"
    response = await client.request(method, path, json=body, headers=admin)
    errors: list[dict[str, str]] = assert_problem(response, 422)["errors"]  # type: ignore[assignment]
    assert field in [e["field"] for e in errors]
    assert fake.calls("billing") == []


async def test_webshops_are_edited_and_archived_and_one_product_read(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    shop = {
        "id": "demo",
        "name": "Demo",
        "currencies": ["EUR"],
        "product_ids": ["basic"],
        "archived": True,
        "archived_at": "2026-11-28T10:00:00Z",
    }
    fake.answer("billing", "PATCH", "/webshops/demo", 200, {**shop, "archived": False})
    fake.answer("billing", "DELETE", "/webshops/demo", 200, shop)
    fake.answer("billing", "GET", "/products/basic", 200, PRODUCT)

    edited = await client.patch(
        "/api/v1/webshops/demo", json={"product_ids": ["basic"]}, headers=admin
    )
    assert edited.status_code == 200, edited.text
    assert json_body(fake.calls("billing", "PATCH")[0]) == {"product_ids": ["basic"]}
    archived = await client.delete("/api/v1/webshops/demo", headers=admin)
    assert archived.json()["archived_at"] == "2026-11-28T10:00:00Z"
    product = await client.get("/api/v1/products/basic", headers=admin)
    assert product.json()["device_policy"] == "evict_oldest"
    missing = await client.get("/api/v1/products/..%2Fwebshops", headers=admin)
    assert missing.status_code in (404, 422)


@pytest.mark.parametrize("suffix", ["/renew", "/change"])
async def test_only_an_admin_may_sell_a_trial_again(
    client: httpx.AsyncClient,
    fake: FakeServices,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
    suffix: str,
) -> None:
    billing_subscription(fake)
    fake.answer("billing", "POST", BASE + suffix, 200, action_result())
    body = {"product_id": "trial", "plan_id": "trial-7d", "repeat_trial": True}
    operator = await operator_with_role("operator")

    refused = await client.post(API + suffix, json=body, headers=operator)
    problem_body = assert_problem(refused, 403)
    assert problem_body["errors"] == [{"field": "repeat_trial", "message": "admins only"}]
    assert fake.calls("billing", "POST") == []

    allowed = await client.post(API + suffix, json=body, headers=admin)
    assert allowed.status_code == 200, allowed.text
    (call,) = fake.calls("billing", "POST")
    assert json_body(call)["repeat_trial"] is True
