"""Every subscription action through the gateway on real Kafka and each database, and its
effect in the services that follow billing: the customer's status and subscription summary
(customers), the device limit (activity), the ledger; retries with the same Idempotency-Key;
refusals as problem+json; the scheduler, first-login start, webshop refunds and erasure."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.system.conftest import System, Webshop, eventually, order_paid

Json = dict[str, Any]


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client() as http:
        yield http


async def publish(system: System, topic: str, event_type: str, key: str, data: Json) -> None:
    """A CloudEvent on `topic`, as the TV apps or another service would send it."""
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
    await producer.start()
    try:
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/tests/system",
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "subject": key,
            "data": data,
        }
        await producer.send_and_wait(
            system.topic(topic), json.dumps(envelope).encode(), key=key.encode()
        )
    finally:
        await producer.stop()


async def sell(
    client: httpx.AsyncClient,
    *,
    webshop_id: str = "shop-eu",
    product_id: str = "basic",
    plan_id: str = "basic-1m",
    status: str = "active",
) -> str:
    """A customer added by an operator, once customers shows the subscription's status."""
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": webshop_id,
            "product_id": product_id,
            "plan_id": plan_id,
            "extra_product_ids": [],
            "info": {"first_name": "Sub", "last_name": f"Scriber{uuid.uuid4().hex[:6]}"},
            "credentials": None,
        },
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]
    await customer_where(client, customer_id, lambda c: c["status"] == status, status)
    return customer_id


async def customer_where(
    client: httpx.AsyncClient, customer_id: str, check: Any, what: str
) -> Json:
    async def find() -> Json | None:
        response = await client.get(f"/api/v1/customers/{customer_id}")
        body: Json = response.json()
        return body if response.status_code == 200 and check(body) else None

    return await eventually(find, what=f"customer {what}")


async def subscription(client: httpx.AsyncClient, customer_id: str) -> Json:
    response = await client.get(f"/api/v1/customers/{customer_id}/subscription")
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def ledger(client: httpx.AsyncClient, customer_id: str) -> list[Json]:
    response = await client.get(f"/api/v1/customers/{customer_id}/transactions")
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


async def act(
    client: httpx.AsyncClient,
    method: str,
    customer_id: str,
    suffix: str,
    body: Json | None = None,
    key: str | None = None,
) -> httpx.Response:
    return await client.request(
        method,
        f"/api/v1/customers/{customer_id}/subscription{suffix}",
        json=body,
        headers={"Idempotency-Key": key} if key else None,
    )


def ok(response: httpx.Response) -> Json:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    return body


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def device_limit(client: httpx.AsyncClient, customer_id: str, limit: int) -> None:
    def has_limit(details: Json) -> bool:
        devices = details["sections"]["devices"]
        return bool(devices["status"] == "ok" and devices["data"]["max_devices"] == limit)

    await customer_where(client, customer_id, has_limit, f"with a device limit of {limit}")


