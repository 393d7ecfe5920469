"""The console's money and webshop views in a real browser against the whole system: Customer
Info shows what a webshop move does before saving, the Subscription tab sells where there is
nothing to renew, and Transactions shows what is owed after each entry."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from tests.system.browser import (
    active_customer,
    api,
    loaded_tab,
    open_tab,
    password_of,
    shot,
    sign_in,
    unique,
)
from tests.system.conftest import System, eventually, order_paid


async def test_customer_info_shows_a_webshop_moves_consequence_before_saving(
    system: System,
    operators: None,
    page: Page,
) -> None:
    customer = await active_customer(system, unique("Noether"))
    path = f"/customers/{customer['id']}"
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#{path}/info")
    panel = await loaded_tab(page, "info")

    await panel.locator("select[name=webshop_id]").select_option("shop-us")
    note = panel.get_by_test_id("webshop-move")
    await expect(note).to_contain_text("from the next renewal or change")
    await expect(note).to_contain_text("10.99 USD")
    await shot(page, system, "webshop-move")
    await panel.get_by_role("button", name="Save").click()
    await expect(page.locator("#flash")).to_contain_text("Saved")

    async def moved() -> dict[str, Any] | None:
        sub: dict[str, Any] = await api(system, "GET", f"{path}/subscription")
        return sub if sub["webshop_id"] == "shop-us" else None

    await eventually(moved, what="billing to follow the move")


async def test_a_move_the_new_webshop_cannot_serve_is_refused_before_saving(
    system: System,
    operators: None,
    page: Page,
) -> None:
    created = await api(
        system,
        "POST",
        "/customers",
        {
            "webshop_id": "shop-eu",
            "product_id": "trial",
            "plan_id": "trial-7d",
            "info": {"first_name": "Emmy", "last_name": unique("Trial")},
        },
    )
    path = f"/customers/{created['id']}"

    async def in_trial() -> bool:
        return bool((await api(system, "GET", path))["status"] == "trial")

    await eventually(in_trial, what="the trial to start")
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#{path}/info")
    panel = await loaded_tab(page, "info")

    await panel.locator("select[name=webshop_id]").select_option("shop-us")
    await expect(panel.get_by_test_id("webshop-move")).to_contain_text("does not sell 'trial'")
    await expect(panel.get_by_role("button", name="Save")).to_be_disabled()


async def test_the_operator_sells_where_there_is_nothing_to_renew_and_sees_it_settled(
    system: System,
    operators: None,
    page: Page,
) -> None:
    # A webshop buyer whose order was refused (shop-us does not sell the trial): a customer
    # without a subscription.
    refused = order_paid(
        webshop_id="shop-us", product_id="trial", plan_id="trial-7d", amount="0", currency="USD"
    )
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topic("webshop.orders"), json.dumps(refused).encode(), key=b"buyer"
        )
    finally:
        await producer.stop()
    email = refused["data"]["buyer"]["email"]

    async def created() -> str | None:
        found = await api(system, "GET", f"/customers?q={email}")
        return found["items"][0]["id"] if found["items"] else None

    customer_id = await eventually(created, what="the buyer to become a customer")
    path = f"/customers/{customer_id}"
    await sign_in(page, "operator", password_of("operator"))
    await page.goto(f"/#{path}/subscription")
    panel = await loaded_tab(page, "subscription")
    await expect(panel).to_contain_text("No subscription yet.")
    await expect(panel.get_by_role("button", name="Renew")).to_have_count(0)

    await panel.get_by_role("button", name="Sell subscription").click()
    dialog = page.get_by_role("dialog", name=re.compile("^Sell a subscription to "))
    await dialog.locator("select[name=product_id]").select_option("basic")
    await dialog.locator("select[name=plan_id]").select_option("basic-1m")
    await dialog.locator("select[name=payment_method]").select_option("cash")
    await dialog.locator("input[name=payment_reference]").fill("receipt 7")
    await shot(page, system, "sell")
    await dialog.get_by_role("button", name="Sell").click()
    await expect(page.locator("#flash")).to_contain_text("Sold")

    ledger = await open_tab(page, "Transactions")
    await expect(ledger.get_by_test_id("balance")).to_contain_text("USD")
    await expect(ledger.get_by_role("columnheader", name="Owed after")).to_be_visible()
    await expect(ledger.get_by_role("row").filter(has_text="paid by cash")).to_have_count(1)
    await shot(page, system, "transactions")
    page_of: dict[str, Any] = await api(system, "GET", f"{path}/transactions")
    assert {k: Decimal(v) for k, v in page_of["balance"].items()} == {"USD": Decimal(0)}
