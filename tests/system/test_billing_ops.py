"""What an operator does with a customer's money and webshop, through the gateway on real Kafka
and each database: moving a customer to another webshop reaches billing (the next sale is
checked and priced there; a move the new webshop cannot serve is refused up front), selling to a
customer with nothing to renew, and a ledger whose balance is what the customer owes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.system.conftest import System, Webshop, eventually, order_paid
from tests.system.test_subscriptions import act, customer_where, ok, problem, sell, subscription

Json = dict[str, Any]


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client() as http:
        yield http


async def owed(
    client: httpx.AsyncClient, customer_id: str
) -> tuple[dict[str, Decimal], list[Json]]:
    response = await client.get(f"/api/v1/customers/{customer_id}/transactions")
    assert response.status_code == 200, response.text
    page: Json = response.json()
    balance = {currency: Decimal(amount) for currency, amount in page["balance"].items()}
    return balance, page["items"]


async def subscription_where(
    client: httpx.AsyncClient, customer_id: str, field: str, value: str
) -> Json:
    async def find() -> Json | None:
        current = await subscription(client, customer_id)
        return current if current[field] == value else None

    return await eventually(find, what=f"billing's subscription with {field}={value}")


async def test_a_webshop_move_reaches_billing_and_the_next_renewal_is_priced_there(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client, webshop_id="shop-eu")

    # What the console shows before saving: the consequence of the move.
    preview = await client.get(
        f"/api/v1/customers/{customer_id}/webshop-move", params={"webshop_id": "shop-us"}
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() | {"renewal_price": Decimal(preview.json()["renewal_price"])} == {
        "webshop_id": "shop-us",
        "allowed": True,
        "reason": None,
        "current_webshop_id": "shop-eu",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "renewal_price": Decimal("10.99"),
        "currency": "USD",
    }
    expires_at = (await subscription(client, customer_id))["expires_at"]

    moved = await client.patch(f"/api/v1/customers/{customer_id}", json={"webshop_id": "shop-us"})
    assert moved.status_code == 200, moved.text
    after_move = await subscription_where(client, customer_id, "webshop_id", "shop-us")
    assert after_move["expires_at"] == expires_at  # the paid period runs on as sold

    renewal = ok(
        await act(
            client,
            "POST",
            customer_id,
            "/renew",
            {"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []},
        )
    )
    charge = renewal["transaction"]
    assert (charge["amount"], charge["currency"], charge["webshop_id"]) == (
        "10.99",
        "USD",
        "shop-us",
    )


async def test_a_move_to_a_webshop_not_selling_the_product_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(
        client, webshop_id="shop-eu", product_id="trial", plan_id="trial-7d", status="trial"
    )

    refused = await client.patch(f"/api/v1/customers/{customer_id}", json={"webshop_id": "shop-us"})

    body = problem(refused, 422)
    [error] = body["errors"]
    assert error["field"] == "webshop_id"
    assert "'shop-us' does not sell 'trial'" in error["message"]
    details = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert details["webshop_id"] == "shop-eu"
    assert (await subscription(client, customer_id))["webshop_id"] == "shop-eu"


async def test_after_a_move_a_product_only_the_new_webshop_sells_can_be_changed_to(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client, webshop_id="shop-us")
    trial = {"product_id": "trial", "plan_id": "trial-7d", "starts": "now"}
    refused = problem(await act(client, "POST", customer_id, "/change", trial), 422)
    assert "'shop-us' does not sell 'trial'" in str(refused["errors"])

    moved = await client.patch(f"/api/v1/customers/{customer_id}", json={"webshop_id": "shop-eu"})
    assert moved.status_code == 200, moved.text
    await subscription_where(client, customer_id, "webshop_id", "shop-eu")

    changed = ok(await act(client, "POST", customer_id, "/change", trial))
    assert changed["subscription"]["product_id"] == "trial"
    await customer_where(client, customer_id, lambda c: c["status"] == "trial", "in trial")


async def test_a_buyer_whose_order_was_refused_is_sold_a_subscription_once(
    client: httpx.AsyncClient, webshop: Webshop
) -> None:
    # shop-us does not sell the trial: the buyer becomes a customer, the order is rejected.
    refused_order = order_paid(
        webshop_id="shop-us", product_id="trial", plan_id="trial-7d", amount="0", currency="USD"
    )
    await webshop.send(refused_order, key=refused_order["data"]["buyer"]["external_id"])
    reply = await webshop.reply_for(refused_order["data"]["order_id"])
    assert reply["type"] == "order.rejected.v1"
    email = refused_order["data"]["buyer"]["email"]
    found = (await client.get("/api/v1/customers", params={"q": email})).json()["items"]
    [customer] = found
    customer_id = customer["id"]
    assert (await client.get(f"/api/v1/customers/{customer_id}/subscription")).status_code == 404

    body = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "card"}}
    key = f"sell-{uuid.uuid4()}"
    first = ok(await act(client, "POST", customer_id, "", body, key=key))
    again = ok(await act(client, "POST", customer_id, "", body, key=key))

    assert again == first
    assert first["action"] == "opened"
    assert (first["transaction"]["kind"], first["transaction"]["amount"]) == ("charge", "10.99")
    assert (first["payment"]["kind"], first["payment"]["currency"]) == ("payment", "USD")
    await customer_where(client, customer_id, lambda c: c["status"] == "active", "active")
    balance, entries = await owed(client, customer_id)
    assert balance == {"USD": Decimal(0)}
    assert sorted(e["kind"] for e in entries) == ["charge", "payment"]
    # A second sale over the running subscription is a conflict: renew or change it.
    second = await act(client, "POST", customer_id, "", {**body, "payment": None})
    assert "renew or change" in problem(second, 409)["detail"]


async def test_a_cancelled_customer_is_sold_another_product_from_now(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await sell(client, webshop_id="shop-eu")
    ok(await act(client, "POST", customer_id, "/cancel", {"when": "now"}))
    await customer_where(
        client, customer_id, lambda c: c["subscription"]["status"] != "active", "cancelled"
    )

    premium = {"product_id": "premium", "plan_id": "premium-1m"}
    sold = ok(await act(client, "POST", customer_id, "", premium))

    assert sold["subscription"]["product_id"] == "premium"
    await customer_where(
        client,
        customer_id,
        lambda c: c["status"] == "active" and c["subscription"]["product_id"] == "premium",
        "active on premium",
    )


async def test_the_balance_is_what_the_customer_owes_through_sales_payments_and_refunds(
    system: System, client: httpx.AsyncClient, webshop: Webshop
) -> None:
    # An operator's sale is owed until the operator says it was paid.
    customer_id = await sell(client, webshop_id="shop-eu")
    balance, _ = await owed(client, customer_id)
    assert balance == {"EUR": Decimal("9.99")}
    renewal = {"product_id": "basic", "plan_id": "basic-1m", "payment": {"method": "cash"}}
    ok(await act(client, "POST", customer_id, "/renew", renewal))
    balance, entries = await owed(client, customer_id)
    assert balance == {"EUR": Decimal("9.99")}
    # Newest first, each with what was owed right after it.
    assert [(e["kind"], Decimal(e["balance_after"])) for e in entries] in (
        [
            ("payment", Decimal("9.99")),
            ("charge", Decimal("19.98")),
            ("charge", Decimal("9.99")),
        ],
        [
            ("charge", Decimal("9.99")),
            ("payment", Decimal("0.00")),
            ("charge", Decimal("9.99")),
        ],
    )

    # A webshop sale is a charge and its payment; a refund hands money back and takes the
    # sale back: nothing is owed at any point.
    paid = order_paid(product_id="basic", plan_id="basic-12m", amount="99.00")
    await webshop.send(paid, key=paid["data"]["buyer"]["external_id"])
    buyer = (await webshop.reply_for(paid["data"]["order_id"]))["data"]["customer_id"]
    balance, _ = await owed(client, buyer)
    assert balance == {"EUR": Decimal(0)}
    await webshop.send(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/webshops/shop-eu",
            "type": "order.refunded.v1",
            "time": paid["data"]["paid_at"],
            "data": {
                "order_id": paid["data"]["order_id"],
                "webshop_id": "shop-eu",
                "amount": "99.00",
                "currency": "EUR",
                "refunded_at": paid["data"]["paid_at"],
            },
        },
        key=buyer,
    )

    async def refunded() -> list[Json] | None:
        _, entries = await owed(client, buyer)
        return entries if len(entries) == 4 else None

    await eventually(refunded, what="the refund and the sale taken back")
    balance, _ = await owed(client, buyer)
    assert balance == {"EUR": Decimal(0)}
    invoices = (await client.get(f"/api/v1/customers/{buyer}/invoices")).json()["items"]
    [invoice] = invoices
    assert (Decimal(invoice["total"]), Decimal(invoice["paid"]), Decimal(invoice["due"])) == (
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )


async def test_a_customer_added_with_a_paid_sale_owes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": "shop-us",
            "product_id": "premium",
            "plan_id": "premium-1m",
            "extra_product_ids": [],
            "info": {"first_name": "Paid", "last_name": f"Upfront{uuid.uuid4().hex[:6]}"},
            "credentials": None,
            "payment": {"method": "bank_transfer", "reference": "TR-1042"},
        },
    )
    assert response.status_code == 201, response.text
    customer_id = response.json()["id"]
    await customer_where(client, customer_id, lambda c: c["status"] == "active", "active")

    async def settled() -> tuple[dict[str, Decimal], list[Json]] | None:
        balance, entries = await owed(client, customer_id)
        return (balance, entries) if len(entries) == 2 else None

    balance, entries = await eventually(settled, what="the sale and its payment")
    assert balance == {"USD": Decimal(0)}
    assert sorted((e["kind"], e["amount"], e["reference"]) for e in entries) == [
        ("charge", "21.99", None),
        ("payment", "21.99", "TR-1042"),
    ]
