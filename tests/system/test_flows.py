"""The foundation's flows end to end: gateway and webshop in, every service following."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.system.conftest import System, Webshop, eventually, order_paid


async def _customer(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/customers/{customer_id}")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def _transactions(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/customers/{customer_id}/transactions")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_customer_added_through_gateway_turns_active_everywhere(system: System) -> None:
    async with system.client() as client:
        response = await client.post(
            "/api/v1/customers",
            json={
                "webshop_id": "shop-eu",
                "product_id": "basic",
                "plan_id": "basic-1m",
                "extra_product_ids": ["hbo"],
                "info": {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": "ada@example.com",
                    "phone": "+3612345678",
                },
                "credentials": None,
            },
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] == "pending"
        assert created["source"] == "manual"
        assert created["login"].isdigit() and created["password"].isdigit()
        customer_id = created["id"]

        async def active() -> dict[str, Any] | None:
            details = await _customer(client, customer_id)
            return details if details["status"] == "active" else None

        details = await eventually(active, what="the customer to turn active")
        assert "password" not in details
        assert details["subscription"]["product_id"] == "basic"
        assert details["subscription"]["extra_product_ids"] == ["hbo"]
        expires_at = datetime.fromisoformat(details["subscription"]["expires_at"])
        assert timedelta(days=27) < expires_at - datetime.now(UTC) < timedelta(days=32)

        transactions = await _transactions(client, customer_id)
        assert [(t["kind"], t["amount"], t["currency"]) for t in transactions] == [
            ("charge", "9.99", "EUR")
        ]

        async def limit_and_welcome() -> dict[str, Any] | None:
            details = await _customer(client, customer_id)
            sections = details["sections"]
            devices, messages = sections["devices"], sections["messages"]
            if devices["status"] != "ok" or messages["status"] != "ok":
                return None
            if devices["data"]["max_devices"] == 2 and messages["data"]["items"]:
                return details
            return None

        details = await eventually(limit_and_welcome, what="device limit and welcome message")
        welcome = details["sections"]["messages"]["data"]["items"][0]
        assert welcome["template"] == "welcome" and "Ada" in welcome["title"]

        listed = await client.get(
            "/api/v1/customers", params={"q": "lovel", "status_group": "active"}
        )
        assert [c["id"] for c in listed.json()["items"]] == [customer_id]
        inactive = await client.get(
            "/api/v1/customers", params={"q": "lovel", "status_group": "inactive"}
        )
        assert inactive.json()["items"] == []


async def test_refused_sale_is_a_problem_naming_the_field(system: System) -> None:
    async with system.client() as client:
        response = await client.post(
            "/api/v1/customers",
            json={
                "webshop_id": "shop-us",
                "product_id": "trial",
                "plan_id": "trial-7d",
                "info": {"first_name": "No", "last_name": "Sale"},
            },
        )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "product_id" in response.text


async def test_webshop_order_creates_customer_subscription_and_one_ledger_entry(
    system: System, webshop: Webshop
) -> None:
    event = order_paid(amount="19.99")
    order_id = event["data"]["order_id"]
    await webshop.send(event, key=event["data"]["buyer"]["external_id"])

    reply = await webshop.reply_for(order_id)
    assert reply["type"] == "order.accepted.v1"
    data = reply["data"]
    assert data["login"].isdigit() and data["password"].isdigit()
    assert datetime.fromisoformat(data["expires_at"]) > datetime.now(UTC) + timedelta(days=27)

    async with system.client() as client:
        details = await _customer(client, data["customer_id"])
        assert details["source"] == "webshop"
        assert details["status"] == "active"
        assert details["subscription"]["product_id"] == "premium"
        transactions = await _transactions(client, data["customer_id"])
    # The sale and its payment: the customer owes nothing for a paid order.
    assert sorted(t["kind"] for t in transactions) == ["charge", "payment"]
    assert {Decimal(t["amount"]) for t in transactions} == {Decimal("19.99")}
    assert {t["order_id"] for t in transactions} == {order_id}
    # Newest first: after both entries nothing is owed.
    assert Decimal(transactions[0]["balance_after"]) == Decimal("0")


async def test_the_same_order_twice_is_recorded_once(system: System, webshop: Webshop) -> None:
    event = order_paid()
    order_id = event["data"]["order_id"]
    await webshop.send(event)
    first = await webshop.reply_for(order_id)
    # The webshop resends the order as a new event (new CloudEvent id), and the very same event.
    again = {**event, "id": str(uuid.uuid4())}
    await webshop.send(again)
    await webshop.send(event)

    async def two_replies() -> list[dict[str, Any]] | None:
        replies = await webshop.replies_for(order_id)
        return replies if len(replies) >= 2 else None

    replies = await eventually(two_replies, what="the repeated order's reply")
    assert replies[1]["data"]["customer_id"] == first["data"]["customer_id"]
    assert replies[1]["data"].get("password") is None  # a password is shown once only
    async with system.client() as client:
        transactions = await _transactions(client, first["data"]["customer_id"])
        # One sale: its charge and its payment, not a second of either.
        assert sorted(t["kind"] for t in transactions) == ["charge", "payment"]
        listed = await client.get(
            "/api/v1/customers", params={"q": event["data"]["buyer"]["email"]}
        )
        assert listed.json()["total"] == 1


async def test_returning_buyer_renews_from_current_expiry(system: System, webshop: Webshop) -> None:
    first = order_paid(product_id="basic", plan_id="basic-1m", amount="9.99")
    await webshop.send(first)
    accepted = await webshop.reply_for(first["data"]["order_id"])
    second = order_paid(
        product_id="basic", plan_id="basic-1m", amount="9.99", buyer=first["data"]["buyer"]
    )
    await webshop.send(second)
    renewed = await webshop.reply_for(second["data"]["order_id"])
    assert renewed["data"]["customer_id"] == accepted["data"]["customer_id"]
    assert renewed["data"].get("password") is None
    gap = datetime.fromisoformat(renewed["data"]["expires_at"]) - datetime.fromisoformat(
        accepted["data"]["expires_at"]
    )
    assert timedelta(days=27) < gap < timedelta(days=32)


async def test_malformed_order_goes_to_dlq_and_next_order_is_processed(
    system: System, webshop: Webshop
) -> None:
    garbage = b'{"specversion": "1.0", "this is": not json'
    invalid = order_paid()
    invalid["data"]["currency"] = "euro"
    good = order_paid()
    await webshop.send(garbage)
    await webshop.send(invalid)
    await webshop.send(good)

    headers = await webshop.dead_letter(garbage)
    assert b"invalid CloudEvent envelope" in headers["x-dlq-reason"]
    assert headers["x-dlq-source-topic"] == system.topic("webshop.orders").encode()
    invalid_headers = await webshop.dead_letter(json.dumps(invalid).encode())
    assert b"currency" in invalid_headers["x-dlq-reason"]
    reply = await webshop.reply_for(good["data"]["order_id"])
    assert reply["type"] == "order.accepted.v1"


async def test_a_burst_of_orders_is_answered_as_one_by_one(
    system: System, webshop: Webshop
) -> None:
    """Sent at once, so the services take them in batches: new buyers, one buyer's three
    orders (renewals, in order), the same event twice, a poison record, an underpaid order."""
    returning = order_paid(product_id="basic", plan_id="basic-1m", amount="9.99")
    buyer = returning["data"]["buyer"]
    renewals = [
        order_paid(product_id="basic", plan_id="basic-1m", amount="9.99", buyer=buyer)
        for _ in range(2)
    ]
    new_buyers = [order_paid() for _ in range(4)]
    underpaid = order_paid(amount="1.99")
    garbage = b'{"specversion": "1.0", "id": "poison"'
    burst: list[tuple[dict[str, Any] | bytes, str]] = [
        (returning, buyer["external_id"]),
        (new_buyers[0], "a"),
        (renewals[0], buyer["external_id"]),
        (garbage, buyer["external_id"]),
        (new_buyers[1], "a"),
        (underpaid, buyer["external_id"]),
        (new_buyers[0], "a"),  # the same event again
        (renewals[1], buyer["external_id"]),
        (new_buyers[2], "b"),
        (new_buyers[3], buyer["external_id"]),
    ]
    sent = [
        await webshop.producer.send(
            system.topic("webshop.orders"),
            value if isinstance(value, bytes) else json.dumps(value).encode(),
            key=key.encode(),
        )
        for value, key in burst
    ]
    await asyncio.gather(*sent)

    first, *renewed = [
        await webshop.reply_for(o["data"]["order_id"]) for o in (returning, *renewals)
    ]
    assert {r["type"] for r in (first, *renewed)} == {"order.accepted.v1"}
    assert {r["data"]["customer_id"] for r in renewed} == {first["data"]["customer_id"]}
    assert first["data"]["password"] and not any(r["data"].get("password") for r in renewed)
    expiries = [datetime.fromisoformat(r["data"]["expires_at"]) for r in (first, *renewed)]
    for earlier, later in itertools.pairwise(expiries):
        assert timedelta(days=27) < later - earlier < timedelta(days=32)
    answered = [await webshop.reply_for(o["data"]["order_id"]) for o in new_buyers]
    assert [r["type"] for r in answered] == ["order.accepted.v1"] * 4
    assert len({r["data"]["customer_id"] for r in answered}) == 4
    assert all(r["data"]["password"] for r in answered)
    refused = await webshop.reply_for(underpaid["data"]["order_id"])
    assert (refused["type"], refused["data"]["code"]) == ("order.rejected.v1", "amount_mismatch")
    headers = await webshop.dead_letter(garbage)
    assert b"invalid CloudEvent envelope" in headers["x-dlq-reason"]
    # The repeated event was answered once; the buyer's orders were recorded once each.
    assert len(await webshop.replies_for(new_buyers[0]["data"]["order_id"])) == 1
    async with system.client() as client:
        transactions = await _transactions(client, first["data"]["customer_id"])
    assert sorted(t["order_id"] for t in transactions if t["kind"] == "charge") == sorted(
        o["data"]["order_id"] for o in (returning, *renewals)
    )


async def test_order_for_unknown_plan_is_rejected_with_reason(
    system: System, webshop: Webshop
) -> None:
    event = order_paid(plan_id="no-such-plan")
    await webshop.send(event)
    reply = await webshop.reply_for(event["data"]["order_id"])
    assert reply["type"] == "order.rejected.v1"
    assert "no-such-plan" in reply["data"]["reason"]


async def test_orders_off_the_catalog_are_rejected_and_leave_no_subscription_or_ledger(
    system: System, webshop: Webshop
) -> None:
    """Premium for a month costs 19.99 EUR at shop-eu, which takes only EUR."""
    negative = order_paid(amount="-19.99")
    underpaid = order_paid(amount="0.01")
    wrong_currency = order_paid(amount="21.99", currency="USD")
    good = order_paid(amount="19.99")
    for event in (negative, underpaid, wrong_currency, good):
        await webshop.send(event, key=event["data"]["buyer"]["external_id"])

    expected = {
        "invalid_order": (negative, "amount"),
        "amount_mismatch": (underpaid, "charges 19.99 EUR"),
        "currency_not_accepted": (wrong_currency, "does not take USD"),
    }
    for code, (event, says) in expected.items():
        reply = await webshop.reply_for(event["data"]["order_id"])
        assert (reply["type"], reply["data"]["code"]) == ("order.rejected.v1", code)
        assert says in reply["data"]["reason"]
    headers = await webshop.dead_letter(json.dumps(negative).encode())
    assert b"amount" in headers["x-dlq-reason"]
    accepted = await webshop.reply_for(good["data"]["order_id"])
    assert accepted["type"] == "order.accepted.v1"

    async with system.client() as client:
        for event in (negative, underpaid, wrong_currency):
            email = event["data"]["buyer"]["email"]
            found = (await client.get("/api/v1/customers", params={"q": email})).json()["items"]
            # The refused buyer may exist (customers takes them in before billing's verdict)
            # but owns nothing: no subscription, no ledger entry, nothing active.
            assert len(found) <= (0 if event is negative else 1)
            for customer in found:
                assert customer["status"] == "pending"
                subscription = await client.get(f"/api/v1/customers/{customer['id']}/subscription")
                assert subscription.status_code == 404
                assert await _transactions(client, customer["id"]) == []
        transactions = await _transactions(client, accepted["data"]["customer_id"])
    assert sorted((t["kind"], Decimal(t["amount"])) for t in transactions) == [
        ("charge", Decimal("19.99")),
        ("payment", Decimal("19.99")),
    ]


async def test_service_killed_between_orders_loses_nothing(
    system: System, webshop: Webshop
) -> None:
    before = order_paid()
    await webshop.send(before)
    await webshop.reply_for(before["data"]["order_id"])

    for name in ("billing", "customers"):
        system.processes[name].kill()
        during = [order_paid() for _ in range(5)]
        for event in during:
            await webshop.send(event)
        await asyncio.sleep(0.5)
        process = system.processes[name]
        await asyncio.to_thread(process.start)
        await asyncio.to_thread(process.wait_ready, 90.0)
        replies = [await webshop.reply_for(e["data"]["order_id"], timeout=60) for e in during]
        assert {r["type"] for r in replies} == {"order.accepted.v1"}
        async with system.client() as client:
            for reply in replies:
                transactions = await _transactions(client, reply["data"]["customer_id"])
                assert sorted(t["kind"] for t in transactions) == ["charge", "payment"], (
                    transactions
                )