async def tick(system: System) -> Json:
    """One pass of billing's expiry scheduler, on the service's internal API."""
    async with system.service_client("billing") as billing:
        response = await billing.post("/scheduler/tick")
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def test_renew_is_idempotent_and_extends_from_the_expiry_everywhere(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client)
    before = at((await subscription(client, customer_id))["expires_at"])
    body = {"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []}

    first = ok(await act(client, "POST", customer_id, "/renew", body, key="renew-1"))
    again = ok(await act(client, "POST", customer_id, "/renew", body, key="renew-1"))
    other = await act(
        client, "POST", customer_id, "/renew", {**body, "plan_id": "basic-12m"}, key="renew-1"
    )

    assert again == first
    assert "Idempotency-Key" in str(problem(other, 422)["errors"])
    expires_at = at(first["subscription"]["expires_at"])
    assert timedelta(days=27) < expires_at - before < timedelta(days=32)
    assert first["transaction"]["kind"] == "charge" and first["transaction"]["amount"] == "9.99"
    entries = await ledger(client, customer_id)
    assert [(e["kind"], e["amount"]) for e in entries] == [("charge", "9.99"), ("charge", "9.99")]
    await customer_where(
        client,
        customer_id,
        lambda c: at(c["subscription"]["expires_at"]) == expires_at,
        "with the renewed expiry",
    )


async def test_change_now_credits_and_moves_status_and_device_limit(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client)
    await device_limit(client, customer_id, 2)
    result = ok(
        await act(
            client,
            "POST",
            customer_id,
            "/change",
            {"product_id": "premium", "plan_id": "premium-1m", "starts": "now"},
        )
    )
    # Nearly a whole unused month of basic (9.99) is credited against premium (19.99).
    amount = Decimal(result["transaction"]["amount"])
    assert result["transaction"]["kind"] == "charge"
    assert Decimal("9.99") <= amount <= Decimal("10.05")
    assert "credit" in result["transaction"]["description"]
    await customer_where(
        client, customer_id, lambda c: c["subscription"]["product_id"] == "premium", "on premium"
    )
    await device_limit(client, customer_id, 5)


async def test_extras_expiry_and_cancel_each_write_one_entry(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client)
    added = ok(
        await act(
            client, "POST", customer_id, "/extras", {"product_id": "hbo", "plan_id": "hbo-1m"}
        )
    )
    assert added["subscription"]["extra_product_ids"] == ["hbo"]
    await customer_where(
        client, customer_id, lambda c: c["subscription"]["extra_product_ids"] == ["hbo"], "with hbo"
    )
    removed = ok(await act(client, "DELETE", customer_id, "/extras/hbo"))
    assert removed["subscription"]["extra_product_ids"] == []
    assert (removed["transaction"]["kind"], removed["transaction"]["amount"]) == (
        "adjustment",
        "0.00",
    )

    # An expiry typed in another zone is kept in UTC, a zero-amount adjustment with the reason.
    extended = ok(
        await act(
            client,
            "PUT",
            customer_id,
            "/expiry",
            {"expires_at": "2031-03-01T00:30:00+02:00", "reason": "service outage"},
        )
    )
    utc = datetime(2031, 2, 28, 22, 30, tzinfo=UTC)
    assert at(extended["subscription"]["expires_at"]) == utc
    await customer_where(
        client, customer_id, lambda c: at(c["subscription"]["expires_at"]) == utc, "extended"
    )

    scheduled = ok(await act(client, "POST", customer_id, "/cancel", {"when": "at_period_end"}))
    assert scheduled["subscription"]["cancel_at_period_end"] is True
    assert scheduled["subscription"]["status"] == "active"
    cancelled = ok(await act(client, "POST", customer_id, "/cancel", {"when": "now"}))
    assert cancelled["subscription"]["status"] == "cancelled"
    again = await act(client, "POST", customer_id, "/cancel", {"when": "now"})
    assert problem(again, 409)["status"] == 409

    kinds = [(e["kind"], e["amount"]) for e in await ledger(client, customer_id)]
    assert sorted(kinds) == sorted(
        [
            ("charge", "9.99"),  # the sale
            ("charge", "4.99"),  # hbo on its own plan
            ("adjustment", "0.00"),  # hbo removed
            ("adjustment", "0.00"),  # expiry set
            ("adjustment", "0.00"),  # cancel at period end
            ("adjustment", "0.00"),  # cancel now
        ]
    )
    invoices = await client.get(f"/api/v1/customers/{customer_id}/invoices")
    assert len(invoices.json()["items"]) == 6


async def test_change_at_expiry_and_expiry_are_applied_by_the_scheduler(
    system: System, client: httpx.AsyncClient
) -> None:
    changing = await sell(client)
    expiring = await sell(client)
    soon = datetime.now(UTC) + timedelta(seconds=3)
    for customer_id in (changing, expiring):
        ok(
            await act(
                client,
                "PUT",
                customer_id,
                "/expiry",
                {"expires_at": soon.isoformat(), "reason": "test"},
            )
        )
    booked = ok(
        await act(
            client,
            "POST",
            changing,
            "/change",
            {"product_id": "premium", "plan_id": "premium-1m", "starts": "at_expiry"},
        )
    )
    assert booked["subscription"]["product_id"] == "basic"
    assert booked["subscription"]["scheduled_change"]["product_id"] == "premium"
    assert booked["transaction"]["amount"] == "19.99"

    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    await tick(system)
    await tick(system)  # a second pass finds nothing left to do

    changed = await subscription(client, changing)
    assert (changed["product_id"], changed["status"]) == ("premium", "active")
    assert timedelta(days=27) < at(changed["expires_at"]) - soon < timedelta(days=32)
    assert (await subscription(client, expiring))["status"] == "expired"
    await customer_where(
        client, changing, lambda c: c["subscription"]["product_id"] == "premium", "changed"
    )
    await device_limit(client, changing, 5)
    assert len(await ledger(client, changing)) == 3  # sale, expiry, booked change: no more


async def test_refusals_are_problems_naming_the_field(client: httpx.AsyncClient) -> None:
    customer_id = await sell(client, webshop_id="shop-us")

    unknown = await act(
        client, "POST", customer_id, "/renew", {"product_id": "basic", "plan_id": "nope"}
    )
    assert problem(unknown, 422)["errors"][0]["field"] == "plan_id"
    not_sold = await act(
        client, "POST", customer_id, "/change", {"product_id": "trial", "plan_id": "trial-7d"}
    )
    refusal = problem(not_sold, 422)
    assert refusal["errors"][0]["field"] == "product_id" and "does not sell" in refusal["detail"]

    suffix = uuid.uuid4().hex[:6]
    product: Json = {
        "id": f"gone-{suffix}",
        "name": "Soon archived",
        "kind": "base",
        "max_devices": 1,
        "plans": [
            {
                "id": f"gone-{suffix}-1m",
                "name": "1 month",
                "length": 1,
                "unit": "months",
                "prices": {"USD": "0"},
            }
        ],
    }
    assert (await client.post("/api/v1/products", json=product)).status_code == 201
    shop = (await client.get("/api/v1/webshops")).json()["items"]
    us = next(w for w in shop if w["id"] == "shop-us")
    patched = await client.patch(
        "/api/v1/webshops/shop-us", json={"product_ids": [*us["product_ids"], product["id"]]}
    )
    assert patched.status_code == 200, patched.text
    gbp_only = {"id": f"basic-gbp-{suffix}", "name": "GBP", "length": 1, "unit": "months"}
    added = await client.post(
        "/api/v1/products/basic/plans", json={**gbp_only, "prices": {"GBP": "5"}}
    )
    assert added.status_code == 201, added.text
    plan_not_sold = await act(
        client, "POST", customer_id, "/renew", {"product_id": "basic", "plan_id": gbp_only["id"]}
    )
    assert problem(plan_not_sold, 422)["errors"][0]["field"] == "plan_id"

    archived = await client.delete(f"/api/v1/products/{product['id']}")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    change = {"product_id": product["id"], "plan_id": f"gone-{suffix}-1m"}
    refused = problem(await act(client, "POST", customer_id, "/change", change), 422)
    assert refused["errors"][0]["field"] == "product_id" and "archived" in refused["detail"]

    negative = {**product, "id": f"neg-{suffix}"}
    negative["plans"] = [{**product["plans"][0], "id": f"neg-{suffix}-1m", "length": -1}]
    body = problem(await client.post("/api/v1/products", json=negative), 422)
    assert "plans.0.length" in [e["field"] for e in body["errors"]]
    assert len(await ledger(client, customer_id)) == 1  # nothing refused reached the ledger


async def test_a_first_login_product_stays_pending_until_a_device_connects(
    system: System, client: httpx.AsyncClient
) -> None:
    suffix = uuid.uuid4().hex[:6]
    product: Json = {
        "id": f"onlogin-{suffix}",
        "name": "Starts on first login",
        "kind": "base",
        "max_devices": 3,
        "starts_on_first_login": True,
        "plans": [
            {
                "id": f"onlogin-{suffix}-1m",
                "name": "1 month",
                "length": 1,
                "unit": "months",
                "prices": {"EUR": "5.00"},
            }
        ],
    }
    assert (await client.post("/api/v1/products", json=product)).status_code == 201
    shops = (await client.get("/api/v1/webshops")).json()["items"]
    eu = next(w for w in shops if w["id"] == "shop-eu")
    await client.patch(
        "/api/v1/webshops/shop-eu", json={"product_ids": [*eu["product_ids"], product["id"]]}
    )
    customer_id = await sell(
        client, product_id=product["id"], plan_id=f"onlogin-{suffix}-1m", status="pending"
    )

    # "pending" is also the status before billing has opened anything: wait for billing.
    async def opened() -> Json | None:
        response = await client.get(f"/api/v1/customers/{customer_id}/subscription")
        body: Json = response.json()
        return body if response.status_code == 200 else None

    pending = await eventually(opened, what="the pending subscription")
    assert (pending["status"], pending["expires_at"]) == ("pending", None)

    await publish(
        system,
        "apps.events",
        "device.connected.v1",
        customer_id,
        {
            "customer_id": customer_id,
            "device_id": "stb-1",
            "kind": "stb",
            "connected_at": datetime.now(UTC).isoformat(),
        },
    )
    details = await customer_where(
        client, customer_id, lambda c: c["status"] == "active", "started on first login"
    )
    expires_at = at(details["subscription"]["expires_at"])
    assert timedelta(days=27) < expires_at - datetime.now(UTC) < timedelta(days=32)


async def test_a_webshop_refund_shortens_then_ends_the_period(
    system: System, client: httpx.AsyncClient, webshop: Webshop
) -> None:
    paid = order_paid(product_id="basic", plan_id="basic-12m", amount="99.00")
    await webshop.send(paid)
    accepted = await webshop.reply_for(paid["data"]["order_id"])
    customer_id = accepted["data"]["customer_id"]
    expires_at = at((await subscription(client, customer_id))["expires_at"])

    def refund(amount: str) -> Json:
        return {
            "order_id": paid["data"]["order_id"],
            "webshop_id": "shop-eu",
            "amount": amount,
            "currency": "EUR",
            "refunded_at": datetime.now(UTC).isoformat(),
            "reason": "not happy",
        }

    await publish(system, "webshop.orders", "order.refunded.v1", "buyer", refund("49.50"))

    async def shortened() -> Json | None:
        current = await subscription(client, customer_id)
        return current if at(current["expires_at"]) < expires_at else None

    half = await eventually(shortened, what="the period shortened by the refund")
    cut = expires_at - at(half["expires_at"])
    assert timedelta(days=182) <= cut <= timedelta(days=183)
    await customer_where(
        client,
        customer_id,
        lambda c: at(c["subscription"]["expires_at"]) == at(half["expires_at"]),
        "with the shortened expiry",
    )
    kinds = [(e["kind"], e["amount"]) for e in await ledger(client, customer_id)]
    assert sorted(kinds) == [
        ("charge", "99.00"),
        ("credit", "49.50"),
        ("payment", "99.00"),
        ("refund", "49.50"),
    ]
    owed = (await client.get(f"/api/v1/customers/{customer_id}/transactions")).json()["balance"]
    assert {currency: Decimal(amount) for currency, amount in owed.items()} == {"EUR": Decimal(0)}


async def test_erasure_keeps_amounts_and_empties_the_customers_billing(
    system: System, client: httpx.AsyncClient
) -> None:
    customer_id = await sell(client)
    erased_now = await client.delete(f"/api/v1/customers/{customer_id}")
    assert erased_now.status_code == 204, erased_now.text

    async def erased() -> bool:
        response = await client.get(f"/api/v1/customers/{customer_id}/subscription")
        return response.status_code == 404

    await eventually(erased, what="billing to erase the customer")
    assert await ledger(client, customer_id) == []
    invoices = await client.get(f"/api/v1/customers/{customer_id}/invoices")
    assert invoices.json()["items"] == []


async def test_a_refund_sent_right_after_its_order_waits_for_it(
    system: System, client: httpx.AsyncClient, webshop: Webshop
) -> None:
    paid = order_paid(product_id="basic", plan_id="basic-1m", amount="9.99")
    buyer = paid["data"]["buyer"]["external_id"]
    await webshop.send(paid, key=buyer)
    await publish(
        system,
        "webshop.orders",
        "order.refunded.v1",
        buyer,
        {
            "order_id": paid["data"]["order_id"],
            "webshop_id": "shop-eu",
            "amount": "9.99",
            "currency": "EUR",
            "refunded_at": datetime.now(UTC).isoformat(),
        },
    )
    accepted = await webshop.reply_for(paid["data"]["order_id"])
    customer_id = accepted["data"]["customer_id"]

    async def refunded() -> list[Json] | None:
        entries = await ledger(client, customer_id)
        return entries if len(entries) == 4 else None

    entries = await eventually(refunded, what="the parked refund to be applied")
    assert sorted((e["kind"], e["amount"]) for e in entries) == [
        ("charge", "9.99"),
        ("credit", "9.99"),
        ("payment", "9.99"),
        ("refund", "9.99"),
    ]
    assert (await subscription(client, customer_id))["status"] == "cancelled"
